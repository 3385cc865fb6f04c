//go:build !windows

package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/execkit/execkit/internal/execfence"
	"github.com/execkit/execkit/transport"
)

// With StartOptions.ExecCheck the reaper (reaper.go) puts the exec fence
// (package execfence) on itself before it starts the shell, so that every
// program start below it is held, and sends the fence's listener back on
// its report channel, a Unix socket; the transport serves it until the
// shell's tree has ended or the process is closed.

// fenceEnv, set in the reaper's environment, asks it for the fence.
const fenceEnv = "EXECKIT_LOCAL_FENCE"

// fenceBuilt says whether this build has the fence.
const fenceBuilt = execfence.Built

// noFenceReason says why a start cannot be fenced.
func noFenceReason(self string) string {
	if !fenceBuilt {
		return "the exec fence needs Linux on amd64 or arm64"
	}
	if self == "" {
		return "the exec fence needs the reaper (EXECKIT_NO_REAPER is set, or /proc/self/exe is missing)"
	}
	return "unknown"
}

// reportChannel is the reaper's report channel: a Unix socket pair, which
// can carry the fence's listener.
func reportChannel() (mine, theirs *os.File, err error) {
	// Under ForkLock, as the standard library makes descriptors, so that
	// no program started meanwhile inherits these.
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "report"), os.NewFile(uintptr(fds[1]), "report"), nil
}

// serveFence takes the listener the reaper sends and serves it with check.
// A reaper that could not put the fence on reports why instead.
func (p *process) serveFence(report *os.File, check func(*transport.ExecStart) error) error {
	l, first, err := execfence.Receive(report)
	if err != nil {
		return err
	}
	if l == nil {
		rest := io.MultiReader(bytes.NewReader([]byte{first}), report)
		if first == 'U' { // the system cannot hold program starts
			line, _ := bufio.NewReader(rest).ReadString('\n')
			return fmt.Errorf("%w: %s", transport.ErrNoExecFence, strings.TrimSpace(line[1:]))
		}
		_, err := readReport(rest)
		if err == nil {
			err = errors.New("the reaper started the shell without the exec fence")
		}
		return err
	}
	p.fence, p.fenceStop, p.fenceDone = l, make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.fenceDone)
		_ = execfence.Serve(l, check, p.fenceStop)
	}()
	return nil
}

// stopFence stops the fence's server and closes its listener.
func (p *process) stopFence() {
	if p.fence == nil {
		return
	}
	close(p.fenceStop)
	select {
	case <-p.fenceDone:
		p.fence.Close()
	case <-time.After(5 * time.Second):
	}
}

// installFence, in the reaper, puts the fence on and sends its listener;
// where the system cannot hold program starts it reports why ("U…") and
// returns false.
func installFence(report *os.File) (bool, error) {
	l, err := execfence.Install()
	if errors.Is(err, execfence.ErrUnsupported) {
		fmt.Fprintf(report, "U%s\n", err)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer l.Close()
	return true, execfence.Send(report, l)
}
