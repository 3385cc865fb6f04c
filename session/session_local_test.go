package session_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/transport/local"
)

func openLocal(t *testing.T, opts session.Options) *session.Session {
	t.Helper()
	s, err := session.New(context.Background(), local.New(), opts)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tempDir(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLocalBash(t *testing.T) {
	sessiontest.Run(t, openLocal, sessiontest.Options{Shell: "bash", TTY: true, TempDir: tempDir(t)})
}

func TestLocalSh(t *testing.T) {
	sessiontest.Run(t, openLocal, sessiontest.Options{Shell: "sh", TTY: true, TempDir: tempDir(t)})
}
