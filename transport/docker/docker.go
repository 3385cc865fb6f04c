// Package docker is the transport for shells in Docker containers, through
// the Engine API (github.com/moby/moby/client, API version negotiated,
// DOCKER_HOST and the other DOCKER_* variables honoured).
//
// Each shell is one exec with its streams attached; a second exec in the
// same container runs a small helper loop (package
// transport/internal/remote) through which commands are interrupted and
// leftover processes killed, since the API cannot signal an exec. With
// Config.Image the transport starts a throwaway container and removes it at
// Close.
//
// The container must run Linux with a POSIX sh.
package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/internal/remote"
)

// Config says which container to use and how to run shells in it.
type Config struct {
	// Container names a running container (name or ID).
	Container string
	// Image, instead of Container, starts a throwaway container from this
	// local image for the transport's lifetime; Close removes it.
	Image string
	// User runs the shells as this user ("name", "uid" or "uid:gid");
	// default the container's.
	User string
	// Dir is the working directory when StartOptions.Dir is empty.
	Dir string
	// Env is added to the container's environment when StartOptions.Env
	// is nil.
	Env []string
}

// Transport starts shells in one container.
type Transport struct {
	cfg  Config
	cli  *client.Client
	id   string // container ID
	name string
	own  bool // the transport created the container

	mu     sync.Mutex
	helper *remote.Helper
	closed bool
}

// New connects to the engine and checks the container (or starts one from
// Config.Image). Errors say which: the engine unreachable, no such
// container, a stopped container, no such image.
func New(ctx context.Context, cfg Config) (*Transport, error) {
	if (cfg.Container == "") == (cfg.Image == "") {
		return nil, errors.New("docker: name a container or an image (one of them)")
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	t := &Transport{cfg: cfg, cli: cli}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: engine at %s: %w: %w", cli.DaemonHost(), transport.ErrUnavailable, err)
	}
	if cfg.Image != "" {
		if err := t.startContainer(ctx); err != nil {
			cli.Close()
			return nil, err
		}
		if _, err := t.getHelper(ctx); err != nil {
			if code, exited := t.exitedAtStart(ctx); exited {
				err = fmt.Errorf("docker: the container of %q exited at start (status %d; the image needs a POSIX sh): %w", cfg.Image, code, transport.ErrNoShell)
			}
			t.Close()
			return nil, err
		}
		return t, nil
	}
	inspected, err := cli.ContainerInspect(ctx, cfg.Container, client.ContainerInspectOptions{})
	info := inspected.Container
	if err != nil {
		cli.Close()
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("docker: no container %q: %w", cfg.Container, transport.ErrUnavailable)
		}
		return nil, fmt.Errorf("docker: container %q: %w", cfg.Container, err)
	}
	if info.State == nil || !info.State.Running {
		cli.Close()
		status := "not running"
		if info.State != nil {
			status = string(info.State.Status)
		}
		return nil, fmt.Errorf("docker: container %q is %s: %w", cfg.Container, status, transport.ErrUnavailable)
	}
	t.id, t.name = info.ID, strings.TrimPrefix(info.Name, "/")
	if _, err := t.getHelper(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// idleCommand keeps a throwaway container alive without depending on
// anything but sh (and sleep, when there is one).
var idleCommand = []string{"sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 2>/dev/null & wait $! || sleep 1; done"}

func (t *Transport) startContainer(ctx context.Context) error {
	resp, err := t.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{
		Image:      t.cfg.Image,
		Entrypoint: idleCommand[:1],
		Cmd:        idleCommand[1:],
		Labels:     map[string]string{"io.execkit.throwaway": "1"},
	}, HostConfig: &container.HostConfig{Init: boolPtr(true)}})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker: no image %q here (no registry is consulted; build or load it first)", t.cfg.Image)
		}
		return fmt.Errorf("docker: create a container from %q: %w", t.cfg.Image, err)
	}
	t.id, t.own = resp.ID, true
	if _, err := t.cli.ContainerStart(ctx, resp.ID, client.ContainerStartOptions{}); err != nil {
		t.removeContainer()
		return fmt.Errorf("docker: start a container from %q: %w", t.cfg.Image, err)
	}
	info, err := t.cli.ContainerInspect(ctx, resp.ID, client.ContainerInspectOptions{})
	if err == nil {
		t.name = strings.TrimPrefix(info.Container.Name, "/")
	}
	return nil
}

// exitedAtStart reports whether the throwaway container stopped, waiting a
// few seconds for it: a container whose idle command cannot start (no sh)
// may still be going down when the first exec into it fails.
func (t *Transport) exitedAtStart(ctx context.Context) (int, bool) {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w := t.cli.ContainerWait(wctx, t.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		return int(r.StatusCode), true
	case <-w.Error:
	}
	info, err := t.cli.ContainerInspect(ctx, t.id, client.ContainerInspectOptions{})
	if err == nil && info.Container.State != nil && !info.Container.State.Running {
		return info.Container.State.ExitCode, true
	}
	return 0, false
}

func boolPtr(b bool) *bool { return &b }

func (t *Transport) removeContainer() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = t.cli.ContainerRemove(ctx, t.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

// ContainerID is the container's full ID.
func (t *Transport) ContainerID() string { return t.id }

// Describe names the transport and its target for journals.
func (t *Transport) Describe() (kind, target string) {
	if t.cfg.Image != "" {
		return "docker", t.cfg.Image + " (throwaway " + t.name + ")"
	}
	return "docker", t.name
}

// Close ends the helper, removes a throwaway container and closes the
// engine connection. Shells started by the transport should be closed
// first.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	h := t.helper
	t.mu.Unlock()
	if h != nil {
		h.Close()
	}
	if t.own {
		t.removeContainer()
	}
	return t.cli.Close()
}

// attached is one exec with its streams.
type attached struct {
	id     string
	resp   client.HijackedResponse
	stdout *bufPipe
	stderr *bufPipe
	ended  chan struct{} // the output stream reached its end
}

// exec creates and attaches an exec running argv. Without a terminal its
// output is demultiplexed into stdout and stderr.
func (t *Transport) exec(ctx context.Context, argv []string, tty bool, env []string) (*attached, error) {
	created, err := t.cli.ExecCreate(ctx, t.id, client.ExecCreateOptions{
		User: t.cfg.User, TTY: tty, Env: env, Cmd: argv,
		AttachStdin: !tty, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, t.execError(err)
	}
	attach, err := t.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: tty})
	if err != nil {
		return nil, t.execError(err)
	}
	resp := attach.HijackedResponse
	a := &attached{id: created.ID, resp: resp, ended: make(chan struct{})}
	// Until Start has read the start line, much may wait; after that the
	// caller drains both streams and a little slack keeps them flowing.
	a.stdout, a.stderr = newBufPipe(startSlack), newBufPipe(startSlack)
	go func() {
		var err error
		if tty {
			_, err = io.Copy(a.stdout, resp.Reader)
		} else {
			_, err = stdcopy.StdCopy(a.stdout, a.stderr, resp.Reader)
		}
		if err == nil {
			err = io.EOF
		}
		a.stdout.CloseWithError(err)
		a.stderr.CloseWithError(err)
		close(a.ended)
	}()
	return a, nil
}

// execError explains a failed exec: the container gone or stopped, the
// engine gone.
func (t *Transport) execError(err error) error {
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("docker: container %s is gone: %w", t.name, transport.ErrUnavailable)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("docker: container %s is not running: %w", t.name, transport.ErrUnavailable)
	case client.IsErrConnectionFailed(err):
		return fmt.Errorf("docker: engine: %w: %w", transport.ErrUnavailable, err)
	}
	return fmt.Errorf("docker: exec in %s: %w", t.name, err)
}

// Buffer limits of an exec's streams: while Start waits for the start line,
// and afterwards.
const (
	startSlack = 64 << 20
	runSlack   = 1 << 20
)

// running lowers the streams' buffer limits once the caller reads them.
func (a *attached) running() {
	a.stdout.setLimit(runSlack)
	a.stderr.setLimit(runSlack)
}

// closeWrite gives the exec end-of-file on its stdin.
func (a *attached) closeWrite() error {
	if cw, ok := a.resp.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return a.resp.Conn.Close()
}

func (a *attached) close() {
	a.resp.Close()
	a.stdout.Close()
	a.stderr.Close()
}

// getHelper returns the container's helper loop, starting it on first use
// or after it broke.
func (t *Transport) getHelper(ctx context.Context) (*remote.Helper, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("docker: %w", transport.ErrClosed)
	}
	if t.helper != nil {
		if _, err := t.helper.LastPID(ctx); err == nil {
			return t.helper, nil
		}
		t.helper.Close()
		t.helper = nil
	}
	a, err := t.exec(ctx, []string{"sh", "-c", remote.Script}, false, nil)
	if err != nil {
		if strings.Contains(err.Error(), "executable file not found") || strings.Contains(err.Error(), "no such file or directory") {
			return nil, fmt.Errorf("docker: no sh in container %s: %w", t.name, transport.ErrNoShell)
		}
		return nil, err
	}
	go io.Copy(io.Discard, a.stderr)
	a.running()
	t.helper = remote.New(a.resp.Conn, a.stdout, a.close)
	if _, err := t.helper.LastPID(ctx); err != nil {
		t.helper = nil
		return nil, fmt.Errorf("docker: helper loop in %s: %w (does the image have a POSIX sh and /proc?)", t.name, err)
	}
	return t.helper, nil
}

// Start implements transport.Transport.
func (t *Transport) Start(ctx context.Context, opts transport.StartOptions) (transport.Process, error) {
	if opts.ExecCheck != nil {
		return nil, fmt.Errorf("%w: the exec fence runs on the local transport only", transport.ErrNoExecFence)
	}
	if len(opts.Argv) == 0 {
		return nil, errors.New("docker: no program to start")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := t.getHelper(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		opts.Dir = t.cfg.Dir
	}
	var env []string
	if opts.Env == nil {
		env = t.cfg.Env
	}
	p := &process{t: t, Jobs: remote.Jobs{Helper: h}, Exit: remote.NewExit()}
	if opts.TTY {
		err = p.startTTY(ctx, opts, env)
	} else {
		err = p.startPipes(ctx, opts, env)
	}
	if err != nil {
		p.closeExecs()
		return nil, err
	}
	pid, err := remote.ReadHeader(ctx, p.errRaw, "docker: "+t.name, 30*time.Second)
	if err != nil {
		p.closeExecs()
		return nil, err
	}
	p.PID = pid
	p.main.running()
	if p.ctl != nil {
		p.ctl.running()
	}
	go p.wait()
	return p, nil
}

func argv(opts transport.StartOptions, setup string) []string {
	return append([]string{"sh", "-c", remote.StartScript(opts, setup), "execkit"}, opts.Argv...)
}

type process struct {
	remote.Jobs
	remote.Exit
	t      *Transport
	main   *attached
	ctl    *attached // TTY mode: command channel in, stderr out
	input  io.WriteCloser
	stdout io.Reader
	errRaw *bufio.Reader
}

// writer is the stdin of an exec; Close sends end-of-file.
type writer struct{ a *attached }

func (w writer) Write(b []byte) (int, error) { return w.a.resp.Conn.Write(b) }
func (w writer) Close() error                { return w.a.closeWrite() }

func (p *process) startPipes(ctx context.Context, opts transport.StartOptions, env []string) error {
	a, err := p.t.exec(ctx, argv(opts, remote.PipeSetup), false, env)
	if err != nil {
		return err
	}
	p.main = a
	p.input = &remote.OnceCloser{WriteCloser: writer{a}}
	p.stdout = a.stdout
	p.errRaw = bufio.NewReaderSize(a.stderr, 64<<10)
	return nil
}

// startTTY runs the program in an exec with a terminal, which carries stdin
// and stdout only; a second exec without one feeds descriptor 3 and brings
// stderr back, through two FIFOs (see remote.TTYRelayScript).
func (p *process) startTTY(ctx context.Context, opts transport.StartOptions, env []string) error {
	ctl, err := p.t.exec(ctx, []string{"sh", "-c", remote.TTYRelayScript}, false, nil)
	if err != nil {
		return err
	}
	p.ctl = ctl
	p.input = &remote.OnceCloser{WriteCloser: writer{ctl}}
	go io.Copy(io.Discard, ctl.stderr)
	p.errRaw = bufio.NewReaderSize(ctl.stdout, 64<<10)
	dirc := make(chan string, 1)
	go func() {
		line, _ := p.errRaw.ReadString('\n')
		dirc <- strings.TrimSuffix(line, "\n")
	}()
	var dir string
	select {
	case dir = <-dirc:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("docker: %s: no answer while setting up the terminal", p.t.name)
	}
	if !strings.HasPrefix(dir, "/") {
		return fmt.Errorf("docker: %s: could not set up the terminal's side channel (mktemp/mkfifo)", p.t.name)
	}
	rows, cols := int(opts.Rows), int(opts.Cols)
	if rows == 0 || cols == 0 {
		rows, cols = 40, 120
	}
	a, err := p.t.exec(ctx, argv(opts, remote.TTYSetup(dir, rows, cols)), true, env)
	if err != nil {
		return err
	}
	p.main = a
	p.stdout = a.stdout
	return nil
}

// wait watches the exec until it has ended: the engine is asked every
// 100 ms, and at once when the output stream ends (children left behind
// may keep the stream open after the program is gone).
func (p *process) wait() {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-p.main.ended:
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		info, err := p.t.cli.ExecInspect(ctx, p.main.id, client.ExecInspectOptions{})
		cancel()
		if err != nil {
			failures++
			if failures < 30 {
				continue
			}
			p.finish(255) // the engine or the container is gone
			return
		}
		failures = 0
		if !info.Running {
			p.finish(info.ExitCode)
			return
		}
	}
}

func (p *process) finish(code int) {
	if p.ctl != nil {
		p.ctl.close() // the relay ends with the program
	}
	p.Finish(code)
}

func (p *process) Input() io.WriteCloser { return p.input }
func (p *process) Stdout() io.Reader     { return p.stdout }
func (p *process) Stderr() io.Reader     { return p.errRaw }

func (p *process) closeExecs() {
	if p.main != nil {
		p.main.close()
	}
	if p.ctl != nil {
		p.ctl.close()
	}
}

// Close implements transport.Process.
func (p *process) Close() error {
	if !p.FirstClose() {
		return nil
	}
	p.input.Close()
	err := p.KillAll(p.Done(), "docker: "+p.t.name)
	p.closeExecs()
	return err
}
