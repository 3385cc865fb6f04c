package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/undo"
)

// ErrNoCheckpoints means the session keeps no checkpoints.
var ErrNoCheckpoints = errors.New("session: no workspace checkpoints (no workspace was given)")

// Checkpoint takes a checkpoint of the workspace now, in any mode.
func (s *Session) Checkpoint(ctx context.Context, label string) (undo.Checkpoint, error) {
	if s.opts.Checkpoints == nil {
		return undo.Checkpoint{}, ErrNoCheckpoints
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Checkpoints.Checkpoint(ctx, label)
}

// Checkpoints returns the session's checkpoint store, or nil.
func (s *Session) Checkpoints() undo.Store { return s.opts.Checkpoints }

// Restore brings the session's workspace back to checkpoint id (see
// RestoreJournaled), recorded in the session's journal when it has one.
func (s *Session) Restore(ctx context.Context, id, label string, dryRun bool) (Restored, error) {
	if s.opts.Checkpoints == nil {
		return Restored{}, ErrNoCheckpoints
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return RestoreJournaled(ctx, s.opts.Journal, s.id, s.cwd, s.opts.Checkpoints, id, label, dryRun)
}

// Restored is what a restore did.
type Restored struct {
	// Checkpoint is the state just before the restore, taken so that the
	// restore can itself be undone.
	Checkpoint string        `json:"checkpoint,omitempty"`
	Changes    []undo.Change `json:"changes"`
	// Entry is the restore's journal entry.
	Entry  uint64 `json:"entry,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// RestoreJournaled restores checkpoint id of store. Unless dryRun, it first
// checkpoints the current state and, with a journal, records the restore
// as an entry of session sessionID whose command is label and whose
// checkpoint is that state: undoing that entry brings the state back. The
// entry's output lists the files changed.
func RestoreJournaled(ctx context.Context, j *journal.Journal, sessionID, cwd string, store undo.Store, id, label string, dryRun bool) (Restored, error) {
	if dryRun {
		ch, err := store.Restore(ctx, id, true)
		return Restored{Changes: ch, DryRun: true}, err
	}
	post, err := store.Checkpoint(ctx, "before: "+label)
	if err != nil {
		return Restored{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	out := Restored{Checkpoint: post.ID}
	var seq uint64
	if j != nil {
		seq, err = j.Intent(journal.Intent{Session: sessionID, Command: label, CwdBefore: cwd, Checkpoint: post.ID,
			Decision: journal.Decision{Allowed: true}})
		if err != nil {
			return out, fmt.Errorf("%w: %w", ErrJournal, err)
		}
		out.Entry = seq
	}
	start := time.Now()
	out.Changes, err = store.Restore(ctx, id, false)
	if j != nil {
		c := journal.Completion{Status: journal.StatusOK, Cwd: cwd, DurationMS: float64(time.Since(start).Microseconds()) / 1000}
		var b strings.Builder
		for _, ch := range out.Changes {
			b.WriteString(ch.String() + "\n")
		}
		c.Stdout = b.String()
		c.Stdout_ = journal.StreamInfo{Bytes: int64(b.Len()), Kept: int64(b.Len())}
		if err != nil {
			c.Status, c.ExitCode, c.Stderr = journal.StatusFailed, 1, err.Error()
			c.Stderr_ = journal.StreamInfo{Bytes: int64(len(c.Stderr)), Kept: int64(len(c.Stderr))}
		}
		if jerr := j.Complete(seq, c); jerr != nil && err == nil {
			err = fmt.Errorf("%w: the restore ran but was not recorded: %w", ErrJournal, jerr)
		}
	}
	return out, err
}

// EntryState is where a journal entry's workspace state is kept.
type EntryState struct {
	// Session is the entry's session; Session.Spec says where its
	// workspace and checkpoint repository are, and what they exclude.
	Session journal.Session
	// Checkpoint holds the workspace as it was just before the entry ran;
	// "" when no file changed since (the entry and everything after it in
	// its session only read).
	Checkpoint string
}

// StateBefore finds the checkpoint holding the workspace's state just
// before entry seq: the entry's own, or for an entry that took none (a
// command that only reads, in automatic mode) the next one its session
// took. Store.Diff of two entries' checkpoints lists the files changed
// between them.
func StateBefore(r *journal.Reader, seq uint64) (EntryState, error) {
	var st EntryState
	e, err := r.Entry(seq)
	if err != nil {
		return st, fmt.Errorf("entry %d: %w", seq, err)
	}
	sessions, err := r.Sessions()
	if err != nil {
		return st, err
	}
	for _, s := range sessions {
		if s.ID == e.Session {
			st.Session = s
		}
	}
	if st.Session.ID == "" {
		return st, fmt.Errorf("entry %d: its session %s is not in the journal", seq, e.Session)
	}
	if st.Session.Spec.Workspace == "" {
		return st, fmt.Errorf("entry %d: %w", seq, ErrNoCheckpoints)
	}
	if e.Checkpoint != "" {
		st.Checkpoint = e.Checkpoint
		return st, nil
	}
	if mode := st.Session.Spec.CheckpointMode; mode != CheckpointAuto {
		return st, fmt.Errorf("entry %d has no checkpoint (the session's checkpoint mode was %s)", seq, mode)
	}
	later, err := r.Entries(journal.Filter{Session: e.Session})
	if err != nil {
		return st, err
	}
	for _, l := range later {
		if l.Seq > seq && l.Checkpoint != "" {
			st.Checkpoint = l.Checkpoint
			break
		}
	}
	return st, nil
}
