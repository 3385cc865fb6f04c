package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/execkit/execkit/transport"
)

// Jobs gives a remote shell process its MarkJobs and SignalJobs, through
// the helper loop; a transport's process type embeds it.
type Jobs struct {
	Helper *Helper
	PID    int // the shell's pid on the target
}

// MarkJobs implements transport.Process. It reads only this machine's
// clock: the shell reports the exact mark itself, at the start of each
// command (FrameMarks), so no round trip precedes a command. (Reading the
// newest process id through the helper without waiting for it raced under
// load: the target could start the command before the helper read the id,
// and the command's processes then looked older than the mark. The shell
// reads it before it runs the command, so they cannot.)
func (j *Jobs) MarkJobs() transport.JobMark {
	return transport.JobMark{Time: time.Now()}
}

// FrameMarks implements transport.FrameMarker.
func (j *Jobs) FrameMarks() bool { return true }

// SignalJobs implements transport.Process.
func (j *Jobs) SignalJobs(ctx context.Context, sig transport.Signal, since transport.JobMark) (int, error) {
	return j.Helper.SignalJobs(ctx, j.PID, sig, since)
}

// SignalShell implements transport.Process.
func (j *Jobs) SignalShell(ctx context.Context, sig transport.Signal) error {
	if !knownSignal(sig) {
		return fmt.Errorf("remote: unknown signal %q", sig)
	}
	_, err := j.Helper.Kill(ctx, sig, []int{j.PID})
	return err
}

// KillAll kills the shell's whole tree through the helper and waits (at
// most 5 s) for done, the shell's end. A helper already gone is no error:
// the target went with it.
func (j *Jobs) KillAll(done <-chan struct{}, what string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := j.Helper.KillTree(ctx, j.PID)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		if err == nil {
			err = fmt.Errorf("%s: shell did not exit after SIGKILL", what)
		}
	}
	if errors.Is(err, ErrBroken) {
		return nil
	}
	return err
}

// Exit is the ending of a remote process: Done, ExitCode and a Close that
// runs once. A transport's process type embeds it.
type Exit struct {
	mu     sync.Mutex
	done   chan struct{}
	code   int
	closed bool
}

// NewExit returns an Exit for a process still running.
func NewExit() Exit { return Exit{done: make(chan struct{}), code: -1} }

// Finish records the exit code and closes Done.
func (e *Exit) Finish(code int) {
	e.mu.Lock()
	e.code = code
	e.mu.Unlock()
	close(e.done)
}

// Done implements transport.Process.
func (e *Exit) Done() <-chan struct{} { return e.done }

// ExitCode implements transport.Process.
func (e *Exit) ExitCode() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.code
}

// FirstClose reports whether this is the first call: Close does its work
// only then.
func (e *Exit) FirstClose() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	first := !e.closed
	e.closed = true
	return first
}

// OnceCloser makes a writer's Close safe to call more than once and from
// several goroutines (x/crypto's channel stdin is neither).
type OnceCloser struct {
	io.WriteCloser
	once sync.Once
	err  error
}

// Close closes the writer the first time.
func (c *OnceCloser) Close() error {
	c.once.Do(func() { c.err = c.WriteCloser.Close() })
	return c.err
}
