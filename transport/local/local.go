//go:build !windows

// Package local is the transport for shells on this machine: a child process
// with pipes, or with a pseudo-terminal (github.com/creack/pty) for programs
// that need one.
//
// The shell runs in a session of its own (setsid), so it has no controlling
// terminal unless TTY is asked for, and everything it starts can be found
// again through the process table for SignalJobs and Close.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/execkit/execkit/transport"
)

// Start implements transport.Transport.
func (t *Transport) Start(ctx context.Context, opts transport.StartOptions) (transport.Process, error) {
	if len(opts.Argv) == 0 {
		return nil, errors.New("local: no program to start")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := exec.LookPath(opts.Argv[0])
	if err != nil {
		return nil, fmt.Errorf("local: %q: %w", opts.Argv[0], transport.ErrNoShell)
	}
	p := &process{done: make(chan struct{}), exitCode: -1}
	var closers []io.Closer // parent-side ends, closed when Start fails
	fail := func(err error) (transport.Process, error) {
		for _, c := range closers {
			c.Close()
		}
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("local: pipe: %w", err))
	}
	closers = append(closers, inR, inW)
	errR, errW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("local: pipe: %w", err))
	}
	closers = append(closers, errR, errW)
	enlargePipe(errR)

	cmd := exec.Command(path, opts.Argv[1:]...)
	cmd.Args[0] = opts.Argv[0]
	cmd.Env = opts.Env
	var reportR *os.File
	self := reaperSelf()
	if opts.ExecCheck != nil && (self == "" || !fenceBuilt) {
		return fail(fmt.Errorf("local: %w: %s", transport.ErrNoExecFence, noFenceReason(self)))
	}
	if self != "" {
		// The shell runs under a reaper (reaper.go), which reports its pid.
		cmd = exec.Command(self, append([]string{reaperArg, path}, opts.Argv...)...)
		cmd.Args[0] = "execkit-reaper"
		env := opts.Env
		if env == nil {
			env = os.Environ()
		}
		cmd.Env = append(append([]string(nil), env...), reaperEnv+"="+reaperArg)
		if opts.ExecCheck != nil {
			cmd.Env = append(cmd.Env, fenceEnv+"=1")
		}
		var reportW *os.File
		reportR, reportW, err = reportChannel()
		if err != nil {
			return fail(fmt.Errorf("local: %w", err))
		}
		closers = append(closers, reportR, reportW)
		cmd.ExtraFiles = []*os.File{inR, reportW}
	} else {
		cmd.ExtraFiles = []*os.File{inR}
	}
	cmd.Dir = opts.Dir
	cmd.Stderr = errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var childEnds []*os.File
	if opts.TTY {
		ptmx, tty, err := pty.Open()
		if err != nil {
			return fail(fmt.Errorf("local: pty: %w", err))
		}
		closers = append(closers, ptmx, tty)
		rows, cols := opts.Rows, opts.Cols
		if rows == 0 || cols == 0 {
			rows, cols = 40, 120
		}
		_ = pty.Setsize(ptmx, &pty.Winsize{Rows: rows, Cols: cols})
		configureTerminal(tty)
		cmd.Stdin, cmd.Stdout = tty, tty
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
		p.stdout = ptyReader{ptmx}
		p.tty = ptmx
		childEnds = []*os.File{inR, errW, tty}
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("local: pipe: %w", err))
		}
		closers = append(closers, outR, outW)
		enlargePipe(outR)
		cmd.Stdout = outW
		p.stdout = outR
		p.outR = outR
		childEnds = []*os.File{inR, errW, outW}
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
			return fail(fmt.Errorf("local: start %q: %w: %w", opts.Argv[0], transport.ErrNoShell, err))
		}
		return fail(fmt.Errorf("local: start %q: %w", opts.Argv[0], err))
	}
	// The child holds its own copies; ours would keep the streams open.
	for _, f := range childEnds {
		f.Close()
	}
	p.cmd = cmd
	p.root, p.shell = cmd.Process.Pid, cmd.Process.Pid
	if reportR != nil {
		cmd.ExtraFiles[1].Close() // so that a reaper that fails is read as EOF
		if opts.ExecCheck != nil {
			// The reaper's start of the shell is held until the fence is
			// served.
			if err := p.serveFence(reportR, opts.ExecCheck); err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				return fail(fmt.Errorf("local: start %q: %w", opts.Argv[0], err))
			}
		}
		shell, err := readReport(reportR)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			p.stopFence()
			return fail(fmt.Errorf("local: start %q: %w", opts.Argv[0], err))
		}
		reportR.Close()
		p.shell = shell
	}
	p.input = inW
	p.stderr = errR
	p.errR = errR
	go p.wait()
	return p, nil
}

// ptyReader turns the EIO a pseudo-terminal master reports once the last
// slave is closed into io.EOF.
type ptyReader struct{ f *os.File }

// SyscallConn exposes the terminal's descriptor, so that a reader can poll it.
func (r ptyReader) SyscallConn() (syscall.RawConn, error) { return r.f.SyscallConn() }

func (r ptyReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil && errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

type process struct {
	cmd *exec.Cmd
	// root is the reaper's pid (the process started), shell the shell's;
	// the same when the shell runs without a reaper.
	root, shell int

	input  *os.File
	stdout io.Reader
	stderr io.Reader
	outR   *os.File // nil in TTY mode
	errR   *os.File
	tty    *os.File // pty master in TTY mode

	// fence is the exec fence's listener, served until fenceStop closes;
	// fenceDone closes when its server has returned.
	fence                *os.File
	fenceStop, fenceDone chan struct{}

	done     chan struct{}
	mu       sync.Mutex
	exitCode int
	closed   bool
}

func (p *process) wait() {
	err := p.cmd.Wait()
	code := -1
	if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case st.Exited():
			code = st.ExitStatus()
		case st.Signaled():
			code = 128 + int(st.Signal())
		}
	} else if err == nil {
		code = 0
	}
	p.mu.Lock()
	p.exitCode = code
	p.mu.Unlock()
	close(p.done)
}

func (p *process) Input() io.WriteCloser { return p.input }
func (p *process) Stdout() io.Reader     { return p.stdout }
func (p *process) Stderr() io.Reader     { return p.stderr }
func (p *process) Done() <-chan struct{} { return p.done }

func (p *process) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode
}

func unixSignal(s transport.Signal) (syscall.Signal, error) {
	switch s {
	case transport.SIGINT:
		return syscall.SIGINT, nil
	case transport.SIGTERM:
		return syscall.SIGTERM, nil
	case transport.SIGKILL:
		return syscall.SIGKILL, nil
	case transport.SIGHUP:
		return syscall.SIGHUP, nil
	case transport.SIGUSR2:
		return syscall.SIGUSR2, nil
	}
	return 0, fmt.Errorf("local: unknown signal %q", s)
}

// MarkJobs implements transport.Process.
func (p *process) MarkJobs() transport.JobMark {
	ticks, _ := uptimeTicks()
	return transport.JobMark{Time: time.Now(), LastPID: lastPID(), Ticks: ticks}
}

// SignalJobs implements transport.Process.
func (p *process) SignalJobs(ctx context.Context, sig transport.Signal, since transport.JobMark) (int, error) {
	s, err := unixSignal(sig)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	pids, err := jobsOf(p.root, p.shell, since)
	if err != nil {
		return 0, fmt.Errorf("local: list processes: %w", err)
	}
	n := 0
	for _, pid := range pids {
		if syscall.Kill(pid, s) == nil {
			n++
		}
	}
	return n, nil
}

// SignalShell implements transport.Process.
func (p *process) SignalShell(ctx context.Context, sig transport.Signal) error {
	s, err := unixSignal(sig)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-p.Done():
		return nil // nothing to signal
	default:
	}
	if err := syscall.Kill(p.shell, s); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("local: signal the shell: %w", err)
	}
	return nil
}

// killTree kills every process of the shell's tree, the shell (and its
// reaper) last, in a bounded number of passes (a process may fork while it
// is being killed).
func (p *process) killTree() {
	shell := p.root
	for pass := 0; pass < 20; pass++ {
		pids, err := jobsOf(shell, p.shell, transport.JobMark{})
		if err != nil || len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
	_ = syscall.Kill(p.shell, syscall.SIGKILL)
	_ = syscall.Kill(-shell, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
}

// Close implements transport.Process.
func (p *process) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.input.Close()
	p.killTree()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		return errors.New("local: shell did not exit after SIGKILL")
	}
	// Children re-parented elsewhere may still be dying; one more sweep by
	// session id catches those that were mid-fork.
	p.killTree()
	p.stopFence()
	if p.outR != nil {
		p.outR.Close()
	}
	p.errR.Close()
	if p.tty != nil {
		p.tty.Close()
	}
	return nil
}
