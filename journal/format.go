// Package journal is the durable, tamper-evident record of every command
// execkit runs: a bbolt file per run holding the run's metadata, its
// sessions, and an append-only, hash-chained log of records, one when a
// command is about to run (intent) and one when it has finished
// (completion). See docs/journal-format.md.
//
// A Journal is the writer: a single goroutine commits whatever records are
// waiting in one bbolt transaction (group commit, one fsync for all of
// them) and only then acknowledges them. A Reader opens a journal
// read-only for log, show, export and verify.
package journal

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/execkit/execkit/safety"
)

// Format identifies the file; Version is the format version this package
// writes. Readers accept files of the same major version and refuse newer
// ones with ErrNewerFormat.
const (
	Format  = "execkit-journal"
	Version = 3
)

// Sentinel errors, prefixed like their package.
var (
	ErrNewerFormat = errors.New("journal: written by a newer execkit")
	ErrNotJournal  = errors.New("journal: not an execkit journal")
	ErrCorrupt     = errors.New("journal: the file is damaged")
	// ErrEmpty is a journal file with nothing in it yet: its writer was
	// stopped while creating it. Opening it for writing starts it afresh.
	ErrEmpty   = errors.New("journal: no entries")
	ErrInUse   = errors.New("journal: in use")
	ErrSealed  = errors.New("journal: sealed")
	ErrClosed  = errors.New("journal: closed")
	ErrNoEntry = errors.New("journal: no such entry")
)

// Status is what became of an entry.
type Status string

// Entry statuses.
const (
	StatusRunning     Status = "running"     // intent committed, no completion yet (live run)
	StatusOK          Status = "ok"          // exit code 0
	StatusFailed      Status = "failed"      // non-zero exit code
	StatusBlocked     Status = "blocked"     // refused by policy, never ran
	StatusTimedOut    Status = "timed_out"   // interrupted at its timeout
	StatusCanceled    Status = "canceled"    // stopped by its caller (a cancelled request, ^C)
	StatusInterrupted Status = "interrupted" // intent without completion in a finished run
	StatusShellEnded  Status = "shell_ended" // the command ended the shell
)

// Run describes one execkit run: a record, mcp or exec invocation.
type Run struct {
	ID       string            `json:"id"`
	Version  string            `json:"execkit_version"`
	Host     string            `json:"host"`
	Started  time.Time         `json:"started"`
	Command  []string          `json:"command,omitempty"`  // the execkit command line
	Settings map[string]string `json:"settings,omitempty"` // operator settings
	Format   int               `json:"format_version"`
}

// Session describes one session of the run.
type Session struct {
	ID string `json:"id"`
	// Transport and Target say where the session ran, as the transport
	// described itself when it opened ("ssh", "deploy@build:22").
	Transport string    `json:"transport"`
	Target    string    `json:"target,omitempty"`
	Started   time.Time `json:"started"`
	// Spec is how the session was asked for: enough to open it again.
	Spec SessionSpec `json:"spec"`
	// Enforced is where the policy held: "exec" (the command's text and
	// every program start) or "text"; EnforceNote says why not "exec"
	// where it was wanted.
	Enforced    string `json:"enforced,omitempty"`
	EnforceNote string `json:"enforce_note,omitempty"`
	// Ended and EndReason say when and why the session closed, once it
	// has ("closed", "destroyed", "idle", "shutdown", "shell-ended"...).
	Ended     *time.Time `json:"ended,omitempty"`
	EndReason string     `json:"end_reason,omitempty"`
}

// SpecVersion is the version of SessionSpec this package writes.
const SpecVersion = 1

// Endpoint says where a session's shell runs.
type Endpoint struct {
	// Transport is "local", "ssh" or "docker".
	Transport string `json:"transport"`
	// Address is the SSH target as given ([user@]host[:port] or a
	// ~/.ssh/config alias) or the Docker container; empty for local.
	Address string `json:"address,omitempty"`
	// Image, for docker, ran the session in a throwaway container of this
	// image, removed since.
	Image string `json:"image,omitempty"`
	// User, for docker, is the user the shell ran as.
	User string `json:"user,omitempty"`
}

// SessionSpec is a session's configuration as the journal keeps it: where
// it ran and every setting that shapes its results. Secrets are kept by
// name only. A spec read from a version 1 journal is mapped from that
// version's session options.
type SessionSpec struct {
	Version int `json:"spec_version"`
	Endpoint
	Shell string `json:"shell,omitempty"`
	Dir   string `json:"dir,omitempty"`
	TTY   bool   `json:"tty,omitempty"`
	// TimeoutMS is the default per-command timeout; KillGraceMS how long an
	// interrupted command gets before it is killed.
	TimeoutMS      int64 `json:"timeout_ms,omitempty"`
	KillGraceMS    int64 `json:"kill_grace_ms,omitempty"`
	MaxOutputBytes int   `json:"max_output_bytes,omitempty"`
	// Budget shapes each stream's text.
	Budget safety.Budget `json:"budget,omitempty"`
	// Policy was checked before every command; nil allowed everything.
	Policy *safety.Policy `json:"policy,omitempty"`
	// Enforce is where the policy was asked to hold: "exec", "text", or
	// empty for exec where the transport can.
	Enforce     string   `json:"enforce,omitempty"`
	SecretNames []string `json:"secret_names,omitempty"`
	Raw         bool     `json:"raw,omitempty"`
	NoRedact    bool     `json:"no_redact,omitempty"`
	NoRespawn   bool     `json:"no_respawn,omitempty"`
	// Workspace is the checkpointed directory, CheckpointDir its checkpoint
	// repository, CheckpointMode "auto", "manual" or "off", and Exclude the
	// patterns left out of checkpoints and never restored (beyond the
	// built-in ones).
	Workspace      string   `json:"workspace,omitempty"`
	CheckpointDir  string   `json:"checkpoint_dir,omitempty"`
	CheckpointMode string   `json:"checkpoint_mode,omitempty"`
	Exclude        []string `json:"exclude,omitempty"`
}

// Timeout is TimeoutMS as a duration.
func (s SessionSpec) Timeout() time.Duration { return time.Duration(s.TimeoutMS) * time.Millisecond }

// KillGrace is KillGraceMS as a duration.
func (s SessionSpec) KillGrace() time.Duration {
	return time.Duration(s.KillGraceMS) * time.Millisecond
}

// UnmarshalJSON reads a session of either format version: version 1 kept
// the session's options as an untyped object under "options", mapped here
// onto Spec.
func (s *Session) UnmarshalJSON(b []byte) error {
	type plain Session
	var v struct {
		plain
		Options *legacyOptions `json:"options"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Session(v.plain)
	if s.Spec.Version == 0 {
		var o legacyOptions
		if v.Options != nil {
			o = *v.Options
		}
		s.Spec = o.spec(s.Transport, s.Target)
	}
	return nil
}

// legacyOptions is a version 1 session's "options" object.
type legacyOptions struct {
	Shell          string         `json:"shell"`
	Dir            string         `json:"dir"`
	TTY            bool           `json:"tty"`
	Timeout        time.Duration  `json:"timeout"`
	MaxOutputBytes int            `json:"max_output_bytes"`
	KillGrace      time.Duration  `json:"kill_grace"`
	NoRespawn      bool           `json:"no_respawn"`
	Policy         *safety.Policy `json:"policy"`
	Raw            bool           `json:"raw"`
	Budget         safety.Budget  `json:"budget"`
	NoRedact       bool           `json:"no_redact"`
	CheckpointMode string         `json:"checkpoint_mode"`
	Workspace      string         `json:"workspace"`
	CheckpointDir  string         `json:"checkpoint_dir"`
}

func (o legacyOptions) spec(transport, target string) SessionSpec {
	sp := SessionSpec{
		Version: SpecVersion, Endpoint: Endpoint{Transport: transport},
		Shell: o.Shell, Dir: o.Dir, TTY: o.TTY, TimeoutMS: o.Timeout.Milliseconds(), KillGraceMS: o.KillGrace.Milliseconds(),
		MaxOutputBytes: o.MaxOutputBytes, Budget: o.Budget, Policy: o.Policy, Raw: o.Raw, NoRedact: o.NoRedact,
		NoRespawn: o.NoRespawn, Workspace: o.Workspace, CheckpointDir: o.CheckpointDir, CheckpointMode: o.CheckpointMode,
	}
	switch transport {
	case "ssh":
		sp.Address = target
	case "docker":
		// Version 1 wrote a throwaway container as "IMAGE (throwaway NAME)".
		if img, _, ok := strings.Cut(target, " (throwaway "); ok {
			sp.Image = img
		} else {
			sp.Address = target
		}
	case "":
		sp.Transport = "local"
	}
	return sp
}

// Decision is the policy verdict recorded with an entry.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// FenceHit is a program start the exec fence refused while a command ran
// (docs/security-model.md): the program, its arguments as one line
// (redacted), the rule and why.
type FenceHit struct {
	Program string `json:"program"`
	Command string `json:"command"`
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	PID     int    `json:"pid,omitempty"`
}

// StreamInfo reports how much of one stream was kept.
type StreamInfo struct {
	Bytes         int64  `json:"bytes"`
	Kept          int64  `json:"kept"`
	Dropped       int64  `json:"dropped"`
	DroppedAt     int64  `json:"dropped_at,omitempty"`
	Mode          string `json:"mode,omitempty"`           // output budget applied
	LinesTotal    int    `json:"lines_total,omitempty"`    // lines before the budget
	LinesKept     int    `json:"lines_kept,omitempty"`     // lines after it
	BudgetDropped int64  `json:"budget_dropped,omitempty"` // bytes the budget left out
}

// Intent is what is known before a command runs.
type Intent struct {
	Session   string   `json:"session"`
	Command   string   `json:"command"` // as stored: already redacted by the caller
	CwdBefore string   `json:"cwd_before"`
	Decision  Decision `json:"decision"`
	// Kind is "observed" for a shell command `execkit record` saw the
	// agent start by itself, outside any session; empty for a session's.
	Kind string `json:"kind,omitempty"`
	// Argv, PID and ParentPID describe an observed command's shell: its
	// arguments (redacted), its process and the process that started it.
	Argv      []string `json:"argv,omitempty"`
	PID       int      `json:"pid,omitempty"`
	ParentPID int      `json:"parent_pid,omitempty"`
	// Checkpoint is the workspace checkpoint taken before the command, when
	// the session keeps checkpoints: `execkit undo` restores it.
	Checkpoint string    `json:"checkpoint,omitempty"`
	Time       time.Time `json:"time"`
}

// Completion is what is known after it ran.
type Completion struct {
	Status     Status  `json:"status"`
	Stdout     string  `json:"stdout"` // as stored: redacted and shaped by the caller
	Stderr     string  `json:"stderr"`
	ExitCode   int     `json:"exit_code"`
	Cwd        string  `json:"cwd"`
	DurationMS float64 `json:"duration_ms"`
	TimedOut   bool    `json:"timed_out,omitempty"`
	Canceled   bool    `json:"canceled,omitempty"`
	ShellEnded bool    `json:"shell_ended,omitempty"`
	Respawned  bool    `json:"respawned,omitempty"`
	// FrameBroken: the shell's frame failed during or right after the
	// command; its exit code, cwd and end of output may be forged.
	FrameBroken bool `json:"frame_broken,omitempty"`
	// Fence lists the program starts the exec fence refused while the
	// command ran.
	Fence   []FenceHit `json:"fence,omitempty"`
	Stdout_ StreamInfo `json:"stdout_info"`
	Stderr_ StreamInfo `json:"stderr_info"`
	Time    time.Time  `json:"time"`
}

// Entry is one command: its intent and, once finished, its completion.
type Entry struct {
	Seq    uint64 `json:"seq"`
	Status Status `json:"status"`
	Intent
	Completion *Completion `json:"completion,omitempty"`
}

// Record kinds in the chain.
const (
	kindRun        = "run"
	kindSession    = "session"
	kindSessionEnd = "session_end"
	kindIntent     = "intent"
	kindCompletion = "completion"
	kindCheckpoint = "checkpoint"
	kindSeal       = "seal"
)

// record is one link of the hash chain. Hash is the SHA-256 of Prev and the
// record's JSON with Hash empty.
type record struct {
	Seq   uint64          `json:"seq"`
	Kind  string          `json:"kind"`
	Entry uint64          `json:"entry,omitempty"`
	Time  time.Time       `json:"time"`
	Data  json.RawMessage `json:"data"`
	Prev  string          `json:"prev"`
	Hash  string          `json:"hash"`
}

// Seal closes a run: the number of records and the head of the chain. Keep
// the head somewhere else to detect a journal re-chained from scratch.
type Seal struct {
	Records uint64    `json:"records"`
	Head    string    `json:"head"`
	Time    time.Time `json:"time"`
	// Genesis is the hash of the journal's first record: it names the
	// journal in anchors, across its runs.
	Genesis string `json:"genesis,omitempty"`
}
