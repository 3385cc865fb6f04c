// Package session turns a transport's shell process into a persistent,
// stateful shell that returns a structured Result for every command.
//
// # Framing
//
// Each command is sent to the shell as one framed unit with a fresh random
// nonce. The command text travels single-quoted and runs through eval, so no
// text in it can break the frame. The shell marks the start and the end of
// each output stream with the nonce, and reports the exit code, the working
// directory and the exported environment after the end marker. The markers
// are written through file descriptors saved at start-up, so a command that
// redirects or closes its stdout or stderr cannot hide them, and the marker
// bytes never appear literally in the frame, so a shell echoing its input
// (set -v) cannot forge them.
//
// # Timeouts and recovery
//
// When a command outlives its timeout, the session tells the shell to
// abandon the command line (SIGUSR2, which the frame traps) and interrupts
// the processes the command started (SIGINT, then SIGKILL after a grace
// period) through the transport's side channel, leaving the shell and its
// state alone. Only when the shell itself does not come back (a stopped
// shell, a broken frame) is it killed and a new one started with the last
// known working directory and exported environment; a command that may
// have broken the frame (enable, readonly, exec, a function named like a
// builtin…) is followed by an empty framed command, and the shell is
// replaced at once if that does not come back clean. The same happens when
// a command ends the shell (exit, exec, set -e): the Result says so and the
// next Exec runs in the re-spawned shell, unless Options.NoRespawn is set.
package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/undo"
)

// Defaults for the zero Options.
const (
	DefaultTimeout        = 10 * time.Minute
	DefaultMaxOutputBytes = 1 << 20
	DefaultKillGrace      = 500 * time.Millisecond
	// MaxCommandBytes bounds the text of one command.
	MaxCommandBytes = 1 << 20
	// ExitTimedOut and ExitCanceled are the exit codes of a command line
	// stopped at its timeout and by its caller, as timeout(1) and Ctrl-C
	// report them.
	ExitTimedOut = 124
	ExitCanceled = 130
)

// Errors returned by Session methods. Other errors wrap these or come from
// the transport.
var (
	ErrClosed         = errors.New("session: closed")
	ErrInvalidCommand = errors.New("session: invalid command")
	ErrShellEnded     = errors.New("session: shell ended")
	// ErrJournal means the journal could not record a command; a command
	// whose intent could not be recorded did not run.
	ErrJournal = errors.New("session: not recorded")
	// ErrInvalidOptions means the options of an Exec cannot be applied.
	ErrInvalidOptions = errors.New("session: invalid options")
	// ErrCheckpoint means the workspace checkpoint before a command could
	// not be taken; the command did not run.
	ErrCheckpoint = errors.New("session: no workspace checkpoint, so the command did not run")
)

// Options configure a Session. The zero value is a bash (or sh) session in
// the transport's default directory and environment. The journal records
// them as a journal.SessionSpec (Session.Spec, OptionsFromSpec).
type Options struct {
	// Endpoint says where the shell runs, for the journal's record of the
	// session (the opener in package target sets it); empty Transport
	// means the transport's own description.
	Endpoint journal.Endpoint
	// Shell is the shell to run: "bash", "sh" or a path. Empty means bash
	// when the target has it, sh otherwise.
	Shell string
	// Dir is the initial working directory. Empty means the target's default.
	Dir string
	// Env is the initial environment ("NAME=value"). Nil means the
	// transport's default.
	Env []string
	// TTY runs commands with a pseudo-terminal as stdin and stdout (stderr
	// stays separate). Reads of the terminal return end-of-file at once.
	TTY bool
	// Timeout is the default per-command timeout. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxOutputBytes is how many bytes of each stream are kept (the first and
	// the last half). Zero means DefaultMaxOutputBytes. Output past it is
	// drained and counted, never buffered.
	MaxOutputBytes int
	// KillGrace is how long a timed-out command gets after SIGINT, and again
	// after SIGKILL, before the shell itself is replaced. Zero means
	// DefaultKillGrace.
	KillGrace time.Duration
	// NoRespawn makes the session report ErrShellEnded instead of starting a
	// new shell when a command ends the shell (exit, exec, set -e). A shell
	// the session itself gives up on (stuck after an interrupt, its frame
	// broken by a command) is still replaced.
	NoRespawn bool
	// Secrets are literal values the operator names: they are redacted from
	// output ([REDACTED:secret:NAME]) and stored in commands as
	// ${secret:NAME}. Values of the session's secret-looking environment
	// variables (…TOKEN, …PASSWORD, …) are added automatically.
	Secrets []safety.Secret
	// Policy is checked before every command; a command it refuses never
	// runs and comes back with Blocked set. Nil allows everything.
	Policy *safety.Policy
	// Enforce says where the policy holds. EnforceText checks each
	// command's text before it runs. EnforceExec also checks every
	// program any process of the command starts, when it starts (the exec
	// fence: the local transport on Linux); a refused start fails with
	// EACCES in the command and is listed in Result.Fence. With
	// EnforceExec the session does not start where the fence cannot run;
	// "" (auto) is EnforceExec where it can, EnforceText elsewhere, and
	// Session.Enforcement says which and why.
	Enforce string
	// Raw returns output as printed: terminal escape sequences, control
	// characters and carriage-return overwrites are kept. By default they
	// are removed (safety.Sanitize) before the caller or the journal sees
	// the output.
	Raw bool
	// Budget shapes each stream's text (head/tail/grep by line, a character
	// cap) after redaction; ExecOptions.Budget overrides it.
	Budget safety.Budget
	// NoRedact turns secret redaction off. Output is then returned and
	// stored as printed.
	NoRedact bool
	// ID names the session in the journal; empty means a random one.
	ID string
	// Journal, when set, records every Exec: the intent before the command
	// runs (if that fails the command does not run) and the completion
	// before the result is returned.
	Journal *journal.Journal
	// Checkpoints, when set, keeps workspace checkpoints: in CheckpointAuto
	// mode one is taken before every command that may change files (if it
	// cannot be taken, the command does not run), and its id goes into the
	// journal entry and the result.
	Checkpoints undo.Store
	// CheckpointMode is CheckpointAuto (the default when Checkpoints is
	// set), CheckpointManual (only Session.Checkpoint) or CheckpointOff.
	CheckpointMode string
}

// Enforcement modes.
const (
	EnforceExec = "exec"
	EnforceText = "text"
)

// Checkpoint modes.
const (
	CheckpointAuto   = "auto"
	CheckpointManual = "manual"
	CheckpointOff    = "off"
)

// ExecOptions adjust one command. The zero value uses the session's options.
type ExecOptions struct {
	// Timeout overrides Options.Timeout when positive.
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxOutputBytes overrides Options.MaxOutputBytes when positive.
	MaxOutputBytes int `json:"max_output_bytes,omitempty"`
	// Budget overrides Options.Budget when set.
	Budget *safety.Budget `json:"budget,omitempty"`
	// Output, when set, receives the command's output as it arrives, as
	// the result will hold it (redacted, unless the session has NoRedact),
	// before any size limit or budget: stream is "stdout" or "stderr". It
	// is called from the goroutines reading the shell and must return
	// quickly; p is valid only during the call.
	Output func(stream string, p []byte) `json:"-"`
}

// StreamInfo reports how much of one stream was kept.
type StreamInfo struct {
	Bytes   int64 `json:"bytes"`   // bytes the command wrote
	Kept    int64 `json:"kept"`    // bytes in the result
	Dropped int64 `json:"dropped"` // bytes left out of the result
	// DroppedAt is the offset in the kept bytes where the dropped bytes
	// were; meaningful only when Dropped > 0.
	DroppedAt int64 `json:"dropped_at,omitempty"`
	// Mode is the budget applied; LinesTotal and LinesKept count lines
	// before and after it, and BudgetDropped the bytes it left out.
	Mode          string `json:"mode,omitempty"`
	LinesTotal    int    `json:"lines_total,omitempty"`
	LinesKept     int    `json:"lines_kept,omitempty"`
	BudgetDropped int64  `json:"budget_dropped,omitempty"`
}

// FenceHit is a program start the exec fence refused.
type FenceHit = journal.FenceHit

// Result is the outcome of one command. A non-zero exit code is data here,
// not an error.
type Result struct {
	Command  string        `json:"command"`
	Stdout   string        `json:"stdout"`
	Stderr   string        `json:"stderr"`
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for JSON readers.
	DurationMS float64 `json:"duration_ms"`
	// CwdBefore and Cwd are the working directory before and after.
	CwdBefore string `json:"cwd_before"`
	Cwd       string `json:"cwd"`
	// TimedOut: the command was interrupted at its timeout.
	TimedOut bool `json:"timed_out"`
	// Canceled: the command was interrupted because the context ended.
	Canceled bool `json:"canceled,omitempty"`
	// ShellEnded: the shell exited during the command (exit, exec, set -e)
	// or had to be killed; ExitCode is then the shell's.
	ShellEnded bool `json:"shell_ended"`
	// Respawned: a new shell was started afterwards, with the working
	// directory and exported environment restored.
	Respawned bool `json:"respawned,omitempty"`
	// FrameBroken: what ends a command's frame failed during or right
	// after it (the command, or one before it, tampered with the shell's
	// frame), and the shell was replaced. The exit code, working directory
	// and end of output may then not be the command's own: the result is
	// not to be trusted.
	FrameBroken bool `json:"frame_broken,omitempty"`
	// Blocked: the policy refused the command, which did not run; Decision
	// says which rule and why, and ExitCode is 126.
	Blocked  bool             `json:"blocked,omitempty"`
	Decision *safety.Decision `json:"decision,omitempty"`
	// Fence lists the program starts the exec fence refused while the
	// command ran (each failed with EACCES in the command).
	Fence []FenceHit `json:"fence,omitempty"`
	// Entry is the command's journal entry, when the session has a journal.
	Entry uint64 `json:"entry,omitempty"`
	// Checkpoint is the workspace checkpoint taken before the command, when
	// the session keeps checkpoints.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Truncated: some output was dropped; see StdoutInfo and StderrInfo.
	Truncated  bool       `json:"truncated"`
	StdoutInfo StreamInfo `json:"stdout_info"`
	StderrInfo StreamInfo `json:"stderr_info"`
}

// Session is a persistent shell. Exec calls are serialised; Close may be
// called at any time, from any goroutine.
type Session struct {
	tr   transport.Transport
	opts Options

	mu  sync.Mutex // held by Exec and respawn
	sh  *shell
	cwd string
	env []string // last exported environment the shell reported
	// prevCwd and prevEnv are cwd and env before the last command's
	// result was taken up: put back when the shell is found ended by a
	// broken frame after it (that result may have been forged).
	prevCwd string
	prevEnv []string
	watch   envWatch
	id      string
	ended   bool             // the journal says the session ended
	red     *safety.Redactor // nil with NoRedact
	redKey  string           // the secrets red was built with
	fresh   bool             // the shell was just started: the next command reports env
	closing chan struct{}
	once    sync.Once
	spec    journal.SessionSpec

	// The exec fence: enforce is the mode in force and enforceNote why it
	// is not exec (both under fmu), guard the policy's run-time check, and
	// hits the starts it refused since the running command began (under
	// fmu: the fence's goroutine adds to it).
	enforce     string
	enforceNote string
	guard       *safety.ExecGuard
	fmu         sync.Mutex
	hits        []FenceHit
}

// New starts a shell through tr and returns the session.
func New(ctx context.Context, tr transport.Transport, opts Options) (*Session, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = DefaultKillGrace
	}
	if err := opts.Budget.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	switch opts.CheckpointMode {
	case "":
		opts.CheckpointMode = CheckpointOff
		if opts.Checkpoints != nil {
			opts.CheckpointMode = CheckpointAuto
		}
	case CheckpointAuto, CheckpointManual, CheckpointOff:
	default:
		return nil, fmt.Errorf("%w: checkpoint mode %q: want auto, manual or off", ErrInvalidOptions, opts.CheckpointMode)
	}
	if opts.Checkpoints == nil && opts.CheckpointMode != CheckpointOff {
		return nil, fmt.Errorf("%w: checkpoint mode %s needs a workspace", ErrInvalidOptions, opts.CheckpointMode)
	}
	switch opts.Enforce {
	case "", EnforceExec, EnforceText:
	default:
		return nil, fmt.Errorf("%w: enforce %q: want exec or text", ErrInvalidOptions, opts.Enforce)
	}
	s := &Session{tr: tr, opts: opts, env: opts.Env, closing: make(chan struct{}), id: opts.ID, spec: specOf(opts, tr)}
	if s.id == "" {
		s.id = newNonce()[:12]
	}
	s.enforce = EnforceText
	if opts.Enforce != EnforceText && !opts.Policy.Empty() {
		s.enforce, s.guard = EnforceExec, opts.Policy.ExecGuard(pathOf(opts.Env))
	}
	sh, err := s.startShell(ctx, opts.Dir, opts.Env)
	if err != nil {
		return nil, err
	}
	s.sh = sh
	s.fresh = true
	s.updateRedactor()
	// One empty command learns the starting directory and environment.
	s.mu.Lock()
	_, err = s.execLocked(ctx, ":", ExecOptions{})
	s.mu.Unlock()
	if err != nil {
		sh.close()
		return nil, fmt.Errorf("session: first command: %w", err)
	}
	if opts.Journal != nil {
		kind, target := transport.Describe(tr)
		mode, note := s.Enforcement()
		rec := journal.Session{ID: s.id, Transport: kind, Target: target, Spec: s.spec, Enforced: mode, EnforceNote: note}
		if err := opts.Journal.AddSession(rec); err != nil {
			sh.close()
			return nil, fmt.Errorf("%w: %w", ErrJournal, err)
		}
	}
	return s, nil
}

// startShell starts a shell, under the exec fence when the session
// enforces the policy at program starts; in auto mode a transport that
// cannot fence starts it without, and the session says so.
func (s *Session) startShell(ctx context.Context, dir string, env []string) (*shell, error) {
	mode, _ := s.Enforcement()
	if mode != EnforceExec {
		return startShell(ctx, s.tr, s.opts, dir, env, nil)
	}
	sh, err := startShell(ctx, s.tr, s.opts, dir, env, s.checkExec)
	if errors.Is(err, transport.ErrNoExecFence) && s.opts.Enforce == "" {
		s.fmu.Lock()
		s.enforce, s.enforceNote = EnforceText, strings.TrimPrefix(err.Error(), "session: start shell: ")
		s.fmu.Unlock()
		return startShell(ctx, s.tr, s.opts, dir, env, nil)
	}
	return sh, err
}

// Enforcement says where the policy holds: EnforceExec or EnforceText,
// and when the exec fence was wanted but cannot run here, why. It does
// not wait for a running command.
func (s *Session) Enforcement() (mode, note string) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.enforce, s.enforceNote
}

// maxFenceHits bounds the refused starts kept for one command.
const maxFenceHits = 64

// checkExec is the exec fence's check: the policy's run-time verdict on
// one program start; refusals are kept for the running command's result.
func (s *Session) checkExec(e *transport.ExecStart) error {
	d := s.guard.Check(e.Path, e.Resolved, e.File, e.Argv)
	if d.Allowed {
		return nil
	}
	hit := FenceHit{Program: e.Resolved, Command: e.Line(), Rule: d.Rule, Reason: d.Reason, PID: e.PID}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	n := len(s.hits)
	// A shell tries each directory of PATH in turn: one hit per start.
	if n < maxFenceHits && (n == 0 || s.hits[n-1].PID != hit.PID || s.hits[n-1].Command != hit.Command) {
		s.hits = append(s.hits, hit)
	}
	return errors.New(d.Reason)
}

// takeFenceHits returns the refused starts since the last call, redacted.
func (s *Session) takeFenceHits() []FenceHit {
	s.fmu.Lock()
	hits := s.hits
	s.hits = nil
	s.fmu.Unlock()
	for i := range hits {
		hits[i].Command = s.storedCommand(hits[i].Command)
		hits[i].Reason = s.storedCommand(hits[i].Reason)
	}
	return hits
}

// pathOf is the PATH of an environment; nil means this process's.
func pathOf(env []string) string {
	if env == nil {
		return os.Getenv("PATH")
	}
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return ""
}

// updateRedactor builds the redactor again when the secrets it must know
// (the operator's and the environment's) changed.
func (s *Session) updateRedactor() {
	if s.opts.NoRedact {
		return
	}
	secrets := append(append([]safety.Secret(nil), s.opts.Secrets...), safety.SecretEnv(s.env)...)
	var key strings.Builder
	for _, sec := range secrets {
		key.WriteString(sec.Name + "\x00" + sec.Value + "\x00")
	}
	if s.red != nil && key.String() == s.redKey {
		return
	}
	s.red, s.redKey = safety.NewRedactor(secrets), key.String()
}

// ID returns the session's id, as recorded in the journal.
func (s *Session) ID() string { return s.id }

// Cwd returns the working directory after the last command.
func (s *Session) Cwd() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cwd
}

// Env returns the exported environment after the last command.
func (s *Session) Env() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.env...)
}

// ShellKind returns "bash" or "sh": the dialect of the running shell.
func (s *Session) ShellKind() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sh == nil {
		return ""
	}
	return s.sh.kind
}

// Close ends the shell and every process it started. It is idempotent and
// interrupts a running Exec, which then returns ErrClosed.
func (s *Session) Close() error { return s.CloseWith("closed") }

// CloseWith closes the session, recording in its journal why it ended
// ("destroyed", "idle", "shutdown"...): the first reason given stays.
func (s *Session) CloseWith(reason string) error {
	s.once.Do(func() { close(s.closing) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Journal != nil && !s.ended {
		s.ended = true
		// The journal may already be sealed (a writer shutting down in the
		// wrong order); the session closes all the same.
		s.opts.Journal.EndSession(s.id, reason)
	}
	if s.sh == nil {
		return nil
	}
	err := s.sh.close()
	s.sh = nil
	return err
}

func (s *Session) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// Exec runs cmd in the session's shell and returns its Result.
//
// The error is non-nil only when no trustworthy result exists: the command
// is invalid (ErrInvalidCommand), the session is closed (ErrClosed), the
// journal could not record it (ErrJournal), the workspace checkpoint
// before it failed (ErrCheckpoint; the command did not run), the shell
// ended and may not be re-spawned (ErrShellEnded, with the Result filled
// in), a new shell could not be started, or ctx ended (ctx.Err(), after
// the command was interrupted and the session recovered; the Result has
// Canceled set).
func (s *Session) Exec(ctx context.Context, cmd string, eo ExecOptions) (Result, error) {
	if err := validateCommand(cmd); err != nil {
		return Result{Command: cmd}, err
	}
	if eo.Budget != nil {
		if err := eo.Budget.Check(); err != nil {
			return Result{Command: cmd}, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosing() {
		return Result{Command: cmd}, ErrClosed
	}
	x := &execCall{ctx: ctx, cmd: cmd, eo: eo}
	x.res = Result{Command: cmd, CwdBefore: s.cwd, Cwd: s.cwd}
	for _, st := range pipeline {
		if !st(s, x) {
			break
		}
	}
	return x.res, x.err
}

// execCall is one command on its way through the pipeline.
type execCall struct {
	ctx      context.Context
	cmd      string
	eo       ExecOptions
	decision safety.Decision
	seq      uint64 // journal entry; 0 without a journal
	res      Result
	err      error
}

// A stage is one step of the exec pipeline. It returns false to end the
// pipeline there, with x.res and x.err as the outcome.
type stage func(s *Session, x *execCall) bool

// pipeline is the exec pipeline in its documented order
// (docs/architecture.md): nothing runs before the policy allowed it and
// its intent is durable; no result is returned before its completion is.
var pipeline = []stage{
	(*Session).fence,
	(*Session).recordIntent,
	(*Session).checkpointStage,
	(*Session).runStage,
	(*Session).recordCompletion,
}

// fence checks the parsed command against the policy. A refused command
// goes on to be journaled as blocked, and no further.
func (s *Session) fence(x *execCall) bool {
	x.decision = s.opts.Policy.Check(x.cmd)
	if !x.decision.Allowed {
		x.res.Blocked, x.res.Decision, x.res.ExitCode = true, &x.decision, 126
	}
	return true
}

// recordIntent commits the intent before anything runs; without it the
// command does not run.
func (s *Session) recordIntent(x *execCall) bool {
	j := s.opts.Journal
	if j == nil {
		return !x.res.Blocked
	}
	seq, err := j.Intent(s.intent(x.cmd, x.decision))
	if err != nil {
		x.res = Result{Command: x.cmd, Blocked: x.res.Blocked, Decision: x.res.Decision, ExitCode: x.res.ExitCode, CwdBefore: s.cwd, Cwd: s.cwd}
		x.err = fmt.Errorf("%w: %w", ErrJournal, err)
		return false
	}
	x.seq, x.res.Entry = seq, seq
	return !x.res.Blocked
}

// checkpointStage checkpoints the workspace before a command that may
// change files. When that fails the command does not run, and the entry
// is completed as refused.
func (s *Session) checkpointStage(x *execCall) bool {
	if s.opts.Checkpoints == nil || s.opts.CheckpointMode != CheckpointAuto || safety.ReadOnly(x.cmd) {
		return true
	}
	c, err := s.opts.Checkpoints.Checkpoint(x.ctx, "before: "+s.storedCommand(x.cmd))
	if err == nil && x.seq != 0 {
		if jerr := s.opts.Journal.Checkpointed(x.seq, c.ID); jerr != nil {
			x.err = fmt.Errorf("%w: %w", ErrJournal, jerr)
			return false
		}
	}
	if err != nil {
		x.err = fmt.Errorf("%w: %w", ErrCheckpoint, err)
		x.res.ExitCode = 126
		if x.seq != 0 {
			c := completion(x.res)
			c.Status, c.Stderr = journal.StatusBlocked, "[execkit: the workspace checkpoint failed, so the command did not run: "+err.Error()+"]"
			if jerr := s.opts.Journal.Complete(x.seq, c); jerr != nil {
				x.err = fmt.Errorf("%w (and %w: %w)", x.err, ErrJournal, jerr)
			}
		}
		return false
	}
	x.res.Checkpoint = c.ID
	return true
}

// runStage runs the command through the framing protocol; redaction,
// sanitising and shaping happen on the way (execLocked).
func (s *Session) runStage(x *execCall) bool {
	entry, cp := x.res.Entry, x.res.Checkpoint
	eo := x.eo
	if j := s.opts.Journal; j != nil && x.seq != 0 {
		// The journal's live readers (execkit watch) see the output as it
		// comes; only the completion keeps it.
		seq, caller := x.seq, eo.Output
		eo.Output = func(stream string, p []byte) {
			j.LiveOutput(seq, stream, p)
			if caller != nil {
				caller(stream, p)
			}
		}
	}
	s.takeFenceHits() // refusals between commands (a background job) are not this command's
	x.res, x.err = s.execLocked(x.ctx, x.cmd, eo)
	x.res.Entry, x.res.Checkpoint = entry, cp
	if hits := s.takeFenceHits(); len(hits) > 0 {
		x.res.Fence = hits
		for _, h := range hits {
			x.res.Stderr += "[execkit: the exec fence refused " + h.Command + ": " + h.Reason + "]\n"
		}
	}
	return true
}

// recordCompletion commits the result before it is returned.
func (s *Session) recordCompletion(x *execCall) bool {
	if x.seq == 0 {
		return true
	}
	c := completion(x.res)
	if x.err != nil && !errors.Is(x.err, ErrShellEnded) && !x.res.Canceled {
		// No trustworthy result (the shell could not be started again, the
		// session was closed): the command's fate is unknown.
		c.Status = journal.StatusInterrupted
		c.Stderr += "\n[execkit: " + x.err.Error() + "]"
	}
	if err := s.opts.Journal.Complete(x.seq, c); err != nil {
		x.err = fmt.Errorf("%w: the command ran but its result was not recorded: %w", ErrJournal, err)
	}
	return true
}

// finish sanitises and shapes a result's text, after redaction and the byte
// caps, and reports what it did per stream.
func (s *Session) finish(r *Result, b safety.Budget) {
	for _, st := range []struct {
		text *string
		info *StreamInfo
	}{{&r.Stdout, &r.StdoutInfo}, {&r.Stderr, &r.StderrInfo}} {
		if !s.opts.Raw {
			*st.text = safety.Sanitize(*st.text)
			if s.red != nil {
				// Escape sequences inside a secret hid it from the stream
				// pass; with them gone, look once more.
				*st.text = s.red.Redact(*st.text)
			}
		}
		if b.IsZero() {
			continue
		}
		text, sh := b.Apply(*st.text)
		*st.text = text
		st.info.Mode, st.info.LinesTotal, st.info.LinesKept, st.info.BudgetDropped = sh.Mode, sh.LinesTotal, sh.LinesKept, sh.BytesDropped
		if sh.BytesDropped > 0 {
			r.Truncated = true
		}
	}
}

// intent is the journal's record of a command about to run (or blocked),
// with the command redacted.
func (s *Session) intent(cmd string, d safety.Decision) journal.Intent {
	return journal.Intent{Session: s.id, Command: s.storedCommand(cmd), CwdBefore: s.cwd,
		Decision: journal.Decision{Allowed: d.Allowed, Rule: d.Rule, Reason: d.Reason}}
}

// storedCommand is cmd as it may be kept: redacted.
// StoredCommand is cmd as the session's journal keeps it: redacted, unless
// the session was opened with NoRedact.
func (s *Session) StoredCommand(cmd string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storedCommand(cmd)
}

func (s *Session) storedCommand(cmd string) string {
	if s.red != nil {
		return s.red.RedactCommand(cmd)
	}
	return cmd
}

// completion is the journal's record of a result.
func completion(r Result) journal.Completion {
	st := journal.StatusOK
	switch {
	case r.TimedOut:
		st = journal.StatusTimedOut
	case r.Canceled:
		st = journal.StatusCanceled
	case r.ShellEnded:
		st = journal.StatusShellEnded
	case r.ExitCode != 0:
		st = journal.StatusFailed
	}
	return journal.Completion{
		Status: st, Stdout: r.Stdout, Stderr: r.Stderr, ExitCode: r.ExitCode, Cwd: r.Cwd,
		DurationMS: r.DurationMS, TimedOut: r.TimedOut, Canceled: r.Canceled, ShellEnded: r.ShellEnded, Respawned: r.Respawned, FrameBroken: r.FrameBroken,
		Stdout_: journal.StreamInfo(r.StdoutInfo), Stderr_: journal.StreamInfo(r.StderrInfo),
		Fence: r.Fence,
	}
}

// execLocked runs cmd with s.mu held.
func (s *Session) execLocked(ctx context.Context, cmd string, eo ExecOptions) (Result, error) {
	if s.sh != nil {
		select {
		case <-s.sh.proc.Done():
			// The shell ended after the last result was read (a command
			// that took its frame's nonce ends it so): a new one runs
			// this command, unless shells are not re-spawned and it ended
			// otherwise.
			code := s.sh.proc.ExitCode()
			s.sh.close()
			s.sh = nil
			if code == frameFailed {
				s.cwd, s.env = s.prevCwd, s.prevEnv
				s.updateRedactor()
			}
			if s.opts.NoRespawn && code != frameFailed {
				s.once.Do(func() { close(s.closing) })
				return Result{Command: cmd, ExitCode: code, ShellEnded: true}, ErrShellEnded
			}
		default:
		}
	}
	if s.sh == nil {
		if err := s.respawnLocked(ctx); err != nil {
			return Result{Command: cmd}, err
		}
	}
	timeout := s.opts.Timeout
	if eo.Timeout > 0 {
		timeout = eo.Timeout
	}
	maxOut := s.opts.MaxOutputBytes
	if eo.MaxOutputBytes > 0 {
		maxOut = eo.MaxOutputBytes
	}
	res, st := s.run(ctx, cmd, timeout, maxOut, eo.Output)
	if st.notRun && !s.isClosing() {
		// An earlier command took this frame's nonce (its result may have
		// been forged, and its directory and environment are not kept);
		// this one never ran: it runs once more, in a new shell.
		s.cwd, s.env = s.prevCwd, s.prevEnv
		s.updateRedactor()
		s.sh.close()
		if err := s.respawnLocked(context.WithoutCancel(ctx)); err != nil {
			s.sh = nil
			return res, fmt.Errorf("session: the shell's frame was broken and a new shell could not be started: %w", err)
		}
		res, st = s.run(ctx, cmd, timeout, maxOut, eo.Output)
		res.Respawned = true
	}
	budget := s.opts.Budget
	if eo.Budget != nil {
		budget = *eo.Budget
	}
	s.finish(&res, budget)
	if st.flush {
		// The shell announces killed background jobs ("Killed ...") after
		// its next foreground command; let that be a hidden one.
		s.run(context.WithoutCancel(ctx), "{ command true; } 2>/dev/null", 10*time.Second, 4096, nil)
	}
	if !st.shellGone && !s.isClosing() && mayBreakFrame(cmd) && !s.frameIntact(ctx) {
		// The command changed what the frame relies on (a builtin
		// disabled or shadowed, a frame variable made read-only, a saved
		// descriptor closed): the shell is replaced now, so that the next
		// command runs in a sound one.
		st.shellGone, st.replace = true, true
		res.FrameBroken = true
	}
	if st.shellGone && res.ExitCode == frameFailed {
		st.replace = true // the frame itself could not run
		res.FrameBroken = true
	}
	// A broken frame may have printed a forged trailer: its directory and
	// environment are not taken up.
	s.prevCwd, s.prevEnv = s.cwd, s.env
	if st.cwd != "" && !res.FrameBroken {
		s.cwd = st.cwd
	}
	if st.env != nil && !res.FrameBroken {
		s.env = st.env
		s.updateRedactor()
	}
	res.Cwd = s.cwd
	switch {
	case s.isClosing():
		return res, ErrClosed
	case st.shellGone:
		s.sh.close()
		s.sh = nil
		res.ShellEnded = true
		if s.opts.NoRespawn && !st.replace {
			s.once.Do(func() { close(s.closing) })
			return res, ErrShellEnded
		}
		if err := s.respawnLocked(context.WithoutCancel(ctx)); err != nil {
			return res, fmt.Errorf("session: shell ended and could not be re-spawned: %w", err)
		}
		res.Respawned = true
	}
	if res.Canceled {
		return res, ctx.Err()
	}
	return res, nil
}

// frameSensitive are the words of commands that can change what the frame
// relies on: builtins it calls, its variables and descriptors, function
// definitions that shadow builtins, options and traps.
var frameSensitive = regexp.MustCompile(`(?:^|[^A-Za-z0-9_])(?:enable|readonly|typeset|declare|local|builtin|command|exec|unset|trap|alias|shopt|set|eval|source|IFS|read|printf|export|ulimit|__ek[A-Za-z0-9_]*)(?:[^A-Za-z0-9_]|$)|(?:^|[;&|({\s])\.\s|\(\s*\)|function\s|255|/proc/|/dev/fd`)

// mayBreakFrame reports whether cmd may leave the shell unable to run the
// next frame, and so is followed by a check of the frame (frameIntact).
func mayBreakFrame(cmd string) bool { return frameSensitive.MatchString(cmd) }

// frameIntact runs an empty command through the frame and reports whether
// it came back exactly as it must: nothing on either stream, status 0, a
// complete trailer.
func (s *Session) frameIntact(ctx context.Context) bool {
	r, st := s.run(context.WithoutCancel(ctx), ":", frameCheckTimeout, 4096, nil)
	return !st.shellGone && !r.TimedOut && r.ExitCode == 0 && r.Stdout == "" && r.Stderr == "" && st.cwd != ""
}

// frameCheckTimeout bounds the frame check; a shell that cannot run an
// empty command in that time is replaced.
const frameCheckTimeout = 2 * time.Second

func validateCommand(cmd string) error {
	if strings.IndexByte(cmd, 0) >= 0 {
		return fmt.Errorf("%w: command contains a NUL byte, which no shell can take", ErrInvalidCommand)
	}
	if len(cmd) > MaxCommandBytes {
		return fmt.Errorf("%w: command is %d bytes, over the %d-byte limit", ErrInvalidCommand, len(cmd), MaxCommandBytes)
	}
	if strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("%w: empty command", ErrInvalidCommand)
	}
	return nil
}

// respawnLocked starts a new shell in the last known directory with the last
// known exported environment.
func (s *Session) respawnLocked(ctx context.Context) error {
	if s.isClosing() {
		return ErrClosed
	}
	sh, err := s.startShell(ctx, s.cwd, s.env)
	if err != nil {
		return err
	}
	s.sh = sh
	s.fresh = true
	return nil
}

// waitGrace is how long a shell whose command's processes were all killed
// gets to end the frame before it is judged stuck: ten kill graces, and
// never under five seconds.
func waitGrace(killGrace time.Duration) time.Duration {
	const factor, least = 10, 5 * time.Second
	if g := factor * killGrace; g > least {
		return g
	}
	return least
}

// runState is what one framed command reports besides its output.
type runState struct {
	cwd       string
	env       []string
	shellGone bool
	// replace says the shell went because execkit could not go on with it
	// (stuck after an interrupt, a broken frame), not because a command
	// ended it: it is replaced even when Options.NoRespawn is set.
	replace bool
	flush   bool // jobs were killed: let the shell report them, unseen
	// notRun: the shell ended before the command started, because an
	// earlier command took this frame's nonce (see bashFuncs).
	notRun bool
}

func newNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("session: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// run sends one framed command and collects its result.
func (s *Session) run(ctx context.Context, cmd string, timeout time.Duration, maxOut int, tap func(string, []byte)) (Result, runState) {
	sh := s.sh
	nonce := newNonce()
	res := Result{Command: cmd, CwdBefore: s.cwd, ExitCode: -1}
	outBuf, errBuf := newCapBuffer(maxOut), newCapBuffer(maxOut)
	if tap != nil {
		// The tap sees what the result will: sanitised unless Raw (and
		// redacted, the redactor passing complete lines on at once).
		view := func(stream string) func([]byte) {
			if s.opts.Raw {
				return func(p []byte) { tap(stream, p) }
			}
			return func(p []byte) { tap(stream, []byte(safety.Sanitize(string(p)))) }
		}
		outBuf.tap, errBuf.tap = view("stdout"), view("stderr")
	}
	out := newFrameParser(nonce, outBuf, false, s.red)
	errp := newFrameParser(nonce, errBuf, true, s.red)
	out.live, errp.live = tap != nil, tap != nil

	mark := sh.proc.MarkJobs()
	endMark := sh.endMark
	if endMark && sh.nextMark.LastPID != 0 {
		// The previous command's trailer holds the shell's mark as it
		// ended: nothing this command starts is older.
		mark.LastPID = sh.nextMark.LastPID
	} else {
		errp.wantMark = endMark // the first command: the shell reports it first
	}
	sh.nextMark = transport.JobMark{}
	// jobMark is the mark to signal by: the shell's own, once it came.
	jobMark := func() transport.JobMark {
		if errp.mark.LastPID != 0 && errp.mark.Ticks != 0 {
			m := mark
			m.LastPID, m.Ticks = errp.mark.LastPID, errp.mark.Ticks
			return m
		}
		return mark
	}
	start := time.Now()
	writeErr := make(chan error, 1)
	withEnv := s.watch.needsEnv(cmd) || s.fresh
	s.fresh = false
	sh.src.discard()
	frame := sh.dialect.frame(nonce, cmd, withEnv, errp.wantMark, endMark, sh.inLoop)
	sh.inLoop = false // until the trailer says the shell waits in it
	if len(frame) <= smallFrame {
		// The shell is idle and reading, and the pipe holds this much.
		_, err := io.WriteString(sh.proc.Input(), frame)
		writeErr <- err
	} else {
		go func() {
			_, err := io.WriteString(sh.proc.Input(), frame)
			writeErr <- err
		}()
	}

	var st runState
	next := start.Add(timeout) // when the next stage of interruption is due
	stage := 0                 // 0 running, 1 after SIGINT, 2 after SIGKILL
	ctxDone := ctx.Done()
	signalled := 0 // processes of the command that the stages reached
	interrupt := func() {
		grace := s.opts.KillGrace
		switch stage {
		case 0:
			// The shell first, whose trap then abandons the rest of the
			// command line as soon as the running command ends (see
			// bashFuncs), and then the command's processes.
			sh.proc.SignalShell(context.Background(), transport.SIGUSR2)
			n, _ := sh.proc.SignalJobs(context.Background(), transport.SIGINT, jobMark())
			signalled += n
		case 1:
			n, _ := sh.proc.SignalJobs(context.Background(), transport.SIGKILL, jobMark())
			signalled += n
			if signalled > 0 {
				// The shell was waiting for processes that are dead now;
				// all it has left to do is reap them and end the frame.
				// On a loaded machine that may take more than a grace,
				// and replacing it would take the jobs of earlier
				// commands with it, so it gets longer.
				grace = waitGrace(grace)
			}
		default:
			// The shell itself is stuck: replace it.
			st.shellGone, st.replace = true, true
		}
		next = time.Now().Add(grace)
		stage++
	}
	parsers := [2]*frameParser{out, errp}
	checked := start
	for !(out.done && errp.done) && !st.shellGone {
		now := time.Now()
		wait := next.Sub(now)
		if wait > pollSlice {
			wait = pollSlice
		}
		if wait > 0 {
			if i, data, eof, ok := sh.src.next(wait); ok {
				feed(parsers[i], data, eof)
				// While output flows, look at the clock and the signals
				// below once a slice, not once a chunk.
				if now.Sub(checked) < pollSlice {
					continue
				}
			}
		}
		checked = now
		select {
		case <-sh.proc.Done():
			st.shellGone = true
		case <-s.closing:
			st.shellGone = true
		case <-ctxDone:
			ctxDone = nil
			res.Canceled = true
			stage = 0
			interrupt()
		case err := <-writeErr:
			if err != nil {
				// The shell is gone or not reading: go straight to replacing it.
				stage, next = 2, time.Now()
			}
		default:
			if !time.Now().Before(next) {
				res.TimedOut = !res.Canceled
				interrupt()
			}
		}
	}
	if !st.shellGone && (out.state != 2 || errp.state != 2) {
		st.shellGone = true // both streams closed without a complete frame
	}
	if res.TimedOut || res.Canceled {
		// Background children of the command ignore SIGINT and outlive it.
		if n, _ := sh.proc.SignalJobs(context.Background(), transport.SIGKILL, jobMark()); n > 0 && !st.shellGone {
			st.flush = true
			// Let them die before the shell is asked about them (bounded).
			for i := 0; i < 100 && n > 0; i++ {
				time.Sleep(5 * time.Millisecond)
				n, _ = sh.proc.SignalJobs(context.Background(), transport.SIGKILL, jobMark())
			}
		}
	}
	if st.shellGone {
		// Collect what the command printed before the shell went away.
		if !s.isClosing() {
			sh.drain(out, errp, 200*time.Millisecond)
		}
		select {
		case <-sh.proc.Done():
		case <-time.After(s.opts.KillGrace):
			// Streams closed but the shell lives on: the frame is lost.
			sh.close()
		}
		res.ExitCode = sh.proc.ExitCode()
		if res.ExitCode < 0 {
			res.ExitCode = 128 + 9
		}
	} else {
		trailer := errp.trailerFields(withEnv)
		if trailer.ok {
			res.ExitCode = trailer.code
			st.cwd = trailer.cwd
			st.env = trailer.env
			sh.nextMark = trailer.mark
			sh.inLoop = !trailer.leftLoop
		}
		// An interrupted command line ends as `timeout` and Ctrl-C end
		// one, whatever its last command managed to return.
		switch {
		case res.TimedOut:
			res.ExitCode = ExitTimedOut
		case res.Canceled:
			res.ExitCode = ExitCanceled
		}
	}
	res.Duration = time.Since(start)
	res.DurationMS = float64(res.Duration.Microseconds()) / 1000
	res.Stdout = string(out.body.Bytes())
	res.Stderr = string(errp.body.Bytes())
	res.StdoutInfo = out.body.Info()
	res.StderrInfo = errp.body.Info()
	res.Truncated = res.StdoutInfo.Dropped > 0 || res.StderrInfo.Dropped > 0
	if st.shellGone && res.ExitCode == frameFailed && res.Stdout == "" {
		if stale := sh.dialect.staleFrame(frame); stale != "" && res.Stderr == stale {
			st.notRun = true
		}
	}
	return res, st
}

// frameParser follows one output stream through one framed command: bytes
// up to the end marker are the body, and on stderr the trailer follows.
type frameParser struct {
	end, trailerEnd markerScanner
	body            *capBuffer
	red             *safety.Stream // nil: no redaction
	live            bool           // flush complete lines as they come (a tap watches)
	withTrailer     bool
	state           int // 0 body, 1 trailer, 2 done
	trailer         []byte
	trailerOverflow bool
	nonce           string
	done            bool
	// wantMark: the body starts with the shell's job mark
	// (\x1eM<uptime> <newest pid>\x1e), which is taken off it; markBuf
	// holds it while it arrives, and mark is what it said.
	wantMark bool
	markBuf  []byte
	mark     transport.JobMark
}

// maxMark bounds the job mark a shell prints before its command.
const maxMark = 64

// takeMark takes the job mark off the start of the body, returning the
// bytes after it (all of p while the mark is still arriving).
func (f *frameParser) takeMark(p []byte) []byte {
	f.markBuf = append(f.markBuf, p...)
	b := f.markBuf
	if len(b) >= 2 && (b[0] != 0x1e || b[1] != 'M') || len(b) == 1 && b[0] != 0x1e {
		f.wantMark = false // no mark: the shell could not read /proc
		f.markBuf = nil
		return b
	}
	end := bytes.IndexByte(b[min(2, len(b)):], 0x1e)
	if end < 0 {
		if len(b) > maxMark {
			f.wantMark = false
			f.markBuf = nil
			return b
		}
		return nil
	}
	end += 2
	if m, ok := transport.ParseMark(string(b[2:end]), time.Now()); ok {
		f.mark = m
	}
	f.wantMark = false
	f.markBuf = nil
	return b[end+1:]
}

const maxTrailer = 16 << 20

// smallFrame is the largest frame written without a helper goroutine: well
// under the capacity of any pipe, so the write cannot block.
const smallFrame = 4096

func newFrameParser(nonce string, body *capBuffer, withTrailer bool, red *safety.Redactor) *frameParser {
	f := &frameParser{
		end:         markerScanner{marker: []byte("\x1eE" + nonce + "\x1e")},
		trailerEnd:  markerScanner{marker: []byte("\x1eT" + nonce + "\x1e")},
		body:        body,
		withTrailer: withTrailer,
		nonce:       nonce,
	}
	if red != nil {
		f.red = red.Stream(body)
	}
	return f
}

// write passes body bytes on: through the redactor when there is one, so
// that nothing is kept, returned or stored before it is scrubbed.
func (f *frameParser) write(b []byte) {
	if f.red != nil {
		f.red.Write(b)
		if f.live {
			f.red.Flush() // complete lines now, for whoever watches
		}
	} else {
		f.body.Write(b)
	}
}

// endBody flushes what the redactor held back.
func (f *frameParser) endBody() {
	if f.red != nil {
		f.red.Close()
		f.red = nil
	}
}

func (f *frameParser) feed(p []byte) {
	if f.wantMark {
		if p = f.takeMark(p); len(p) == 0 {
			return
		}
	}
	for len(p) > 0 && !f.done {
		var found bool
		switch f.state {
		case 0:
			found, p = f.end.scan(p, f.write)
		case 1:
			found, p = f.trailerEnd.scan(p, f.keepTrailer)
		}
		if !found {
			return
		}
		if f.state == 0 {
			f.endBody()
		}
		f.state++
		if f.state == 1 && !f.withTrailer {
			f.state = 2
		}
		f.done = f.state == 2
	}
}

func (f *frameParser) keepTrailer(b []byte) {
	if len(f.trailer)+len(b) > maxTrailer {
		f.trailerOverflow = true
		return
	}
	f.trailer = append(f.trailer, b...)
}

// eof ends the stream: bytes held back as a possible marker are body.
func (f *frameParser) eof() {
	if f.wantMark && len(f.markBuf) > 0 {
		f.wantMark = false
		b := f.markBuf
		f.markBuf = nil
		f.feed(b)
	}
	if f.state == 0 {
		f.end.flush(f.write)
		f.endBody()
	}
	f.done = true
}

type trailer struct {
	ok    bool
	code  int
	cwd   string
	flags string // the shell's $- after the command
	// leftLoop: the command left the frame loop (bash; see bashFuncs).
	leftLoop bool
	env      []string
	// mark is the shell's job mark at the command's end, when it was asked
	// for one.
	mark transport.JobMark
}

// trailerFields splits
// "<code>\x1eC<nonce>\x1e<cwd>\x1eF<nonce>\x1e<flags>\x1eV<nonce>\x1e<export -p>".
func (f *frameParser) trailerFields(withEnv bool) trailer {
	t := string(f.trailer)
	code, rest, ok1 := strings.Cut(t, "\x1eC"+f.nonce+"\x1e")
	cwd, rest, ok2 := strings.Cut(rest, "\x1eF"+f.nonce+"\x1e")
	flags, envText, ok3 := strings.Cut(rest, "\x1eV"+f.nonce+"\x1e")
	n, err := strconv.Atoi(code)
	if !ok1 || !ok2 || !ok3 || err != nil {
		return trailer{}
	}
	flags, markText, _ := strings.Cut(flags, "\x1eM"+f.nonce+"\x1e")
	flags, left := strings.CutSuffix(flags, " L")
	tr := trailer{ok: true, code: n, cwd: cwd, flags: flags, leftLoop: left}
	tr.mark, _ = transport.ParseMark(markText, time.Now())
	if withEnv && !f.trailerOverflow {
		if env, err := parseExportList(envText); err == nil {
			tr.env = filterEnv(env)
		}
	}
	return tr
}

// filterEnv drops the variables a shell sets for itself, which must not be
// carried into a new one.
func filterEnv(env []string) []string {
	out := env[:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SHLVL", "_", "OLDPWD", "PWD":
			continue
		}
		out = append(out, kv)
	}
	if out == nil {
		out = []string{}
	}
	return out
}
