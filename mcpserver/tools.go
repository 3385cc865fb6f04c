package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/undo"
)

// createIn are session_create's arguments: this project's names and the
// original execkit-mcp's (host, port, container, key_path, password,
// fingerprint, auto_snapshot, paths, checkpoint_ignores, output_budget).
type createIn struct {
	Transport         string   `json:"transport,omitempty" jsonschema:"where the shell runs: local (default), ssh or docker"`
	Target            string   `json:"target,omitempty" jsonschema:"ssh: [user@]host[:port] or an alias of the operator's SSH config; docker: a running container's name or ID"`
	Host              string   `json:"host,omitempty" jsonschema:"ssh: the host (name, IP or SSH config alias), instead of target"`
	Port              int      `json:"port,omitempty" jsonschema:"ssh: the port, with host (default 22)"`
	Container         string   `json:"container,omitempty" jsonschema:"docker: a running container's name or ID, instead of target"`
	User              string   `json:"user,omitempty" jsonschema:"ssh: the login user; docker: the user to run as"`
	Password          string   `json:"password,omitempty" jsonschema:"ssh: the password; never journaled, and redacted from the session's output"`
	PasswordEnv       string   `json:"password_env,omitempty" jsonschema:"ssh: NAME of the server's environment variable holding the password"`
	KeyPath           string   `json:"key_path,omitempty" jsonschema:"ssh: a private key file inside the operator's key directory"`
	Fingerprint       string   `json:"fingerprint,omitempty" jsonschema:"ssh: accept only the host key with this fingerprint (SHA256:…)"`
	Cwd               string   `json:"cwd,omitempty" jsonschema:"initial working directory on the target"`
	Shell             string   `json:"shell,omitempty" jsonschema:"bash (default when present) or sh"`
	TTY               bool     `json:"tty,omitempty" jsonschema:"give commands a pseudo-terminal as stdin/stdout (stderr stays separate)"`
	Workspace         string   `json:"workspace,omitempty" jsonschema:"a project directory on the target to checkpoint, so that session_restore can undo file changes"`
	Checkpoint        string   `json:"checkpoint,omitempty" jsonschema:"with workspace: auto (before each command that may change files, the default), manual or off"`
	AutoSnapshot      optBool  `json:"auto_snapshot,omitzero" jsonschema:"with workspace: true (default) is checkpoint auto, false is manual"`
	Paths             []string `json:"paths,omitempty" jsonschema:"with workspace: the one sub-directory of it to checkpoint"`
	CheckpointIgnores []string `json:"checkpoint_ignores,omitempty" jsonschema:"with workspace: path patterns left out of checkpoints and never restored"`
	Allow             []string `json:"allow,omitempty" jsonschema:"only these programs may run (narrows the operator's policy)"`
	Deny              []string `json:"deny,omitempty" jsonschema:"these programs may not run (adds to the operator's policy)"`
	Budget            budgetIn `json:"budget,omitzero" jsonschema:"default output budget for the session's commands"`
	OutputBudget      budgetIn `json:"output_budget,omitzero" jsonschema:"the original's name for budget"`
	TimeoutMS         int      `json:"timeout_ms,omitempty" jsonschema:"default per-command timeout in milliseconds"`
	TimeoutSecs       float64  `json:"timeout_secs,omitempty" jsonschema:"default per-command timeout in seconds"`
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
	IdleSecs  int    `json:"idle_secs"` // the original's name
	// Enforce is where the operator's policy holds in this session: "exec"
	// (each command's text and every program it starts) or "text".
	Enforce string `json:"enforce,omitempty"`
}

// execIn are session_exec's arguments.
type execIn struct {
	SessionID   string   `json:"session_id" jsonschema:"the session, from session_create"`
	Command     string   `json:"command" jsonschema:"a shell command line; cd and exported variables persist to the next one"`
	TimeoutMS   int      `json:"timeout_ms,omitempty" jsonschema:"interrupt the command after this many milliseconds"`
	TimeoutSecs float64  `json:"timeout_secs,omitempty" jsonschema:"interrupt the command after this many seconds"`
	Budget      budgetIn `json:"budget,omitzero" jsonschema:"shape this command's output"`
}

// execOut is session_exec's result: the session's Result, with the budget
// report the original gave (per stream: mode, lines_total, lines_kept)
// and a hint when output was cut without a budget.
type execOut struct {
	session.Result
	Budget map[string]budgetShape `json:"budget,omitempty"`
	Hint   string                 `json:"hint,omitempty"`
}

type budgetShape struct {
	Mode       string `json:"mode"`
	LinesTotal int    `json:"lines_total"`
	LinesKept  int    `json:"lines_kept"`
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

// checkpointOut is a checkpoint, with the original's checkpoint_id and
// created.
type checkpointOut struct {
	undo.Checkpoint
	CheckpointID string    `json:"checkpoint_id"`
	Created      time.Time `json:"created"`
}

func cpOut(c undo.Checkpoint) checkpointOut {
	return checkpointOut{Checkpoint: c, CheckpointID: c.ID, Created: c.Time}
}

// restoreIn are session_restore's arguments.
type restoreIn struct {
	SessionID    string `json:"session_id" jsonschema:"the session, from session_create"`
	Checkpoint   string `json:"checkpoint,omitempty" jsonschema:"a checkpoint id (from session_checkpoints or a command's result); with no checkpoint and no entry, the latest checkpoint"`
	CheckpointID string `json:"checkpoint_id,omitempty" jsonschema:"the original's name for checkpoint"`
	Entry        uint64 `json:"entry,omitempty" jsonschema:"or a journal entry: the workspace goes back to its state just before that command ran"`
	DryRun       bool   `json:"dry_run,omitempty" jsonschema:"list what would change, change nothing"`
}

// restoreOut is what a restore did, with the original's restored_to and
// files_changed.
type restoreOut struct {
	session.Restored
	RestoredTo   string `json:"restored_to"`
	FilesChanged int    `json:"files_changed"`
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
	Checkpoints []checkpointOut `json:"checkpoints"`
}

type logOut struct {
	Journal string     `json:"journal"`
	Entries []logEntry `json:"entries"`
}

// result is a tool's answer: the structured result's JSON as the text
// content, as MCP asks of tools with structured results (and as the
// original execkit answered), or with Settings.ReadableText the short text
// a person reads. Command results are indented, like the original's.
func (s *Server) result(v any, readable string, indent bool) *mcp.CallToolResult {
	text := readable
	if !s.set.ReadableText || readable == "" {
		var b []byte
		if indent {
			b, _ = json.MarshalIndent(v, "", "  ")
		} else {
			b, _ = json.Marshal(v)
		}
		text = string(b)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// addTools registers each tool with its handler method, title, hints and
// schemas.
func (s *Server) addTools() {
	yes, no := true, false
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_create", Title: "Open a shell session",
		InputSchema: schemaOf[createIn](createEnums), OutputSchema: schemaOf[SessionInfo](nil),
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &no, OpenWorldHint: &yes},
		Description: "Open a persistent shell session (local, ssh or docker). Returns its session_id. cd, exported variables and functions persist between session_exec calls."},
		s.sessionCreate)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_exec", Title: "Run a command",
		InputSchema: schemaOf[execIn](budgetEnums), OutputSchema: schemaOf[execOut](nil),
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, OpenWorldHint: &yes},
		Description: "Run a command in a session. Returns stdout and stderr apart, the exit code (non-zero is data, not an error), duration, the working directory, and what was truncated. A command the policy refuses never runs and comes back as an error."},
		s.sessionExec)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_destroy", Title: "Close a session",
		InputSchema: schemaOf[idIn](nil), OutputSchema: schemaOf[destroyOut](nil),
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, IdempotentHint: true, OpenWorldHint: &no},
		Description: "Close a session and everything it started. Destroying a session that is not open answers destroyed: false."},
		s.sessionDestroy)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_list", Title: "List sessions",
		InputSchema: schemaOf[struct{}](nil), OutputSchema: schemaOf[sessionList](nil),
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no},
		Description: "List the open sessions."},
		s.sessionList)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_checkpoint", Title: "Checkpoint the workspace",
		InputSchema: schemaOf[checkpointIn](nil), OutputSchema: schemaOf[checkpointOut](nil),
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &no, OpenWorldHint: &no},
		Description: "Checkpoint the session's workspace now (needs a workspace)."},
		s.sessionCheckpoint)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_checkpoints", Title: "List checkpoints",
		InputSchema: schemaOf[idIn](nil), OutputSchema: schemaOf[checkpointList](nil),
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no},
		Description: "List the checkpoints of the session's workspace, newest first (none without a workspace)."},
		s.sessionCheckpoints)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "session_restore", Title: "Restore the workspace",
		InputSchema: schemaOf[restoreIn](nil), OutputSchema: schemaOf[restoreOut](nil),
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, OpenWorldHint: &no},
		Description: "Restore the session's workspace to a checkpoint (the latest when none is named), or to its state just before a journal entry ran: files modified or deleted since come back, files created since are removed. The restore is itself checkpointed and journaled, so it can be undone."},
		s.sessionRestore)
	mcp.AddTool(s.srv, &mcp.Tool{Name: "journal_log", Title: "Read the journal",
		InputSchema: schemaOf[logIn](nil), OutputSchema: schemaOf[logOut](nil),
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no},
		Description: "The recent entries of this run's journal."},
		s.journalLog)
}

func (s *Server) sessionCreate(ctx context.Context, _ *mcp.CallToolRequest, in createIn) (*mcp.CallToolResult, SessionInfo, error) {
	info, err := s.create(ctx, in)
	if err != nil {
		return nil, SessionInfo{}, err
	}
	return s.result(info, fmt.Sprintf("session %s open (%s %s), cwd %s", info.SessionID, info.Transport, info.Target, info.Cwd), false), info, nil
}

// Exec runs command in an open session as the session_exec tool does, for
// a caller in this process (execkit record, for the execkit program in
// front): the tool's result, its structured content set.
func (s *Server) Exec(ctx context.Context, sessionID, command string, timeout time.Duration) (*mcp.CallToolResult, error) {
	res, out, err := s.sessionExec(ctx, nil, execIn{SessionID: sessionID, Command: command, TimeoutMS: int(timeout.Milliseconds())})
	if err != nil {
		return nil, err
	}
	if res.StructuredContent == nil {
		res.StructuredContent = out
	}
	return res, nil
}

func (s *Server) sessionExec(ctx context.Context, req *mcp.CallToolRequest, in execIn) (*mcp.CallToolResult, execOut, error) {
	eo := session.ExecOptions{Timeout: time.Duration(in.TimeoutMS) * time.Millisecond}
	if in.TimeoutSecs != 0 {
		if in.TimeoutMS != 0 || in.TimeoutSecs < 0 {
			return nil, execOut{}, fmt.Errorf("give one positive timeout: timeout_ms or timeout_secs")
		}
		eo.Timeout = time.Duration(in.TimeoutSecs * float64(time.Second))
	}
	if !in.Budget.isZero() {
		b, err := in.Budget.budget()
		if err != nil {
			return nil, execOut{}, err
		}
		eo.Budget = &b
	}
	l, release, err := s.hold(in.SessionID)
	if err != nil {
		return nil, execOut{}, err
	}
	defer release()
	st := startStream(ctx, req, l, l.s.StoredCommand(in.Command))
	eo.Output = st.outputFunc()
	r, err := l.s.Exec(ctx, in.Command, eo)
	st.stop()
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
		return nil, execOut{}, fmt.Errorf("%w (the session %s)", err, state)
	}
	stored := l.s.StoredCommand(r.Command)
	s.set.Audit.Exec(l.id, l.o.Kind, stored, r)
	s.notify(ctx, req, l, stored, r, st)
	out := execOut{Result: r}
	out.Command = stored
	if r.StdoutInfo.Mode != "" || r.StderrInfo.Mode != "" {
		out.Budget = map[string]budgetShape{
			"stdout": {Mode: r.StdoutInfo.Mode, LinesTotal: r.StdoutInfo.LinesTotal, LinesKept: r.StdoutInfo.LinesKept},
			"stderr": {Mode: r.StderrInfo.Mode, LinesTotal: r.StderrInfo.LinesTotal, LinesKept: r.StderrInfo.LinesKept},
		}
	} else if r.Truncated {
		out.Hint = `output was cut to the session's limit: pass a budget to see the part you need, e.g. {"mode": "tail", "lines": 100} or {"grep": "error", "context": 2}`
	}
	if r.Blocked {
		// A tool error, with the structured result (blocked, the rule and
		// the reason) for clients that read it.
		res := textResult(fmt.Sprintf("blocked by operator policy (%s): %s; the command did not run", r.Decision.Rule, r.Decision.Reason))
		res.IsError = true
		return res, out, nil
	}
	// The text is in the original's shape (originalText); the structured
	// result has the output as printed.
	text := out
	text.Stdout, text.Stderr, text.Command = originalText(r.Stdout), originalText(r.Stderr), originalText(stored)
	return s.result(text, readable(r), true), out, nil
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// notify tells the client about a command as it ends: its transcript as a
// log message (info; warning when it was blocked or failed), and a
// progress notification when the call carries a progress token. The
// client's logging/setLevel decides which log messages it gets.
func (s *Server) notify(ctx context.Context, req *mcp.CallToolRequest, l *live, command string, r session.Result, st *streamer) {
	if req == nil || req.Session == nil {
		return
	}
	level := mcp.LoggingLevel("info")
	id, transport := l.id, l.o.Kind
	summary := fmt.Sprintf("[%s] %s $ %s → exit %d (%.0fms)", id, r.CwdBefore, command, r.ExitCode, r.DurationMS)
	data := map[string]any{"session": id, "transport": transport, "command": command, "exit_code": r.ExitCode, "cwd": r.Cwd, "duration_ms": r.DurationMS}
	switch {
	case r.Blocked:
		level = "warning"
		summary = fmt.Sprintf("[%s] blocked: %s (%s)", id, command, r.Decision.Reason)
		data = map[string]any{"session": id, "transport": transport, "blocked": command, "reason": "blocked by operator policy: " + r.Decision.Reason, "rule": r.Decision.Rule}
	default:
		if r.ExitCode != 0 || r.TimedOut || r.FrameBroken || len(r.Fence) > 0 {
			level = "warning"
		}
		if len(r.Fence) > 0 {
			data["fence"] = r.Fence
		}
		// The transcript is a list of lines, as the original's clients read it.
		data["transcript"] = strings.Split(transcript(r, command), "\n")
	}
	data["summary"] = summary
	req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: level, Logger: "execkit", Data: data})
	st.final(summary)
}

func (s *Server) sessionDestroy(ctx context.Context, _ *mcp.CallToolRequest, in idIn) (*mcp.CallToolResult, destroyOut, error) {
	s.mu.Lock()
	l := s.lookup(in.SessionID)
	if l != nil {
		delete(s.sessions, l.id)
	}
	s.mu.Unlock()
	if l == nil {
		// Destroying is idempotent: nothing to close is not an error.
		out := destroyOut{SessionInfo: SessionInfo{SessionID: in.SessionID}}
		return s.result(out, "no session "+in.SessionID+" is open: nothing to close", false), out, nil
	}
	l.busy.Lock()
	out := destroyOut{Destroyed: true, SessionInfo: l.info()}
	s.end(l, "destroyed")
	l.busy.Unlock()
	return s.result(out, "session "+in.SessionID+" closed", false), out, nil
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
	return s.result(out, b.String(), false), out, nil
}

func (s *Server) sessionCheckpoint(ctx context.Context, _ *mcp.CallToolRequest, in checkpointIn) (*mcp.CallToolResult, checkpointOut, error) {
	l, err := s.get(in.SessionID)
	if err != nil {
		return nil, checkpointOut{}, err
	}
	cp, err := l.s.Checkpoint(ctx, in.Label)
	if err != nil {
		return nil, checkpointOut{}, err
	}
	out := cpOut(cp)
	return s.result(out, fmt.Sprintf("checkpoint %s (%d files)", cp.ID, cp.Files), false), out, nil
}

func (s *Server) sessionCheckpoints(ctx context.Context, _ *mcp.CallToolRequest, in idIn) (*mcp.CallToolResult, checkpointList, error) {
	out := checkpointList{Checkpoints: []checkpointOut{}}
	l, err := s.get(in.SessionID)
	if err != nil {
		return nil, out, err
	}
	st := l.s.Checkpoints()
	if st == nil {
		// No workspace: no checkpoints, as the original answers.
		return s.result(out, "the session has no workspace, so no checkpoints", false), out, nil
	}
	cps, err := st.List(ctx)
	if err != nil {
		return nil, out, err
	}
	var b strings.Builder
	for _, c := range cps {
		out.Checkpoints = append(out.Checkpoints, cpOut(c))
		fmt.Fprintf(&b, "%s  %s  %d files  %s\n", c.ID[:12], c.Time.Format(time.RFC3339), c.Files, c.Label)
	}
	return s.result(out, b.String(), false), out, nil
}

func (s *Server) sessionRestore(ctx context.Context, _ *mcp.CallToolRequest, in restoreIn) (*mcp.CallToolResult, restoreOut, error) {
	l, release, err := s.hold(in.SessionID)
	if err != nil {
		return nil, restoreOut{}, err
	}
	defer release()
	id := in.Checkpoint
	if in.CheckpointID != "" {
		if id != "" && id != in.CheckpointID {
			return nil, restoreOut{}, fmt.Errorf("give checkpoint or checkpoint_id, not both")
		}
		id = in.CheckpointID
	}
	label := "restore " + id
	switch {
	case in.Entry != 0 && id != "":
		return nil, restoreOut{}, fmt.Errorf("give a checkpoint or an entry, not both")
	case in.Entry != 0:
		j := s.set.Env.Journal
		if j == nil {
			return nil, restoreOut{}, fmt.Errorf("no journal: restore a checkpoint id instead")
		}
		var st session.EntryState
		if err := j.View(func(r *journal.Reader) error {
			var err error
			st, err = session.StateBefore(r, in.Entry)
			return err
		}); err != nil {
			return nil, restoreOut{}, err
		}
		if st.Checkpoint == "" {
			out := restoreOut{Restored: session.Restored{Changes: []undo.Change{}}}
			return s.result(out, fmt.Sprintf("nothing to restore: no file changed since entry %d", in.Entry), false), out, nil
		}
		id, label = st.Checkpoint, fmt.Sprintf("restore to before entry %d", in.Entry)
	case id == "":
		// The latest checkpoint, as the original restores by default.
		st := l.s.Checkpoints()
		if st == nil {
			return nil, restoreOut{}, fmt.Errorf("the session has no workspace, so no checkpoint to restore")
		}
		cps, err := st.List(ctx)
		if err != nil {
			return nil, restoreOut{}, err
		}
		if len(cps) == 0 {
			return nil, restoreOut{}, fmt.Errorf("the workspace has no checkpoint yet")
		}
		id, label = cps[0].ID, "restore the latest checkpoint"
	}
	res, err := l.s.Restore(ctx, id, label, in.DryRun)
	if err != nil {
		return nil, restoreOut{}, err
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
	out := restoreOut{Restored: res, RestoredTo: id, FilesChanged: len(res.Changes)}
	return s.result(out, b.String(), false), out, nil
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
	return s.result(out, b.String(), false), out, nil
}

// readable is a result as a person reads it in a terminal.
func readable(r session.Result) string { return transcript(r, r.Command) }

// transcript is a result as a terminal shows it, with command as given.
func transcript(r session.Result, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s $ %s\n", r.CwdBefore, command)
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
	if len(r.Fence) > 0 {
		fmt.Fprintf(&b, " · the exec fence refused %d program start(s)", len(r.Fence))
	}
	if r.Entry != 0 {
		fmt.Fprintf(&b, " · entry %d", r.Entry)
	}
	b.WriteString("]")
	return b.String()
}

func (l *live) info() SessionInfo {
	idle := int(time.Since(l.lastUsed).Seconds())
	mode, _ := l.s.Enforcement()
	return SessionInfo{SessionID: l.id, Transport: l.o.Kind, Target: l.o.Target, Cwd: l.cwd, Commands: l.commands,
		IdleS: idle, IdleSecs: idle, Workspace: l.s.Spec().Workspace, Enforce: mode}
}

// endpoint is where the agent asks the session to run: target, or the
// original's host, port and user (ssh) or container (docker).
func endpoint(in createIn) (journal.Endpoint, error) {
	e := journal.Endpoint{Transport: in.Transport, Address: in.Target}
	if e.Transport == "" {
		switch {
		case in.Host != "":
			e.Transport = "ssh"
		case in.Container != "":
			e.Transport = "docker"
		default:
			e.Transport = "local"
		}
	}
	switch e.Transport {
	case "ssh":
		if in.Container != "" {
			return e, fmt.Errorf("container is for docker sessions")
		}
		if in.Host != "" {
			if in.Target != "" {
				return e, fmt.Errorf("give target or host, not both")
			}
			e.Address = in.Host
			if strings.Contains(in.Host, ":") && !strings.HasPrefix(in.Host, "[") && in.Port != 0 {
				e.Address = "[" + in.Host + "]"
			}
			if in.Port != 0 {
				e.Address += ":" + strconv.Itoa(in.Port)
			}
		} else if in.Port != 0 {
			return e, fmt.Errorf("port goes with host")
		}
		if in.Port < 0 || in.Port > 65535 {
			return e, fmt.Errorf("port %d is not a TCP port", in.Port)
		}
		if in.User != "" {
			if strings.Contains(e.Address, "@") {
				return e, fmt.Errorf("the user is given twice (user and %s)", e.Address)
			}
			e.Address = in.User + "@" + e.Address
		}
	case "docker":
		if in.Host != "" || in.Port != 0 {
			return e, fmt.Errorf("host and port are for ssh sessions")
		}
		if in.Container != "" {
			if in.Target != "" {
				return e, fmt.Errorf("give target or container, not both")
			}
			e.Address = in.Container
		}
		e.User = in.User
	default:
		if in.Host != "" || in.Port != 0 || in.Container != "" || in.User != "" {
			return e, fmt.Errorf("host, port, container and user are for ssh and docker sessions")
		}
	}
	if e.Transport != "ssh" && (in.Password != "" || in.PasswordEnv != "" || in.KeyPath != "" || in.Fingerprint != "") {
		return e, fmt.Errorf("password, password_env, key_path and fingerprint are for ssh sessions")
	}
	return e, nil
}

// spec is the session an agent asks for, within the operator's defaults:
// the agent's allow and deny lists only narrow the operator's policy.
func (s *Server) spec(in createIn) (journal.SessionSpec, error) {
	sp := s.set.Defaults
	var err error
	if sp.Endpoint, err = endpoint(in); err != nil {
		return sp, err
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
	budget := in.Budget
	if !in.OutputBudget.isZero() {
		if !budget.isZero() {
			return sp, fmt.Errorf("give budget or output_budget, not both")
		}
		budget = in.OutputBudget
	}
	if !budget.isZero() {
		if sp.Budget, err = budget.budget(); err != nil {
			return sp, err
		}
	}
	switch {
	case in.TimeoutSecs < 0 || in.TimeoutMS < 0 || in.TimeoutSecs > 0 && in.TimeoutMS > 0:
		return sp, fmt.Errorf("give one positive timeout: timeout_ms or timeout_secs")
	case in.TimeoutMS > 0:
		sp.TimeoutMS = int64(in.TimeoutMS)
	case in.TimeoutSecs > 0:
		sp.TimeoutMS = int64(in.TimeoutSecs * 1000)
	}
	// The checkpoint repository is the default one for the workspace; the
	// operator's excludes apply to every workspace, the agent's add to them.
	ws, err := subdir(in.Workspace, in.Paths)
	if err != nil {
		return sp, err
	}
	sp.Workspace, sp.CheckpointMode, sp.CheckpointDir = ws, in.Checkpoint, ""
	if in.AutoSnapshot != unset {
		mode := session.CheckpointAuto
		if in.AutoSnapshot == no {
			mode = session.CheckpointManual
		}
		if in.Checkpoint != "" && in.Checkpoint != mode {
			return sp, fmt.Errorf("auto_snapshot and checkpoint disagree")
		}
		sp.CheckpointMode = mode
	}
	if ws == "" {
		if len(in.CheckpointIgnores) > 0 || in.Checkpoint != "" || in.AutoSnapshot != unset {
			return sp, fmt.Errorf("checkpoint, auto_snapshot and checkpoint_ignores need a workspace")
		}
		sp.Exclude = nil
	} else {
		sp.Exclude = append(append([]string(nil), sp.Exclude...), in.CheckpointIgnores...)
	}
	return sp, nil
}

// errKeyPath is the one answer to a key_path that cannot be used: it says
// nothing of whether the file exists.
var errKeyPath = errors.New("key_path is not permitted: name a private key file inside the operator's key directory")

// env is the operator's environment for a session, with the agent's SSH
// choices: a password (given, or by the name of the server's environment
// variable), a key inside the key directory, a pinned host key.
func (s *Server) env(in createIn) (target.Env, error) {
	env := s.set.Env
	env.Secrets = append([]safety.Secret(nil), env.Secrets...)
	if in.Password != "" && in.PasswordEnv != "" {
		return env, fmt.Errorf("give password or password_env, not both")
	}
	pw := in.Password
	if in.PasswordEnv != "" {
		v, ok := os.LookupEnv(in.PasswordEnv)
		if !ok || v == "" {
			return env, fmt.Errorf("password_env %s: the server has no such environment variable", in.PasswordEnv)
		}
		pw = v
	}
	if pw != "" {
		env.SSH.Password = pw
		env.Secrets = append(env.Secrets, safety.Secret{Name: "ssh password", Value: pw})
	}
	if in.KeyPath != "" {
		p, err := confineKey(env.SSH.KeyDir, in.KeyPath)
		if err != nil {
			return env, err
		}
		env.SSH.Identities = []string{p}
	}
	if in.Fingerprint != "" {
		if !strings.HasPrefix(in.Fingerprint, "SHA256:") {
			return env, fmt.Errorf("fingerprint: want SHA256:… as ssh-keygen -l prints it")
		}
		env.SSH.HostKeyMode, env.SSH.Fingerprints = "fingerprint", []string{in.Fingerprint}
	}
	return env, nil
}

// confineKey resolves key inside dir (default ~/.ssh), links followed; any
// failure is errKeyPath.
func confineKey(dir, key string) (string, error) {
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", errKeyPath
		}
		dir = filepath.Join(home, ".ssh")
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", errKeyPath
	}
	p := key
	if !filepath.IsAbs(p) {
		p = filepath.Join(realDir, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", errKeyPath
	}
	rel, err := filepath.Rel(realDir, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", errKeyPath
	}
	if fi, err := os.Stat(real); err != nil || !fi.Mode().IsRegular() {
		return "", errKeyPath
	}
	return real, nil
}

// create opens a session as session_create asks, within the settings.
func (s *Server) create(ctx context.Context, in createIn) (SessionInfo, error) {
	sp, err := s.spec(in)
	if err != nil {
		return SessionInfo{}, err
	}
	if err := s.allowed(sp.Transport, sp.Address); err != nil {
		return SessionInfo{}, err
	}
	if err := target.Check(sp, s.set.Env.Registry); err != nil {
		return SessionInfo{}, err
	}
	env, err := s.env(in)
	if err != nil {
		return SessionInfo{}, err
	}
	if s.set.MaxSessions != NoSessions {
		s.reapIdle()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return SessionInfo{}, fmt.Errorf("the server is shutting down")
	}
	if max := s.set.MaxSessions; max == NoSessions || len(s.sessions)+len(s.pending) >= max {
		s.mu.Unlock()
		if max == NoSessions {
			return SessionInfo{}, fmt.Errorf("session limit reached: the operator allows no sessions here")
		}
		return SessionInfo{}, fmt.Errorf("session limit reached: %d sessions are open, the most allowed; close one with session_destroy", max)
	}
	id := s.newID(sessionDesc(sp.Transport, sp.Address))
	s.pending[id] = true
	s.mu.Unlock()
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
	s.set.Audit.Open(id, o.Kind)
	return info, nil
}
