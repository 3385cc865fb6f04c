// Package execfence stops programs from starting: every execve and
// execveat of a process tree is held by the kernel until a supervisor has
// looked at the program and its arguments and said whether it may run.
//
// On Linux it is built on seccomp user notification
// (SECCOMP_RET_USER_NOTIF, Linux 5.5 or later): Install, called in the
// process that is about to start the guarded program, puts a filter on it
// that traps only the two exec system calls and returns the listener; the
// filter is inherited by every process started below, and cannot be
// removed. Serve, in the supervisor, reads each held call's arguments from
// the caller's memory, asks a check function, and lets the call go on or
// fails it with EACCES.
//
// What it cannot see is said in docs/security-model.md: a program already
// running, an interpreter's own file operations, and the races every
// user-notification supervisor has (another thread of the caller may
// rewrite the arguments, or another process replace the file, between the
// check and the kernel's own reading of them).
package execfence

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Attempt is one program start held by the fence.
type Attempt struct {
	// PID is the process that called execve, as the supervisor sees it.
	PID int
	// Path is the program as the caller named it, made absolute against
	// its working directory (or the directory descriptor of execveat).
	Path string
	// Resolved is Path with symbolic links followed, or Path when they
	// cannot be.
	Resolved string
	// Argv is the argument vector; Truncated says it was cut at the
	// fence's size limit.
	Argv      []string
	Truncated bool
	// Cwd is the caller's working directory.
	Cwd string

	file string // what to open to reach the program's file
}

// Open opens the program's file as the kernel is about to find it: by its
// resolved path, or through the caller's descriptor for fexecve.
func (a *Attempt) Open() (*os.File, error) { return os.Open(a.file) }

// Line is the argument vector as one line, each argument quoted for a
// POSIX shell where it needs to be, for people and for deny patterns.
func (a *Attempt) Line() string {
	parts := make([]string, len(a.Argv))
	for i, s := range a.Argv {
		parts[i] = Quote(s)
	}
	return strings.Join(parts, " ")
}

// Quote quotes s for a POSIX shell when it holds anything but plain word
// characters.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ErrUnsupported is returned where this system cannot hold program starts.
var ErrUnsupported = errors.New("execfence: program starts cannot be held on this system")

// Denied is what a check returns to refuse a start; Serve fails the
// caller's execve with EACCES.
type Denied struct {
	Rule, Reason string
}

func (d *Denied) Error() string { return fmt.Sprintf("denied (%s): %s", d.Rule, d.Reason) }
