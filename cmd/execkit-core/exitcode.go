package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/undo"
)

// Exit codes of the execkit binary. This file is the one place where errors
// become exit codes; docs/cli.md documents the same table for scripts.
//
// `execkit exec` and `execkit shell` pass the command's own exit status
// through (0-123, and 128+n when the command was killed by signal n), so
// execkit's own codes sit where shells and timeout(1) put theirs.
const (
	ExitOK      = 0
	ExitFailure = 1   // a command that runs nothing (log, verify …) failed
	ExitUsage   = 64  // bad flags or arguments (sysexits EX_USAGE)
	ExitTimeout = 124 // the command was interrupted at its timeout
	ExitExecKit = 125 // execkit itself could not run the command
	ExitBlocked = 126 // the policy (or a failed checkpoint) refused the command; it did not run
)

// runners are the commands that run commands on a target: any error of
// theirs that is not a usage error is execkit failing to run the command
// (a journal that cannot be opened, a host that cannot be reached).
var runners = map[string]bool{"exec": true, "shell": true, "record": true, "mcp": true, "undo": true}

// usageError marks a mistake in how execkit was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// exitStatus is a command's status to pass through, with no message.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageSentinels are the library errors that mean the call was wrong.
var usageSentinels = []error{target.ErrSpec, session.ErrInvalidCommand, session.ErrInvalidOptions, undo.ErrWorkspace}

// exitCode maps the error of command cmd to the process exit code and
// prints its message.
func exitCode(cmd string, err error, stderr io.Writer) int {
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
	if errors.As(err, &u) {
		return ExitUsage
	}
	for _, s := range usageSentinels {
		if errors.Is(err, s) {
			return ExitUsage
		}
	}
	if errors.Is(err, session.ErrCheckpoint) {
		return ExitBlocked // refused, and journaled as such
	}
	if runners[cmd] {
		return ExitExecKit
	}
	return ExitFailure
}
