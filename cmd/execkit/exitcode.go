package main

import (
	"errors"
	"fmt"
	"io"
)

// Exit codes of the execkit binary. This file is the one place where errors
// become exit codes; docs/cli.md documents the same table for scripts.
//
// `execkit exec` and `execkit shell` pass the command's own exit status
// through (0-123, and 128+n when the command was killed by signal n), so
// execkit's own codes sit where shells and timeout(1) put theirs.
const (
	ExitOK      = 0
	ExitFailure = 1   // a command other than exec/shell failed
	ExitUsage   = 64  // bad flags or arguments (sysexits EX_USAGE)
	ExitTimeout = 124 // the command was interrupted at its timeout
	ExitBlocked = 126 // the policy refused the command; it did not run
	ExitExecKit = 125 // execkit itself could not run the command
)

// usageError marks a mistake in how execkit was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// execError marks a failure of execkit itself while running a command:
// the shell could not start, the transport broke.
type execError struct{ err error }

func (e execError) Error() string { return e.err.Error() }
func (e execError) Unwrap() error { return e.err }

// exitStatus is a command's status to pass through, with no message.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCode maps err to the process exit code and prints its message.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var st exitStatus
	if errors.As(err, &st) {
		return st.code
	}
	var re replayExit
	if errors.As(err, &re) {
		if re.err != nil {
			fmt.Fprintln(stderr, "execkit:", re.err)
		}
		return re.code
	}
	fmt.Fprintln(stderr, "execkit:", err)
	var u usageError
	var x execError
	switch {
	case errors.As(err, &u):
		return ExitUsage
	case errors.As(err, &x):
		return ExitExecKit
	}
	return ExitFailure
}
