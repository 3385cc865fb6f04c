// Package transport moves bytes between execkit and a shell process running on
// some target: the local machine, an SSH host or a Docker container.
//
// A Transport only starts processes and hands back their streams; it knows
// nothing of commands, markers, working directories or timeouts. Those belong
// to package session, as redirects belong to http.Client and not to the
// RoundTripper.
//
// Every implementation runs the conformance suite in package transporttest.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/execkit/execkit/internal/shquote"
)

// Transport starts shell processes on one target.
type Transport interface {
	// Start runs opts.Argv on the target and returns the running process.
	//
	// The started program sees:
	//   - file descriptor 3: the bytes written to Process.Input (the command
	//     channel), separate from stdin so that a command reading stdin can
	//     never consume the next command;
	//   - stdin: empty (/dev/null), or the terminal when opts.TTY is set;
	//   - stdout: Process.Stdout (the terminal when opts.TTY is set);
	//   - stderr: Process.Stderr, always a separate stream.
	//
	// The process has no controlling terminal unless opts.TTY is set, so a
	// program that opens /dev/tty fails at once instead of prompting.
	//
	// Start returns an error, never a half-started Process, when the program
	// cannot be started. Cancelling ctx aborts a start in progress; it has no
	// effect on a process once Start has returned.
	Start(ctx context.Context, opts StartOptions) (Process, error)
}

// StartOptions says what to run and how. The zero value is not runnable: Argv
// must name a program.
type StartOptions struct {
	// Argv is the program and its arguments. Argv[0] is looked up in the
	// target's PATH.
	Argv []string
	// Env is the complete environment, as "NAME=value" strings. Nil means
	// the transport's default: the current environment for a local process,
	// the server's for a remote one.
	Env []string
	// Dir is the initial working directory; empty means the target's default.
	Dir string
	// TTY gives the program a pseudo-terminal as stdin and stdout.
	TTY bool
	// Rows and Cols size the terminal when TTY is set; zero means 40x120.
	Rows, Cols uint16
	// ExecCheck, when set, is asked before the program, and every process
	// below it at any depth, starts another program (each execve): nil
	// lets the start go on, an error fails it with EACCES ("Permission
	// denied") in the caller. It is called from one goroutine at a time
	// and must return quickly: the caller waits. A transport that cannot
	// hold program starts returns an error wrapping ErrNoExecFence.
	ExecCheck func(*ExecStart) error
}

// ExecStart is one program start held for StartOptions.ExecCheck.
type ExecStart struct {
	// PID is the process starting the program, as the target numbers it.
	PID int
	// Path is the program as the caller named it, made absolute against
	// its working directory (or the directory descriptor of execveat).
	Path string
	// Resolved is Path with symbolic links followed, or Path when they
	// cannot be.
	Resolved string
	// Argv is the argument vector; Truncated says it was cut at the
	// transport's size limit.
	Argv      []string
	Truncated bool
	// Cwd is the caller's working directory when it named the program by
	// a relative path, else empty (it is not read then).
	Cwd string
	// File is what to open to reach the program's file as the kernel is
	// about to: the resolved path, or the caller's descriptor (under /proc)
	// for a start through a descriptor (fexecve).
	File string
}

// Line is the argument vector as one line, each argument quoted for a
// POSIX shell where it needs to be.
func (e *ExecStart) Line() string { return shquote.Join(e.Argv) }

// ShellQuote quotes s for a POSIX shell when it holds anything but plain
// word characters.
func ShellQuote(s string) string { return shquote.Quote(s) }

// ShellJoin joins words into one POSIX shell command line, quoting those
// that need it.
func ShellJoin(words []string) string { return shquote.Join(words) }

// JobMark is a moment in the target's process history, taken by
// Process.MarkJobs.
type JobMark struct {
	// Time is when the mark was taken, on this machine's clock.
	Time time.Time
	// LastPID is the newest process id on the target at that moment, or 0
	// when the target cannot tell; process ids grow until they wrap.
	LastPID int
	// Ticks is the target's time since boot at that moment, in the clock
	// ticks /proc reports process start times in, or 0 when the target
	// cannot tell it cheaply. With it a process's start is compared with
	// the mark exactly, instead of through Time and this machine's clock
	// (which a busy scheduler can put off by more than a tick).
	Ticks uint64
}

// IsZero reports whether m is the zero JobMark.
func (m JobMark) IsZero() bool { return m.Time.IsZero() }

// Signal names a signal portably ("INT", "TERM", "KILL", "HUP").
type Signal string

// Signals understood by every transport.
const (
	SIGINT  Signal = "INT"
	SIGTERM Signal = "TERM"
	SIGKILL Signal = "KILL"
	SIGHUP  Signal = "HUP"
	// SIGUSR2 is what a session sends its shell to abandon a command line;
	// the frame traps it (scripts trap and ignore INT; hardly any touch it).
	SIGUSR2 Signal = "USR2"
)

// FrameMarker is implemented by processes whose MarkJobs only reads this
// machine's clock (asking the target would cost a round trip per command):
// the session then has the shell itself report the mark when each command
// starts — the newest process id and the time since boot, from /proc — and
// uses it for SignalJobs.
type FrameMarker interface {
	FrameMarks() bool
}

// MarkScript is the POSIX sh that prints what a frame mark holds: the
// target's time since boot (seconds, from /proc/uptime) and its newest
// process id (from /proc/loadavg), separated by a space.
const MarkScript = `read -r u _ </proc/uptime && read -r _ _ _ _ p </proc/loadavg && echo "$u $p"`

// ParseMark reads "<uptime seconds> <newest pid>", as MarkScript and the
// session's frame print them, into a JobMark taken at t. The uptime may be
// left out (" <pid>"): the mark is then placed in time by t.
func ParseMark(s string, t time.Time) (JobMark, bool) {
	up, pid, _ := strings.Cut(strings.TrimLeft(strings.TrimRight(s, " \n"), "\n"), " ")
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return JobMark{}, false
	}
	m := JobMark{Time: t, LastPID: n}
	if up != "" {
		secs, err := strconv.ParseFloat(up, 64)
		if err != nil || secs <= 0 {
			return JobMark{}, false
		}
		m.Ticks = uint64(secs * 100)
	}
	return m, true
}

// Process is a running shell process. Its methods are safe for concurrent use.
type Process interface {
	// Input is the command channel (file descriptor 3 of the program).
	// Closing it gives the program end-of-file there.
	Input() io.WriteCloser
	// Stdout and Stderr are the program's output streams. Each must be read
	// continuously by the caller: a stream that is not drained eventually
	// blocks the program. They report io.EOF once every writer is gone,
	// which may be later than the program's exit when it left children
	// behind.
	Stdout() io.Reader
	Stderr() io.Reader
	// MarkJobs records which processes exist now on the target, cheaply,
	// so that a later SignalJobs can tell the processes a command started
	// from older ones (a server an earlier command left in the background).
	MarkJobs() JobMark
	// SignalJobs sends sig to the processes the shell started, directly or
	// not, that were started after since was taken; never to the shell
	// itself. This is the side channel that interrupts a command without
	// touching the shell's state. The zero JobMark means every descendant.
	// It returns how many processes were signalled.
	SignalJobs(ctx context.Context, sig Signal, since JobMark) (int, error)
	// SignalShell sends sig to the shell process itself. A session uses it
	// to stop the rest of a command line at its timeout: the frame traps
	// the interrupt and abandons the line, where signalling only the jobs
	// would let the shell go on to the next command.
	SignalShell(ctx context.Context, sig Signal) error
	// Done is closed when the program has exited.
	Done() <-chan struct{}
	// ExitCode reports how the program ended, once Done is closed: its exit
	// status, or 128+n when it was killed by signal n. Before that it
	// returns -1.
	ExitCode() int
	// Close kills the program and every process it started, waits for them
	// and releases the streams. It is idempotent. After Close no process the
	// shell started is left running on the target.
	Close() error
}

// Errors shared by transports. Implementations wrap them with detail, so
// callers test with errors.Is.
var (
	// ErrNoExecFence means the transport cannot hold program starts for
	// StartOptions.ExecCheck here.
	ErrNoExecFence = errors.New("transport: program starts cannot be checked on this target")
	// ErrNoShell means the program could not be found on the target.
	ErrNoShell = errors.New("transport: program not found on target")
	// ErrUnavailable means the target itself cannot be reached.
	ErrUnavailable = errors.New("transport: target unavailable")
	// ErrClosed means the process was already closed.
	ErrClosed = errors.New("transport: process closed")
)

// Describer is implemented by transports that name themselves for
// journals and messages: kind is "local", "ssh" or "docker", target the
// host or container as reached ("deploy@build:22").
type Describer interface {
	Describe() (kind, target string)
}

// Describe names tr through Describer, or by its Go type.
func Describe(tr Transport) (kind, target string) {
	if d, ok := tr.(Describer); ok {
		return d.Describe()
	}
	return fmt.Sprintf("%T", tr), ""
}
