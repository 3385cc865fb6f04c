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

	"github.com/execkit/execkit/transport"
)

// Attempt is one program start held by the fence.
type Attempt = transport.ExecStart

// ErrUnsupported is returned where this system cannot hold program starts.
var ErrUnsupported = errors.New("execfence: program starts cannot be held on this system")

// Denied is what a check returns to refuse a start; Serve fails the
// caller's execve with EACCES.
type Denied struct {
	Rule, Reason string
}

func (d *Denied) Error() string { return fmt.Sprintf("denied (%s): %s", d.Rule, d.Reason) }
