package sshsuite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/target/targettest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// sshFactory opens sessions on srv through the opener, each on its own
// connection.
func sshFactory(t *testing.T, srv *sshtest.Server) sessiontest.Factory {
	e, set := targettest.SSH(t, srv)
	return targettest.Factory(t, e, set)
}

func TestSSHBash(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t, sshtest.Options{})
	open := sshFactory(t, srv)
	sessiontest.Run(t, open, sessiontest.Options{Shell: "bash", TTY: true, TempDir: tempDir(t)})
}

// TestSSHConnectionLoss: a lost connection shows as a shell that ended; the
// session connects again and restores its directory and environment, and
// when the host stays down the error says so instead of hanging.
func TestSSHConnectionLoss(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t, sshtest.Options{})
	open := sshFactory(t, srv)
	s := open(t, session.Options{})
	dir := tempDir(t)
	sessiontest.Exec(t, s, "cd "+dir+" && export EK_KEEP=kept", session.ExecOptions{})
	srv.DropConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.Exec(ctx, "echo after", session.ExecOptions{})
	if err != nil {
		t.Fatalf("Exec after the connection was dropped: %v", err)
	}
	if !r.ShellEnded || !r.Respawned {
		t.Errorf("result after a lost connection: %+v, want shell_ended and respawned", r)
	}
	r = sessiontest.Exec(t, s, `pwd; echo "$EK_KEEP"`, session.ExecOptions{})
	if r.Stdout != dir+"\nkept\n" {
		t.Errorf("state after reconnect: %q", r.Stdout)
	}
	srv.Stop()
	// With the host down the error says so instead of hanging (ctx bounds
	// the wait: a hang fails here as a canceled context).
	_, err = s.Exec(ctx, "echo gone", session.ExecOptions{})
	if err == nil || !strings.Contains(err.Error(), "connect to 127.0.0.1") {
		t.Errorf("Exec with the host down: %v", err)
	}
}

func tempDir(t *testing.T) string {
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}
