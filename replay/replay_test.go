package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
)

// record runs cmds in a local session with a journal and returns its path.
func record(t testing.TB, sp journal.SessionSpec, secrets []safety.Secret, cmds ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp.Transport = "local"
	o, err := target.Open(context.Background(), sp, &target.Env{Journal: j, Secrets: secrets}, "")
	if err != nil {
		t.Fatal(err)
	}
	s := o.Session
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

func TestSecretsAndTimeouts(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	const value = "s3cr3t-value-77"
	path := record(t, journal.SessionSpec{Dir: dir, TimeoutMS: 300}, []safety.Secret{{Name: "API_TOKEN", Value: value}},
		"touch "+marker+"; echo "+value, "sleep 5")
	os.Remove(marker)
	p := plan(t, path)
	if p.Entries[0].Command != "touch "+marker+"; echo ${secret:API_TOKEN}" {
		t.Fatalf("recorded command: %q", p.Entries[0].Command)
	}
	n, _ := ParseNormalize("all")
	// Without the secret nothing runs.
	_, err := Run(context.Background(), p, Options{Normalizer: n})
	if !errors.Is(err, ErrMissingSecret) {
		t.Fatalf("missing secret: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a command ran although a secret was missing")
	}
	rep, err := Run(context.Background(), p, Options{Normalizer: n, Secrets: map[string]string{"API_TOKEN": value}})
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
