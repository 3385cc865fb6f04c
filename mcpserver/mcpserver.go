// Package mcpserver is execkit's Model Context Protocol server: tools that
// let an agent open persistent sessions (local, SSH, Docker), run commands
// in them, and checkpoint and restore their workspaces, with every step
// journaled. It uses the official Go SDK
// (github.com/modelcontextprotocol/go-sdk).
//
// What the agent may do is the operator's to decide (Settings): the
// journal, the policy, the secrets, the key directory and known_hosts,
// limits, the transports and targets allowed. Tool arguments can only
// narrow it: an agent's deny list adds to the operator's, its allow list
// intersects the operator's.
package mcpserver

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/docker"
	"github.com/execkit/execkit/transport/local"
	"github.com/execkit/execkit/transport/ssh"
)

// Settings are the operator's; agents cannot change them.
type Settings struct {
	// Journal records every session and command.
	Journal *journal.Journal
	// Policy applies to every command of every session.
	Policy *safety.Policy
	// Secrets are redacted from output and stored as ${secret:NAME}.
	Secrets []safety.Secret
	// MaxSessions bounds the sessions open at once (default 32).
	MaxSessions int
	// IdleTTL closes a session unused for this long (default 30 min).
	IdleTTL time.Duration
	// Budget is the default output budget.
	Budget safety.Budget
	// Timeout is the default per-command timeout (default 10 min).
	Timeout time.Duration
	// Transports allowed ("local", "ssh", "docker"); empty means all.
	Transports []string
	// Targets, when set, are the SSH hosts and containers allowed (path.Match
	// patterns over "user@host:port" or the container name).
	Targets []string
	// SSH settings for ssh sessions.
	KeyDir      string
	KnownHosts  []string
	HostKeyMode ssh.HostKeyMode
	// Version is reported to clients.
	Version string
}

// Server is the tools and the sessions they share. One Server may serve
// many MCP connections at once (the stdio one, or several over a socket).
type Server struct {
	set Settings
	srv *mcp.Server

	mu       sync.Mutex
	sessions map[string]*live
	pending  map[string]bool // ids of sessions being opened
	closed   bool
	stop     chan struct{}
}

// live is one open session.
type live struct {
	id       string
	kind     string
	target   string
	s        *session.Session
	release  func()
	lastUsed time.Time // these three under Server.mu
	commands int
	cwd      string
	keep     bool       // adopted: never closed for being idle
	busy     sync.Mutex // one command at a time per session
}

// New builds the server and its tools.
func New(set Settings) *Server {
	if set.MaxSessions <= 0 {
		set.MaxSessions = 32
	}
	if set.IdleTTL <= 0 {
		set.IdleTTL = 30 * time.Minute
	}
	if set.Timeout <= 0 {
		set.Timeout = session.DefaultTimeout
	}
	if set.Version == "" {
		set.Version = "dev"
	}
	s := &Server{set: set, sessions: map[string]*live{}, pending: map[string]bool{}, stop: make(chan struct{})}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "execkit", Version: set.Version}, &mcp.ServerOptions{
		Instructions: "execkit gives you persistent shell sessions: create one with session_create, then run " +
			"commands with session_exec (cd and exported variables persist). Every command is checked by the " +
			"operator's policy before it runs, its output is scrubbed of secrets, and it is journaled. With a " +
			"workspace, files are checkpointed before each command that may change them: session_restore undoes.",
	})
	s.addTools()
	go s.reap()
	return s
}

// MCP is the underlying SDK server, to be run on a transport.
func (s *Server) MCP() *mcp.Server { return s.srv }

// Close closes every session.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	all := s.sessions
	s.sessions = map[string]*live{}
	s.mu.Unlock()
	for _, l := range all {
		l.close()
	}
}

func (l *live) close() {
	l.s.Close()
	l.release()
}

// reap closes idle sessions.
func (s *Server) reap() {
	tick := time.NewTicker(s.set.IdleTTL / 4)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		var idle []*live
		s.mu.Lock()
		for id, l := range s.sessions {
			if !l.keep && l.busy.TryLock() {
				if time.Since(l.lastUsed) > s.set.IdleTTL {
					idle = append(idle, l)
					delete(s.sessions, id)
				}
				l.busy.Unlock()
			}
		}
		s.mu.Unlock()
		for _, l := range idle {
			l.close()
		}
	}
}

func (s *Server) get(id string) (*live, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.sessions[id]
	if l == nil {
		return nil, fmt.Errorf("no session %q (session_list shows the open ones)", id)
	}
	l.lastUsed = time.Now()
	return l, nil
}

// allowed checks a transport and target against the operator's settings.
func (s *Server) allowed(kind, target string) error {
	if len(s.set.Transports) > 0 {
		ok := false
		for _, t := range s.set.Transports {
			ok = ok || t == kind
		}
		if !ok {
			return fmt.Errorf("transport %q is not allowed here (allowed: %s)", kind, strings.Join(s.set.Transports, ", "))
		}
	}
	if kind != "local" && len(s.set.Targets) > 0 {
		for _, p := range s.set.Targets {
			if m, _ := path.Match(p, target); m {
				return nil
			}
		}
		return fmt.Errorf("target %q is not allowed here", target)
	}
	return nil
}

// openTransport reaches the target of a new session.
func (s *Server) openTransport(ctx context.Context, kind, target, user string) (transport.Transport, func(), error) {
	switch kind {
	case "", "local":
		return local.New(), func() {}, nil
	case "ssh":
		u, host, port, err := ssh.ParseTarget(target)
		if err != nil {
			return nil, nil, err
		}
		tr, err := ssh.New(ssh.Config{User: u, Host: host, Port: port, KeyDir: s.set.KeyDir, Agent: true,
			KnownHosts: s.set.KnownHosts, HostKeyMode: s.set.HostKeyMode, Identities: ssh.DefaultIdentities(s.set.KeyDir)})
		if err != nil {
			return nil, nil, err
		}
		if err := tr.Connect(ctx); err != nil {
			tr.Close()
			return nil, nil, err
		}
		return tr, func() { tr.Close() }, nil
	case "docker":
		tr, err := docker.New(ctx, docker.Config{Container: target, User: user})
		if err != nil {
			return nil, nil, err
		}
		return tr, func() { tr.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown transport %q (local, ssh or docker)", kind)
}

// mergePolicy narrows the operator's policy by the agent's lists.
func mergePolicy(op *safety.Policy, allow, deny []string) *safety.Policy {
	p := &safety.Policy{}
	if op != nil {
		p.Allow = append(p.Allow, op.Allow...)
		p.Deny = append(p.Deny, op.Deny...)
		p.DenyPatterns = append(p.DenyPatterns, op.DenyPatterns...)
	}
	p.Deny = append(p.Deny, deny...)
	if len(allow) > 0 {
		if len(p.Allow) == 0 {
			p.Allow = append(p.Allow, allow...)
		} else {
			opAllow := map[string]bool{}
			for _, a := range p.Allow {
				opAllow[a] = true
			}
			var both []string
			for _, a := range allow {
				if opAllow[a] {
					both = append(both, a)
				}
			}
			if len(both) == 0 {
				both = []string{"\x00none"} // nothing the agent asked for is allowed
			}
			p.Allow = both
		}
	}
	if p.Empty() {
		return nil
	}
	return p
}

// ids are short, readable and unique within the server.
func (s *Server) newID(kind string) string {
	for i := 1; ; i++ {
		id := fmt.Sprintf("%s-%d", kind, i)
		if _, taken := s.sessions[id]; !taken && !s.pending[id] {
			return id
		}
	}
}

func sortedIDs(m map[string]*live) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Adopt serves a session opened by the caller under id (execkit record's
// default session, opened with the operator's target flags). release runs
// after the session closes.
func (s *Server) Adopt(id, kind, target string, sess *session.Session, release func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.sessions[id]; taken || s.pending[id] {
		return fmt.Errorf("session %q exists", id)
	}
	if release == nil {
		release = func() {}
	}
	s.sessions[id] = &live{id: id, kind: kind, target: target, s: sess, release: release, lastUsed: time.Now(), cwd: sess.Cwd(), keep: true}
	return nil
}

// ServeConn serves one MCP connection (newline-delimited JSON-RPC over
// conn, as on stdio) until it closes; the sessions are shared with every
// other connection.
func (s *Server) ServeConn(ctx context.Context, conn io.ReadWriteCloser) error {
	ss, err := s.srv.Connect(ctx, &mcp.IOTransport{Reader: conn, Writer: conn}, nil)
	if err != nil {
		return err
	}
	return ss.Wait()
}
