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
	"time"
)

// Format identifies the file; Version is the format version this package
// writes. Readers accept files of the same major version and refuse newer
// ones with ErrNewerFormat.
const (
	Format  = "execkit-journal"
	Version = 1
)

// Sentinel errors, prefixed like their package.
var (
	ErrNewerFormat = errors.New("journal: written by a newer execkit")
	ErrNotJournal  = errors.New("journal: not an execkit journal")
	ErrInUse       = errors.New("journal: in use")
	ErrSealed      = errors.New("journal: sealed")
	ErrClosed      = errors.New("journal: closed")
	ErrNoEntry     = errors.New("journal: no such entry")
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
	ID        string          `json:"id"`
	Transport string          `json:"transport"` // local, ssh, docker
	Target    string          `json:"target,omitempty"`
	Started   time.Time       `json:"started"`
	Options   json.RawMessage `json:"options,omitempty"` // session options as configured
}

// Decision is the policy verdict recorded with an entry.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason,omitempty"`
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
	// Checkpoint is the workspace checkpoint taken before the command, when
	// the session keeps checkpoints: `execkit undo` restores it.
	Checkpoint string    `json:"checkpoint,omitempty"`
	Time       time.Time `json:"time"`
}

// Completion is what is known after it ran.
type Completion struct {
	Status     Status     `json:"status"`
	Stdout     string     `json:"stdout"` // as stored: redacted and shaped by the caller
	Stderr     string     `json:"stderr"`
	ExitCode   int        `json:"exit_code"`
	Cwd        string     `json:"cwd"`
	DurationMS float64    `json:"duration_ms"`
	TimedOut   bool       `json:"timed_out,omitempty"`
	ShellEnded bool       `json:"shell_ended,omitempty"`
	Respawned  bool       `json:"respawned,omitempty"`
	Stdout_    StreamInfo `json:"stdout_info"`
	Stderr_    StreamInfo `json:"stderr_info"`
	Time       time.Time  `json:"time"`
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
	kindIntent     = "intent"
	kindCompletion = "completion"
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
}
