package session_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/safety/safetytest"
	"github.com/execkit/execkit/session"
)

func TestJournalRecordsEveryExec(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openLocal(t, session.Options{Journal: j, ID: "main", Timeout: 10 * time.Second})
	ctx := context.Background()
	cmds := []struct {
		cmd    string
		opts   session.ExecOptions
		want   journal.Status
		cancel bool // the caller cancels it
	}{
		{"cd " + dir + " && echo hi", session.ExecOptions{}, journal.StatusOK, false},
		{"echo err >&2; exit 3", session.ExecOptions{}, journal.StatusShellEnded, false},
		{"(exit 4)", session.ExecOptions{}, journal.StatusFailed, false},
		{"sleep 30", session.ExecOptions{Timeout: 300 * time.Millisecond}, journal.StatusTimedOut, false},
		{"sleep 31", session.ExecOptions{}, journal.StatusCanceled, true},
	}
	for i, c := range cmds {
		ctx := ctx
		if c.cancel {
			var stop context.CancelFunc
			ctx, stop = context.WithTimeout(ctx, 300*time.Millisecond)
			defer stop()
		}
		r, err := s.Exec(ctx, c.cmd, c.opts)
		if err != nil && !c.cancel {
			t.Fatal(err)
		}
		if r.Entry != uint64(i+1) {
			t.Errorf("%q: entry %d, want %d", c.cmd, r.Entry, i+1)
		}
	}
	s.Close()
	j.Close()
	err = journal.Read(path, func(r *journal.Reader) error {
		es, err := r.Entries(journal.Filter{})
		if err != nil {
			return err
		}
		if len(es) != len(cmds) {
			t.Fatalf("%d entries, want %d", len(es), len(cmds))
		}
		for i, e := range es {
			if e.Status != cmds[i].want || e.Command != cmds[i].cmd || e.Session != "main" {
				t.Errorf("entry %d: %s %q in %s, want %s", e.Seq, e.Status, e.Command, e.Session, cmds[i].want)
			}
		}
		if c := es[0].Completion; c.Stdout != "hi\n" || c.Cwd != dir {
			t.Errorf("entry 1 completion: %+v", c)
		}
		if c := es[1].Completion; c.Stderr != "err\n" || c.ExitCode != 3 || es[1].CwdBefore != dir {
			t.Errorf("entry 2: %+v", es[1])
		}
		if c := es[3].Completion; !c.TimedOut || c.Canceled || c.ExitCode != session.ExitTimedOut {
			t.Errorf("entry 4, timed out: %+v", c)
		}
		if c := es[4].Completion; c.TimedOut || !c.Canceled || c.ExitCode != session.ExitCanceled {
			t.Errorf("entry 5, cancelled: %+v", c)
		}
		ss, _ := r.Sessions()
		if len(ss) != 1 || ss[0].ID != "main" || ss[0].Transport != "local" {
			t.Errorf("sessions: %+v", ss)
		}
		if rep := r.Verify(""); !rep.OK {
			t.Errorf("verify: %q", rep.Problems)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestJournalFailsClosed(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(filepath.Join(dir, "run.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openLocal(t, session.Options{Journal: j})
	j.Close() // the journal is gone: nothing may run unrecorded
	marker := filepath.Join(dir, "ran")
	_, err = s.Exec(context.Background(), "touch "+marker, session.ExecOptions{})
	if !errors.Is(err, session.ErrJournal) {
		t.Fatalf("Exec with a closed journal: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran although its intent was not recorded")
	}
}

// TestJournalHoldsNoSecret prints every credential of the redaction corpus
// through a journaled session, in the command and on both streams, then
// searches the journal file's raw bytes for each secret.
func TestJournalHoldsNoSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openLocal(t, session.Options{Journal: j})
	ctx := context.Background()
	pos := safetytest.Corpus()
	for _, p := range pos {
		q := "'" + strings.ReplaceAll(p.Line, "'", `'\''`) + "'"
		r, err := s.Exec(ctx, "printf '%s\\n' "+q+"; printf '%s\\n' "+q+" >&2", session.ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Leaks(r.Stdout) || p.Leaks(r.Stderr) {
			t.Errorf("%s returned to the caller: %q", p.Kind, r.Stdout)
		}
	}
	// A secret the agent puts in the environment is known from then on.
	const envSecret = "zq7-env-secret-value-81x"
	s.Exec(ctx, "export DEPLOY_TOKEN="+envSecret, session.ExecOptions{})
	r, _ := s.Exec(ctx, `echo "$DEPLOY_TOKEN"`, session.ExecOptions{})
	if r.Stdout != "[REDACTED:secret:DEPLOY_TOKEN]\n" {
		t.Errorf("environment secret printed as %q", r.Stdout)
	}
	s.Close()
	j.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	leaks := 0
	for _, p := range pos {
		if p.Leaks(string(raw)) {
			leaks++
			t.Errorf("%s found in the journal file", p.Kind)
		}
	}
	if bytes.Contains(raw, []byte(envSecret)) {
		t.Error("the environment secret is in the journal file")
	}
	t.Logf("%d secrets of %d kinds printed; %d found in the journal's %d bytes", len(pos), len(safety.Kinds()), leaks, len(raw))
}

func TestJournalCloseDuringExec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openLocal(t, session.Options{Journal: j})
	go func() { time.Sleep(300 * time.Millisecond); s.Close() }()
	if _, err := s.Exec(context.Background(), "sleep 30", session.ExecOptions{}); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Exec interrupted by Close: %v", err)
	}
	j.Close()
	journal.Read(path, func(r *journal.Reader) error {
		e, err := r.Entry(1)
		if err != nil || e.Status != journal.StatusInterrupted {
			t.Errorf("entry after Close: %+v %v", e, err)
		}
		return nil
	})
}

// TestErrorChain: a journal failure keeps its chain through Exec, and its
// message says each thing once.
func TestErrorChain(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openLocal(t, session.Options{Journal: j})
	j.Close()
	_, err = s.Exec(context.Background(), "true", session.ExecOptions{})
	if !errors.Is(err, session.ErrJournal) || !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Exec with a closed journal: %v, want ErrJournal wrapping journal.ErrClosed", err)
	}
	if err != nil && strings.Count(err.Error(), "journal") > 1 {
		t.Errorf("message stutters: %q", err)
	}
}
