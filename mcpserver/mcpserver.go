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
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
)

// Settings are the operator's; agents cannot change them.
type Settings struct {
	// Defaults configure every new session: shell, timeout, output limits,
	// budget, policy, redaction. An agent's session_create can set its own
	// target, directory, shell, terminal, workspace, timeout and budget,
	// and can only narrow the policy.
	Defaults journal.SessionSpec
	// Env holds the journal that records every session and command, the
	// secrets to redact, and the SSH settings (key directory, known_hosts,
	// host key mode, client config) for ssh sessions.
	Env target.Env
	// MaxSessions bounds the sessions open at once (0: the default, 32;
	// NoSessions: none may open).
	MaxSessions int
	// IdleTTL closes a session unused for this long (0: the default, 30
	// min; NoIdleTTL: never).
	IdleTTL time.Duration
	// Audit, when set, also writes every session's opening, commands and
	// end as JSONL for log shippers.
	Audit *Audit
	// ReadableText makes the tools' text content the short text a person
	// reads instead of the structured result's JSON.
	ReadableText bool
	// Transports allowed ("local", "ssh", "docker"); empty means all.
	Transports []string
	// Targets, when set, are the SSH hosts and containers allowed (path.Match
	// patterns over the address the agent gives or the container name).
	Targets []string
	// Version is reported to clients.
	Version string
	// ViewerURL, when a live viewer serves the journal, is announced to
	// each client as a log message when it has initialized.
	ViewerURL string
}

// NoSessions as Settings.MaxSessions lets no session open; NoIdleTTL as
// Settings.IdleTTL never closes a session for being idle.
const (
	NoSessions = -1
	NoIdleTTL  = time.Duration(-1)
)

// Server is the tools and the sessions they share. One Server may serve
// many MCP connections at once (the stdio one, or several over a socket).
type Server struct {
	set Settings
	srv *mcp.Server

	mu       sync.Mutex
	sessions map[string]*live
	pending  map[string]bool // ids of sessions being opened
	// issued counts the ids given out: an id is never given twice by a
	// server, and tag (random per server) tells apart the ids of two
	// servers writing the same journal one after the other.
	issued int
	tag    string
	closed bool
	stop   chan struct{}
	// leveled holds the connections (*mcp.ServerSession) given the default
	// log level.
	leveled sync.Map
}

// live is one open session.
type live struct {
	id       string
	o        *target.Opened
	s        *session.Session
	lastUsed time.Time // these three under Server.mu
	commands int
	cwd      string
	keep     bool       // adopted: never closed for being idle
	busy     sync.Mutex // one command at a time per session
}

// New builds the server and its tools.
func New(set Settings) *Server {
	if set.MaxSessions == 0 || set.MaxSessions < NoSessions {
		set.MaxSessions = 32
	}
	if set.IdleTTL == 0 || set.IdleTTL < NoIdleTTL {
		set.IdleTTL = 30 * time.Minute
	}
	if set.Version == "" {
		set.Version = "dev"
	}
	s := &Server{set: set, sessions: map[string]*live{}, pending: map[string]bool{},
		tag: runTag(), stop: make(chan struct{})}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "execkit-mcp", Title: "execkit", Version: set.Version}, &mcp.ServerOptions{
		Instructions: "execkit gives you persistent shell sessions: create one with session_create, then run " +
			"commands with session_exec (cd and exported variables persist). Every command is checked by the " +
			"operator's policy before it runs, its output is scrubbed of secrets, and it is journaled. With a " +
			"workspace, files are checkpointed before each command that may change them: session_restore undoes.",
		InitializedHandler: s.announceViewer,
	})
	s.addTools()
	s.srv.AddReceivingMiddleware(s.logByDefault)
	if set.IdleTTL != NoIdleTTL {
		go s.reap()
	}
	return s
}

// announceViewer tells a client where the live viewer is: data.url in
// the original execkit-mcp's form (http://HOST/?t=TOKEN, which the viewer
// sends on to its page) and data.viewer, the page itself.
func (s *Server) announceViewer(ctx context.Context, req *mcp.InitializedRequest) {
	if s.set.ViewerURL == "" || req == nil || req.Session == nil {
		return
	}
	data := map[string]any{"message": "execkit viewer: " + s.set.ViewerURL, "viewer": s.set.ViewerURL, "url": s.set.ViewerURL}
	if u, err := url.Parse(s.set.ViewerURL); err == nil {
		data["url"] = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/", RawQuery: "t=" + url.QueryEscape(strings.Trim(u.Path, "/"))}).String()
	}
	req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Logger: "execkit", Data: data})
}

// logByDefault sets a connection's log level to info when it first sends
// anything, as if the client had sent logging/setLevel: the SDK sends no
// log message before a level is set, and clients of the original execkit
// get each command's transcript without asking. A client's own setLevel
// (first or later) decides.
func (s *Server) logByDefault(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if ss, ok := req.GetSession().(*mcp.ServerSession); ok {
			if _, seen := s.leveled.LoadOrStore(ss, true); !seen {
				go func() { ss.Wait(); s.leveled.Delete(ss) }()
				if method != "logging/setLevel" {
					next(ctx, "logging/setLevel", &mcp.ServerRequest[*mcp.SetLoggingLevelParams]{
						Session: ss, Params: &mcp.SetLoggingLevelParams{Level: "info"}})
				}
			}
		}
		return next(ctx, method, req)
	}
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
		s.end(l, "shutdown")
	}
}

// end closes a session taken out of the server, recording why in the
// journal and the audit stream: destroyed, idle or shutdown.
func (s *Server) end(l *live, reason string) {
	l.o.CloseWith(reason)
	s.set.Audit.Close(l.id, reason)
}

// reap closes idle sessions now and then.
func (s *Server) reap() {
	tick := time.NewTicker(max(min(s.set.IdleTTL/4, time.Minute), 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.reapIdle()
	}
}

// reapIdle closes the sessions idle longer than the TTL (not one running
// a command).
func (s *Server) reapIdle() {
	if s.set.IdleTTL == NoIdleTTL {
		return
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
		s.end(l, "idle")
	}
}

func (s *Server) get(id string) (*live, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lookup(id)
	if l == nil {
		return nil, fmt.Errorf("no session %q (session_list shows the open ones)", id)
	}
	l.lastUsed = time.Now()
	return l, nil
}

// hold finds session id and holds it for one command (one at a time per
// session); release lets the next one in.
func (s *Server) hold(id string) (*live, func(), error) {
	l, err := s.get(id)
	if err != nil {
		return nil, nil, err
	}
	l.busy.Lock()
	return l, l.busy.Unlock, nil
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
		// A pattern matches the address as given (user@host:port) or its
		// host part alone (whether the agent named the user separately).
		host := target[strings.LastIndexByte(target, '@')+1:]
		for _, p := range s.set.Targets {
			if m, _ := path.Match(p, target); m {
				return nil
			}
			if m, _ := path.Match(p, host); m {
				return nil
			}
		}
		return fmt.Errorf("target %q is not allowed here", target)
	}
	return nil
}

// newID gives a session id that says what the session is, as the
// original's do (3-k7q2_local, 4-k7q2_ssh_deploy@web-01:2222,
// 5-k7q2_docker_api: a number, the server's tag, and desc), and was never
// given before: not after a destroy or an idle reap (a stale id must not
// reach another session), nor by an earlier server writing the same
// journal or audit file (the tag differs).
func (s *Server) newID(desc string) string {
	for {
		s.issued++
		id := fmt.Sprintf("%d-%s_%s", s.issued, s.tag, desc)
		if _, taken := s.sessions[id]; !taken && !s.pending[id] {
			return id
		}
	}
}

// lookup finds an open session by its id, or by the id in the original's
// form (3_local for 3-k7q2_local): a server gives each number once, so
// the short form names one session of this server, never another's.
// Under s.mu.
func (s *Server) lookup(id string) *live {
	if l := s.sessions[id]; l != nil {
		return l
	}
	n, rest, ok := strings.Cut(id, "_")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return nil
	}
	return s.sessions[n+"-"+s.tag+"_"+rest]
}

// runTag is four random letters and digits.
func runTag() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "0000"
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
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
// default session, opened with the operator's target flags); the server
// closes it at the end.
func (s *Server) Adopt(id string, o *target.Opened) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.sessions[id]; taken || s.pending[id] {
		return fmt.Errorf("session %q exists", id)
	}
	s.sessions[id] = &live{id: id, o: o, s: o.Session, lastUsed: time.Now(), cwd: o.Session.Cwd(), keep: true}
	return nil
}

// ServeConn serves one MCP connection (newline-delimited JSON-RPC over
// conn, as on stdio) until it closes; the sessions are shared with every
// other connection.
func (s *Server) ServeConn(ctx context.Context, conn io.ReadWriteCloser) error {
	return s.Serve(ctx, conn, conn)
}

// Serve serves one MCP connection of newline-delimited JSON-RPC, read from
// in and written to out, until in ends or ctx is done. Malformed input is
// answered with JSON-RPC errors and never ends it (see Wire).
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	err := s.srv.Run(ctx, &Wire{Reader: in, Writer: out})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
