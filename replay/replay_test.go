package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/transport/local"
)

// record runs cmds in a local session with a journal and returns its path.
func record(t testing.TB, opts session.Options, cmds ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Journal = j
	s, err := session.New(context.Background(), local.New(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if _, err := s.Exec(context.Background(), c, session.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	j.Close()
	return path
}

func plan(t testing.TB, path string) Plan {
	var p Plan
	if err := journal.Read(path, func(r *journal.Reader) error {
		var err error
		p, err = Load(r, path, Options{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

func localOpener(ctx context.Context, _ journal.Session, opts session.Options) (*session.Session, error) {
	return session.New(ctx, local.New(), opts)
}

func TestSecretsAndTimeouts(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	const value = "s3cr3t-value-77"
	path := record(t, session.Options{Dir: dir, Timeout: 300 * time.Millisecond, Secrets: []safety.Secret{{Name: "API_TOKEN", Value: value}}},
		"touch "+marker+"; echo "+value, "sleep 5")
	os.Remove(marker)
	p := plan(t, path)
	if p.Entries[0].Command != "touch "+marker+"; echo ${secret:API_TOKEN}" {
		t.Fatalf("recorded command: %q", p.Entries[0].Command)
	}
	n, _ := ParseNormalize("all")
	// Without the secret nothing runs.
	_, err := Run(context.Background(), p, Options{Open: localOpener, Normalizer: n})
	if !errors.Is(err, ErrMissingSecret) {
		t.Fatalf("missing secret: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a command ran although a secret was missing")
	}
	rep, err := Run(context.Background(), p, Options{Open: localOpener, Normalizer: n, Secrets: map[string]string{"API_TOKEN": value}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Matched != 2 {
		t.Fatalf("replay: %+v", rep.Entries)
	}
	// The second entry timed out again, at the recorded timeout.
	if d := rep.Entries[1].DurationMS; d > 3000 {
		t.Errorf("the sleep ran %v ms: the recorded timeout was not applied", d)
	}
}
