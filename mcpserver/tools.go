package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/undo"
)

// createIn are session_create's arguments.
type createIn struct {
	Transport  string         `json:"transport,omitempty" jsonschema:"where the shell runs: local (default), ssh or docker"`
	Target     string         `json:"target,omitempty" jsonschema:"ssh: [user@]host[:port] or an alias of the operator's SSH config; docker: a running container's name or ID"`
	User       string         `json:"user,omitempty" jsonschema:"docker: the user to run as"`
	Cwd        string         `json:"cwd,omitempty" jsonschema:"initial working directory on the target"`
	Shell      string         `json:"shell,omitempty" jsonschema:"bash (default when present) or sh"`
	TTY        bool           `json:"tty,omitempty" jsonschema:"give commands a pseudo-terminal as stdin/stdout (stderr stays separate)"`
	Workspace  string         `json:"workspace,omitempty" jsonschema:"a project directory on the target to checkpoint, so that session_restore can undo file changes"`
	Checkpoint string         `json:"checkpoint,omitempty" jsonschema:"with workspace: auto (before each command that may change files, the default), manual or off"`
	Allow      []string       `json:"allow,omitempty" jsonschema:"only these programs may run (narrows the operator's policy)"`
	Deny       []string       `json:"deny,omitempty" jsonschema:"these programs may not run (adds to the operator's policy)"`
	Budget     *safety.Budget `json:"budget,omitempty" jsonschema:"default output budget for the session's commands"`
	TimeoutMS  int            `json:"timeout_ms,omitempty" jsonschema:"default per-command timeout in milliseconds"`
}

// SessionInfo describes an open session.
type SessionInfo struct {
	SessionID string `json:"session_id"`
	Transport string `json:"transport"`
	Target    string `json:"target,omitempty"`
	Cwd       string `json:"cwd"`
	Workspace string `json:"workspace,omitempty"`
	Commands  int    `json:"commands"`
	IdleS     int    `json:"idle_s"`
}

// execIn are session_exec's arguments.
type execIn struct {
	SessionID string         `json:"session_id" jsonschema:"the session, from session_create"`
	Command   string         `json:"command" jsonschema:"a shell command line; cd and exported variables persist to the next one"`
	TimeoutMS int            `json:"timeout_ms,omitempty" jsonschema:"interrupt the command after this many milliseconds"`
	Budget    *safety.Budget `json:"budget,omitempty" jsonschema:"shape this command's output"`
}

// idIn names a session.
type idIn struct {
	SessionID string `json:"session_id" jsonschema:"the session, from session_create"`
}

// checkpointIn are session_checkpoint's arguments.
type checkpointIn struct {
	SessionID string `json:"session_id" jsonschema:"the session, from session_create"`
	Label     string `json:"label,omitempty" jsonschema:"what this checkpoint is for"`
}

// restoreIn are session_restore's arguments.
type restoreIn struct {
	SessionID  string `json:"session_id" jsonschema:"the session, from session_create"`
	Checkpoint string `json:"checkpoint,omitempty" jsonschema:"a checkpoint id (from session_checkpoints or a command's result)"`
	Entry      uint64 `json:"entry,omitempty" jsonschema:"or a journal entry: the workspace goes back to its state just before that command ran"`
	DryRun     bool   `json:"dry_run,omitempty" jsonschema:"list what would change, change nothing"`
}

// logIn are journal_log's arguments.
type logIn struct {
	SessionID string `json:"session_id,omitempty" jsonschema:"only this session"`
	Limit     int    `json:"limit,omitempty" jsonschema:"the last N entries (default 20)"`
}

// logEntry is one journal entry, compact.
type logEntry struct {
	Seq        uint64 `json:"seq"`
	Session    string `json:"session"`
	Status     string `json:"status"`
	Command    string `json:"command"`
	ExitCode   int    `json:"exit_code"`
	Cwd        string `json:"cwd,omitempty"`
	Checkpoint string `json:"checkpoint,omitempty"`
	Time       string `json:"time"`
}

// destroyOut is session_destroy's answer: destroyed is false when there
// was no such session (already destroyed, reaped, or never opened), as the
// original execkit answers.
type destroyOut struct {
	Destroyed bool `json:"destroyed"`
	SessionInfo
}

type sessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

type checkpointList struct {
	Checkpoints []undo.Checkpoint `json:"checkpoints"`
}

type logOut struct {
	Journal string     `json:"journal"`
	Entries []logEntry `json:"entries"`
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// addTools registers each tool with its handler method.
func (s *Server) addTools() {
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_create",
		Description: "Open a persistent shell session (local, ssh or docker). Returns its session_id. cd, exported variables and functions persist between session_exec calls."},
		s.sessionCreate)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_exec",
		Description: "Run a command in a session. Returns stdout and stderr apart, the exit code (non-zero is data, not an error), duration, the working directory, and what was truncated. A command the policy refuses never runs and comes back as an error."},
		s.sessionExec)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_destroy", Description: "Close a session and everything it started."},
		s.sessionDestroy)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_list", Description: "List the open sessions."},
		s.sessionList)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_checkpoint", Description: "Checkpoint the session's workspace now (needs a workspace)."},
		s.sessionCheckpoint)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_checkpoints", Description: "List the checkpoints of the session's workspace, newest first."},
		s.sessionCheckpoints)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_restore",
		Description: "Restore the session's workspace to a checkpoint, or to its state just before a journal entry ran: files modified or deleted since come back, files created since are removed. The restore is itself checkpointed and journaled, so it can be undone."},
		s.sessionRestore)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "journal_log", Description: "The recent entries of this run's journal."},
		s.journalLog)
}

func (s *Server) sessionCreate(ctx context.Context, _ *mcp.CallToolRequest, in createIn) (*mcp.CallToolResult, SessionInfo, error) {
	info, err := s.create(ctx, in)
	if err != nil {
		return nil, SessionInfo{}, err
	}
	return textResult(fmt.Sprintf("session %s open (%s %s), cwd %s", info.SessionID, info.Transport, info.Target, info.Cwd)), info, nil
}

func (s *Server) sessionExec(ctx context.Context, _ *mcp.CallToolRequest, in execIn) (*mcp.CallToolResult, session.Result, error) {
	l, release, err := s.hold(in.SessionID)
	if err != nil {
		return nil, session.Result{}, err
	}
	defer release()
	eo := session.ExecOptions{Timeout: time.Duration(in.TimeoutMS) * time.Millisecond, Budget: in.Budget}
	r, err := l.s.Exec(ctx, in.Command, eo)
	s.mu.Lock()
	l.commands++
	l.lastUsed = time.Now()
	if r.Cwd != "" {
		l.cwd = r.Cwd
	}
	s.mu.Unlock()
	if err != nil {
		state := "is still usable"
		if r.ShellEnded && !r.Respawned || errors.Is(err, session.ErrClosed) {
			state = "is closed"
		}
		return nil, session.Result{}, fmt.Errorf("%w (the session %s)", err, state)
	}
	if r.Blocked {
		// A tool error, with the structured result (blocked, the rule and
		// the reason) for clients that read it.
		res := textResult(fmt.Sprintf("blocked by policy (%s): %s; the command did not run", r.Decision.Rule, r.Decision.Reason))
		res.IsError = true
		return res, r, nil
	}
	return textResult(readable(r)), r, nil
}

func (s *Server) sessionDestroy(ctx context.Context, _ *mcp.CallToolRequest, in idIn) (*mcp.CallToolResult, destroyOut, error) {
	s.mu.Lock()
	l := s.sessions[in.SessionID]
	delete(s.sessions, in.SessionID)
	s.mu.Unlock()
	if l == nil {
		// Destroying is idempotent: nothing to close is not an error.
		return textResult("no session " + in.SessionID + " is open: nothing to close"), destroyOut{SessionInfo: SessionInfo{SessionID: in.SessionID}}, nil
	}
	l.busy.Lock()
	info := l.info()
	l.close()
	l.busy.Unlock()
	return textResult("session " + in.SessionID + " closed"), destroyOut{Destroyed: true, SessionInfo: info}, nil
}

func (s *Server) sessionList(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, sessionList, error) {
	out := sessionList{Sessions: []SessionInfo{}}
	s.mu.Lock()
	for _, id := range sortedIDs(s.sessions) {
		out.Sessions = append(out.Sessions, s.sessions[id].info())
	}
	s.mu.Unlock()
	var b strings.Builder
	for _, i := range out.Sessions {
		fmt.Fprintf(&b, "%s  %s %s  cwd %s  %d commands\n", i.SessionID, i.Transport, i.Target, i.Cwd, i.Commands)
	}
	if b.Len() == 0 {
		b.WriteString("no sessions open")
	}
	return textResult(b.String()), out, nil
}

func (s *Server) sessionCheckpoint(ctx context.Context, _ *mcp.CallToolRequest, in checkpointIn) (*mcp.CallToolResult, undo.Checkpoint, error) {
	l, err := s.get(in.SessionID)
	if err != nil {
		return nil, undo.Checkpoint{}, err
	}
	cp, err := l.s.Checkpoint(ctx, in.Label)
	if err != nil {
		return nil, undo.Checkpoint{}, err
	}
	return textResult(fmt.Sprintf("checkpoint %s (%d files)", cp.ID, cp.Files)), cp, nil
}

func (s *Server) sessionCheckpoints(ctx context.Context, _ *mcp.CallToolRequest, in idIn) (*mcp.CallToolResult, checkpointList, error) {
	out := checkpointList{Checkpoints: []undo.Checkpoint{}}
	l, err := s.get(in.SessionID)
	if err != nil {
		return nil, out, err
	}
	st := l.s.Checkpoints()
	if st == nil {
		// No workspace: no checkpoints, as the original answers.
		return textResult("the session has no workspace, so no checkpoints"), out, nil
	}
	if out.Checkpoints, err = st.List(ctx); err != nil {
		return nil, out, err
	}
	if out.Checkpoints == nil {
		out.Checkpoints = []undo.Checkpoint{}
	}
	var b strings.Builder
	for _, c := range out.Checkpoints {
		fmt.Fprintf(&b, "%s  %s  %d files  %s\n", c.ID[:12], c.Time.Format(time.RFC3339), c.Files, c.Label)
	}
	return textResult(b.String()), out, nil
}

func (s *Server) sessionRestore(ctx context.Context, _ *mcp.CallToolRequest, in restoreIn) (*mcp.CallToolResult, session.Restored, error) {
	l, release, err := s.hold(in.SessionID)
	if err != nil {
		return nil, session.Restored{}, err
	}
	defer release()
	id, label := in.Checkpoint, "restore "+in.Checkpoint
	if in.Entry != 0 {
		j := s.set.Env.Journal
		if j == nil {
			return nil, session.Restored{}, fmt.Errorf("no journal: restore a checkpoint id instead")
		}
		var st session.EntryState
		if err := j.View(func(r *journal.Reader) error {
			var err error
			st, err = session.StateBefore(r, in.Entry)
			return err
		}); err != nil {
			return nil, session.Restored{}, err
		}
		if st.Checkpoint == "" {
			return textResult(fmt.Sprintf("nothing to restore: no file changed since entry %d", in.Entry)), session.Restored{Changes: []undo.Change{}}, nil
		}
		id, label = st.Checkpoint, fmt.Sprintf("restore to before entry %d", in.Entry)
	}
	if id == "" {
		return nil, session.Restored{}, fmt.Errorf("give a checkpoint or an entry")
	}
	res, err := l.s.Restore(ctx, id, label, in.DryRun)
	if err != nil {
		return nil, session.Restored{}, err
	}
	var b strings.Builder
	for _, c := range res.Changes {
		b.WriteString(c.String() + "\n")
	}
	fmt.Fprintf(&b, "%d file(s)", len(res.Changes))
	if res.Checkpoint != "" {
		fmt.Fprintf(&b, "; the state replaced is checkpoint %s", res.Checkpoint)
	}
	if res.Changes == nil {
		res.Changes = []undo.Change{}
	}
	return textResult(b.String()), res, nil
}

func (s *Server) journalLog(ctx context.Context, _ *mcp.CallToolRequest, in logIn) (*mcp.CallToolResult, logOut, error) {
	out := logOut{Entries: []logEntry{}}
	j := s.set.Env.Journal
	if j == nil {
		return nil, out, fmt.Errorf("this server keeps no journal")
	}
	out.Journal = j.Path()
	limit := in.Limit
	if limit <= 0 {
		limit = 20
	}
	err := j.View(func(r *journal.Reader) error {
		es, err := r.Entries(journal.Filter{Session: in.SessionID})
		if err != nil {
			return err
		}
		if len(es) > limit {
			es = es[len(es)-limit:]
		}
		for _, e := range es {
			le := logEntry{Seq: e.Seq, Session: e.Session, Status: string(e.Status), Command: e.Command, Checkpoint: e.Checkpoint, Time: e.Time.Format(time.RFC3339)}
			if e.Completion != nil {
				le.ExitCode, le.Cwd = e.Completion.ExitCode, e.Completion.Cwd
			}
			out.Entries = append(out.Entries, le)
		}
		return nil
	})
	if err != nil {
		return nil, out, err
	}
	var b strings.Builder
	for _, e := range out.Entries {
		fmt.Fprintf(&b, "%d  %s  %s  exit %d  %s\n", e.Seq, e.Session, e.Status, e.ExitCode, e.Command)
	}
	return textResult(b.String()), out, nil
}

// readable is a result as a person reads it in a terminal.
func readable(r session.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s $ %s\n", r.CwdBefore, r.Command)
	b.WriteString(r.Stdout)
	if r.Stdout != "" && !strings.HasSuffix(r.Stdout, "\n") {
		b.WriteString("\n")
	}
	if r.Stderr != "" {
		b.WriteString("[stderr]\n" + r.Stderr)
		if !strings.HasSuffix(r.Stderr, "\n") {
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "[exit %d · %.1fms · %s", r.ExitCode, r.DurationMS, r.Cwd)
	if r.TimedOut {
		b.WriteString(" · timed out")
	}
	if r.Truncated {
		fmt.Fprintf(&b, " · truncated: %d+%d bytes left out", r.StdoutInfo.Dropped+r.StdoutInfo.BudgetDropped, r.StderrInfo.Dropped+r.StderrInfo.BudgetDropped)
	}
	if r.ShellEnded {
		b.WriteString(" · the shell ended")
		if r.Respawned {
			b.WriteString(" and a new one took over")
		}
	}
	if r.FrameBroken {
		b.WriteString(" · frame broken: this result may be forged")
	}
	if r.Entry != 0 {
		fmt.Fprintf(&b, " · entry %d", r.Entry)
	}
	b.WriteString("]")
	return b.String()
}

func (l *live) info() SessionInfo {
	return SessionInfo{SessionID: l.id, Transport: l.o.Kind, Target: l.o.Target, Cwd: l.cwd, Commands: l.commands,
		IdleS: int(time.Since(l.lastUsed).Seconds()), Workspace: l.s.Spec().Workspace}
}

// spec is the session an agent asks for, within the operator's defaults:
// the agent's allow and deny lists only narrow the operator's policy.
func (s *Server) spec(in createIn) journal.SessionSpec {
	sp := s.set.Defaults
	sp.Endpoint = journal.Endpoint{Transport: in.Transport, Address: in.Target, User: in.User}
	if sp.Transport == "" {
		sp.Transport = "local"
	}
	if in.Cwd != "" {
		sp.Dir = in.Cwd
	}
	if in.Shell != "" {
		sp.Shell = in.Shell
	}
	sp.TTY = sp.TTY || in.TTY
	if len(in.Allow) > 0 || len(in.Deny) > 0 {
		sp.Policy = safety.Merge(sp.Policy, &safety.Policy{Allow: in.Allow, Deny: in.Deny})
	}
	if in.Budget != nil {
		sp.Budget = *in.Budget
	}
	if in.TimeoutMS > 0 {
		sp.TimeoutMS = int64(in.TimeoutMS)
	}
	// The checkpoint repository is the default one for the workspace; the
	// operator's excludes apply to every workspace.
	sp.Workspace, sp.CheckpointMode, sp.CheckpointDir = in.Workspace, in.Checkpoint, ""
	if in.Workspace == "" {
		sp.Exclude = nil
	}
	return sp
}

// create opens a session as session_create asks, within the settings.
func (s *Server) create(ctx context.Context, in createIn) (SessionInfo, error) {
	sp := s.spec(in)
	if err := s.allowed(sp.Transport, in.Target); err != nil {
		return SessionInfo{}, err
	}
	if err := target.Check(sp, s.set.Env.Registry); err != nil {
		return SessionInfo{}, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return SessionInfo{}, fmt.Errorf("the server is shutting down")
	}
	if len(s.sessions)+len(s.pending) >= s.set.MaxSessions {
		s.mu.Unlock()
		return SessionInfo{}, fmt.Errorf("%d sessions are open, the most allowed; close one with session_destroy", len(s.sessions))
	}
	id := s.newID(sp.Transport)
	s.pending[id] = true
	s.mu.Unlock()
	env := s.set.Env
	o, err := target.Open(ctx, sp, &env, id)
	s.mu.Lock()
	delete(s.pending, id)
	if err != nil {
		s.mu.Unlock()
		return SessionInfo{}, err
	}
	l := &live{id: id, o: o, s: o.Session, lastUsed: time.Now(), cwd: o.Session.Cwd()}
	s.sessions[id] = l
	info := l.info()
	s.mu.Unlock()
	return info, nil
}
