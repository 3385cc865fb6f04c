// Package ssh is the transport for shells on SSH hosts
// (golang.org/x/crypto/ssh). The shell runs over one session channel of a
// connection kept open across commands; a second channel on the same
// connection runs a small helper loop (package transport/internal/remote)
// through which commands are interrupted and leftover processes killed.
//
// Host keys are verified against known_hosts by default (see HostKeyMode).
// The target must run Linux with a POSIX sh.
package ssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/internal/remote"
)

// Config says where to connect and how to authenticate and verify.
type Config struct {
	// User, Host and Port name the target; User defaults to the local
	// user, Port to 22.
	User string
	Host string
	Port int
	// KeyDir is the operator's key directory: identity files must lie in
	// it (relative names are taken in it). Default ~/.ssh.
	KeyDir string
	// Identities are private key files to offer.
	Identities []string
	// Agent offers the keys of the ssh-agent at $SSH_AUTH_SOCK, when set.
	Agent bool
	// Password is offered for password and keyboard-interactive
	// authentication. It comes from the operator, never from a command,
	// and is never journaled.
	Password string
	// KnownHosts are the known_hosts files; default ~/.ssh/known_hosts.
	// AcceptNew pins new keys in the first one.
	KnownHosts []string
	// HostKeyMode says how the host key is checked; default Strict.
	HostKeyMode HostKeyMode
	// Fingerprints are the accepted "SHA256:…" fingerprints in Fingerprint
	// mode.
	Fingerprints []string
	// PlainKnownHosts writes pinned host names in the clear instead of
	// hashed.
	PlainKnownHosts bool
	// ConnectTimeout bounds the TCP connection and the handshake; default
	// 15 s.
	ConnectTimeout time.Duration
	// KeepAlive is the interval of keepalive requests; default 15 s. After
	// KeepAliveMax unanswered ones (default 3) the connection is closed as
	// lost.
	KeepAlive    time.Duration
	KeepAliveMax int
	// Warn receives warnings (insecure mode, pinned keys); default stderr.
	Warn io.Writer
}

// Transport starts shells on one SSH host over a connection it opens on
// first use and opens again after it is lost.
type Transport struct {
	cfg    Config
	auth   []xssh.AuthMethod
	closer []io.Closer // agent connection

	mu     sync.Mutex
	conn   *conn
	closed bool
}

// conn is one live connection and its helper loop.
type conn struct {
	client *xssh.Client
	lost   chan struct{} // closed when the connection ends
	errMu  sync.Mutex
	err    error // why it was lost

	helperOnce sync.Once
	helper     *remote.Helper
	helperErr  error
}

// New checks cfg and returns a Transport. It does not connect; Connect or
// the first Start does.
func New(cfg Config) (*Transport, error) {
	if cfg.Host == "" {
		return nil, errors.New("ssh: no host")
	}
	home, _ := os.UserHomeDir()
	if cfg.User == "" {
		cfg.User = os.Getenv("USER")
		if cfg.User == "" {
			cfg.User = "root"
		}
	}
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.KeyDir == "" {
		cfg.KeyDir = filepath.Join(home, ".ssh")
	}
	if len(cfg.KnownHosts) == 0 {
		cfg.KnownHosts = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	mode, err := ParseHostKeyMode(string(cfg.HostKeyMode))
	if err != nil {
		return nil, err
	}
	cfg.HostKeyMode = mode
	if mode == Fingerprint {
		if len(cfg.Fingerprints) == 0 {
			return nil, errors.New("ssh: host key mode fingerprint needs a fingerprint (SHA256:…, as ssh-keygen -l prints it)")
		}
		for _, fp := range cfg.Fingerprints {
			if !strings.HasPrefix(fp, "SHA256:") || len(fp) < 20 {
				return nil, fmt.Errorf("ssh: fingerprint %q: want SHA256:… as ssh-keygen -l prints it", fp)
			}
		}
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.KeepAliveMax <= 0 {
		cfg.KeepAliveMax = 3
	}
	if cfg.Warn == nil {
		cfg.Warn = os.Stderr
	}
	t := &Transport{cfg: cfg}
	if err := t.loadAuth(); err != nil {
		return nil, err
	}
	return t, nil
}

// loadAuth reads the identities and connects to the agent.
func (t *Transport) loadAuth() error {
	var signers []xssh.Signer
	dir, err := filepath.Abs(t.cfg.KeyDir)
	if err != nil {
		return fmt.Errorf("ssh: key dir: %w", err)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	for _, id := range t.cfg.Identities {
		p, err := confine(dir, id)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("ssh: identity: %w", err)
		}
		s, err := xssh.ParsePrivateKey(b)
		var pp *xssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return fmt.Errorf("ssh: identity %s is protected by a passphrase: load it into ssh-agent and use the agent", p)
		}
		if err != nil {
			return fmt.Errorf("ssh: identity %s: %w", p, err)
		}
		signers = append(signers, s)
	}
	var methods []xssh.AuthMethod
	if t.cfg.Agent {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			c, err := net.Dial("unix", sock)
			if err != nil {
				return fmt.Errorf("ssh: agent at SSH_AUTH_SOCK: %w", err)
			}
			t.closer = append(t.closer, c)
			ag := agent.NewClient(c)
			methods = append(methods, xssh.PublicKeysCallback(func() ([]xssh.Signer, error) {
				as, err := ag.Signers()
				return append(append([]xssh.Signer(nil), signers...), as...), err
			}))
		}
	}
	if len(methods) == 0 && len(signers) > 0 {
		methods = append(methods, xssh.PublicKeys(signers...))
	}
	if pw := t.cfg.Password; pw != "" {
		methods = append(methods, xssh.Password(pw),
			xssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i := range ans {
					ans[i] = pw
				}
				return ans, nil
			}))
	}
	if len(methods) == 0 {
		return errors.New("ssh: no way to authenticate: give an identity file, an agent or a password")
	}
	t.auth = methods
	return nil
}

// DefaultIdentities are the usual private key files present in dir (the
// key directory; "" means ~/.ssh), named as ssh(1) tries them.
func DefaultIdentities(dir string) []string {
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".ssh")
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// confine resolves an identity path inside the key directory and refuses
// one outside it (after following symbolic links).
func confine(dir, id string) (string, error) {
	p := id
	if strings.HasPrefix(p, "~/") {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, p[2:])
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("ssh: identity %s: %w", id, err)
	}
	rel, err := filepath.Rel(dir, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("ssh: identity %s is outside the key directory %s", id, dir)
	}
	return real, nil
}

// Describe names the transport and its target for journals.
func (t *Transport) Describe() (kind, target string) {
	return "ssh", t.cfg.User + "@" + hostPort(t.cfg.Host, t.cfg.Port)
}

// Connect opens the connection now, so that an unreachable host or a
// refused key shows before anything else is done.
func (t *Transport) Connect(ctx context.Context) error {
	_, err := t.connection(ctx)
	return err
}

// Close closes the connection. Shells started over it end.
func (t *Transport) Close() error {
	t.mu.Lock()
	c := t.conn
	t.conn, t.closed = nil, true
	t.mu.Unlock()
	for _, cl := range t.closer {
		cl.Close()
	}
	if c != nil {
		return c.client.Close()
	}
	return nil
}

// connection returns the live connection, dialing when there is none.
func (t *Transport) connection(ctx context.Context) (*conn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("ssh: %w", transport.ErrClosed)
	}
	if c := t.conn; c != nil {
		select {
		case <-c.lost:
		default:
			return c, nil
		}
	}
	client, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &conn{client: client, lost: make(chan struct{})}
	go func() {
		err := client.Wait()
		c.setErr(err)
		close(c.lost)
	}()
	go t.keepAlive(c)
	t.conn = c
	return c, nil
}

// dial connects and authenticates. In Fingerprint mode, a server with
// several host keys is asked for each key type in turn until it presents
// the pinned one.
func (t *Transport) dial(ctx context.Context) (*xssh.Client, error) {
	addr := hostPort(t.cfg.Host, t.cfg.Port)
	chk := &hostKeyChecker{mode: t.cfg.HostKeyMode, files: t.cfg.KnownHosts, pins: t.cfg.Fingerprints,
		hashNew: !t.cfg.PlainKnownHosts, warn: t.cfg.Warn, host: addr}
	if t.cfg.HostKeyMode != Fingerprint {
		algos, err := chk.algorithms()
		if err != nil {
			return nil, err
		}
		return t.dialOnce(ctx, addr, chk, algos)
	}
	var firstErr error
	for _, kt := range keyTypeOrder {
		c, err := t.dialOnce(ctx, addr, chk, keyAlgorithms(kt))
		if err == nil {
			return c, nil
		}
		var hk *HostKeyError
		switch {
		case errors.As(err, &hk):
			if errors.Is(err, ErrHostKeyRevoked) {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			} else if fe := (*HostKeyError)(nil); errors.As(firstErr, &fe) {
				fe.Known = nil
				fe.Offered += ", " + hk.Offered
			}
		case strings.Contains(err.Error(), "no common algorithm"):
			// The server has no key of this type.
		default:
			return nil, err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("ssh: %s: the server offered no host key of a known type", addr)
	} else if fe := (*HostKeyError)(nil); errors.As(firstErr, &fe) {
		fe.Known = append([]string(nil), t.cfg.Fingerprints...)
		fe.Detail = "no host key of the server matches the pinned fingerprint"
	}
	return nil, firstErr
}

func (t *Transport) dialOnce(ctx context.Context, addr string, chk *hostKeyChecker, algos []string) (*xssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: connect to %s: %w: %w", addr, transport.ErrUnavailable, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	cc := &xssh.ClientConfig{
		User:              t.cfg.User,
		Auth:              t.auth,
		HostKeyCallback:   chk.check,
		HostKeyAlgorithms: algos,
		Timeout:           t.cfg.ConnectTimeout,
	}
	sc, chans, reqs, err := xssh.NewClientConn(nc, addr, cc)
	if err != nil {
		nc.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("ssh: %s: handshake did not finish within %s: %w", addr, t.cfg.ConnectTimeout, transport.ErrUnavailable)
		}
		return nil, fmt.Errorf("ssh: %s: %w", addr, err)
	}
	nc.SetDeadline(time.Time{})
	return xssh.NewClient(sc, chans, reqs), nil
}

// keepAlive sends keepalive requests and closes a connection that stops
// answering them, so that a dead peer shows as a lost connection instead
// of a hang.
func (t *Transport) keepAlive(c *conn) {
	tick := time.NewTicker(t.cfg.KeepAlive)
	defer tick.Stop()
	missed := 0
	for {
		select {
		case <-c.lost:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err == nil {
				missed = 0
				continue
			}
		case <-time.After(t.cfg.KeepAlive):
		case <-c.lost:
			return
		}
		missed++
		if missed >= t.cfg.KeepAliveMax {
			c.setErr(fmt.Errorf("ssh: connection to %s lost: %d keepalives unanswered", hostPort(t.cfg.Host, t.cfg.Port), missed))
			c.client.Close()
			return
		}
	}
}

// setErr records why the connection was lost; the first reason stays.
func (c *conn) setErr(err error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// lostErr is why the connection was lost, or nil.
func (c *conn) lostErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// helper returns the connection's helper loop, starting it on first use.
func (c *conn) getHelper() (*remote.Helper, error) {
	c.helperOnce.Do(func() {
		s, err := c.client.NewSession()
		if err != nil {
			c.helperErr = fmt.Errorf("ssh: helper channel: %w", err)
			return
		}
		w, err1 := s.StdinPipe()
		r, err2 := s.StdoutPipe()
		if err := errors.Join(err1, err2); err != nil {
			s.Close()
			c.helperErr = fmt.Errorf("ssh: helper channel: %w", err)
			return
		}
		if err := s.Start("exec sh -c " + transport.ShellQuote(remote.Script)); err != nil {
			s.Close()
			c.helperErr = fmt.Errorf("ssh: helper channel: %w", err)
			return
		}
		c.helper = remote.New(w, r, func() { s.Close() })
	})
	return c.helper, c.helperErr
}

// Start implements transport.Transport.
func (t *Transport) Start(ctx context.Context, opts transport.StartOptions) (transport.Process, error) {
	if opts.ExecCheck != nil {
		return nil, fmt.Errorf("%w: the exec fence runs on the local transport only", transport.ErrNoExecFence)
	}
	if len(opts.Argv) == 0 {
		return nil, errors.New("ssh: no program to start")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := t.connection(ctx)
	if err != nil {
		return nil, err
	}
	h, err := c.getHelper()
	if err != nil {
		return nil, err
	}
	p := &process{conn: c, Jobs: remote.Jobs{Helper: h}, Exit: remote.NewExit(), target: hostPort(t.cfg.Host, t.cfg.Port)}
	if opts.TTY {
		err = p.startTTY(ctx, opts)
	} else {
		err = p.startPipes(opts)
	}
	if err != nil {
		p.closeChannels()
		return nil, err
	}
	if err := p.readHeader(ctx); err != nil {
		p.closeChannels()
		return nil, err
	}
	go p.wait()
	return p, nil
}

// command is the remote command line that runs opts.Argv through
// remote.StartScript.
func command(opts transport.StartOptions, setup string) string {
	cmd := "exec sh -c " + transport.ShellQuote(remote.StartScript(opts, setup)) + " execkit"
	for _, a := range opts.Argv {
		cmd += " " + transport.ShellQuote(a)
	}
	return cmd
}

type process struct {
	remote.Jobs
	remote.Exit
	conn   *conn
	target string

	main    *xssh.Session // the shell's channel
	ctl     *xssh.Session // TTY mode: command channel in, stderr out
	input   io.WriteCloser
	stdout  io.Reader
	errRaw  *bufio.Reader
	stderr  io.Reader
	mu      sync.Mutex
	exitErr error
}

func (p *process) startPipes(opts transport.StartOptions) error {
	s, err := p.conn.client.NewSession()
	if err != nil {
		return fmt.Errorf("ssh: open channel: %w", err)
	}
	p.main = s
	in, err1 := s.StdinPipe()
	out, err2 := s.StdoutPipe()
	errp, err3 := s.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("ssh: channel: %w", err)
	}
	p.input, p.stdout = &remote.OnceCloser{WriteCloser: in}, out
	p.errRaw = bufio.NewReaderSize(errp, 64<<10)
	if err := s.Start(command(opts, remote.PipeSetup)); err != nil {
		return fmt.Errorf("ssh: start: %w", err)
	}
	return nil
}

// startTTY runs the program on a pseudo-terminal channel. The terminal
// carries stdin and stdout only; a second channel without a terminal feeds
// descriptor 3 and brings stderr back, through two FIFOs in a private
// temporary directory that is removed as soon as both ends are open.
func (p *process) startTTY(ctx context.Context, opts transport.StartOptions) error {
	ctl, err := p.conn.client.NewSession()
	if err != nil {
		return fmt.Errorf("ssh: open channel: %w", err)
	}
	p.ctl = ctl
	in, err1 := ctl.StdinPipe()
	out, err2 := ctl.StdoutPipe()
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("ssh: channel: %w", err)
	}
	p.input = &remote.OnceCloser{WriteCloser: in}
	p.errRaw = bufio.NewReaderSize(out, 64<<10)
	if err := ctl.Start("exec sh -c " + transport.ShellQuote(remote.TTYRelayScript)); err != nil {
		return fmt.Errorf("ssh: start: %w", err)
	}
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
		return fmt.Errorf("ssh: %s: no answer while setting up the terminal", p.target)
	}
	if !strings.HasPrefix(dir, "/") {
		return fmt.Errorf("ssh: %s: could not set up the terminal's side channel (mktemp/mkfifo)", p.target)
	}
	s, err := p.conn.client.NewSession()
	if err != nil {
		return fmt.Errorf("ssh: open channel: %w", err)
	}
	p.main = s
	rows, cols := int(opts.Rows), int(opts.Cols)
	if rows == 0 || cols == 0 {
		rows, cols = 40, 120
	}
	modes := xssh.TerminalModes{xssh.ECHO: 0, xssh.ONLCR: 0, xssh.ICANON: 0, xssh.TTY_OP_ISPEED: 38400, xssh.TTY_OP_OSPEED: 38400}
	if err := s.RequestPty("xterm", rows, cols, modes); err != nil {
		return fmt.Errorf("ssh: terminal: %w", err)
	}
	out2, err := s.StdoutPipe()
	if err != nil {
		return fmt.Errorf("ssh: channel: %w", err)
	}
	p.stdout = out2
	if err := s.Start(command(opts, remote.TTYSetup(dir, rows, cols))); err != nil {
		return fmt.Errorf("ssh: start: %w", err)
	}
	return nil
}

// readHeader reads the start line and takes the pid from it.
func (p *process) readHeader(ctx context.Context) error {
	pid, err := remote.ReadHeader(ctx, p.errRaw, "ssh: "+p.target, 30*time.Second)
	if err != nil {
		return err
	}
	p.PID = pid
	p.stderr = p.errRaw
	return nil
}

func (p *process) wait() {
	err := p.main.Wait()
	code := 0
	var ee *xssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	default:
		code = 255 // as ssh(1) reports a lost connection
		// The channel may end a moment before the connection is seen
		// lost; the connection's reason is the better one.
		select {
		case <-p.conn.lost:
		case <-time.After(time.Second):
		}
		if cerr := p.conn.lostErr(); cerr != nil {
			err = cerr
		}
		p.mu.Lock()
		p.exitErr = fmt.Errorf("ssh: %s: %w", p.target, err)
		p.mu.Unlock()
	}
	if p.ctl != nil {
		// The terminal channel is done; the FIFO relay ends with it.
		p.ctl.Close()
	}
	p.Finish(code)
}

func (p *process) Input() io.WriteCloser { return p.input }
func (p *process) Stdout() io.Reader     { return p.stdout }
func (p *process) Stderr() io.Reader     { return p.stderr }

// Err reports why the process ended when that was not its own doing (the
// connection was lost); nil otherwise.
func (p *process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

func (p *process) closeChannels() {
	if p.main != nil {
		p.main.Close()
	}
	if p.ctl != nil {
		p.ctl.Close()
	}
}

// Close implements transport.Process.
func (p *process) Close() error {
	if !p.FirstClose() {
		return nil
	}
	p.input.Close()
	var err error
	select {
	case <-p.conn.lost:
	default:
		err = p.KillAll(p.Done(), "ssh: "+p.target)
	}
	p.closeChannels()
	return err
}
