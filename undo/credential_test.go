package undo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shRunner runs scripts with this machine's sh: the remote store, driven
// the way it is over SSH or in a container.
func shRunner(ctx context.Context, script string) ([]byte, []byte, int, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), errb.Bytes(), ee.ExitCode(), nil
	}
	return out.Bytes(), errb.Bytes(), 0, err
}

// credentialWorkspace is a workspace with a key in .ssh and a file beside.
func credentialWorkspace(t *testing.T) string {
	ws := t.TempDir()
	os.MkdirAll(filepath.Join(ws, ".ssh"), 0o700)
	os.MkdirAll(filepath.Join(ws, "sub", ".aws"), 0o700)
	os.WriteFile(filepath.Join(ws, ".ssh", "id_rsa"), []byte("KEY"), 0o600)
	os.WriteFile(filepath.Join(ws, "sub", ".aws", "credentials"), []byte("AWS"), 0o600)
	os.WriteFile(filepath.Join(ws, "a.txt"), []byte("a"), 0o644)
	return ws
}

// TestCredentialDirsNeverIncluded: no exclude pattern brings a credential
// directory into a checkpoint, on the local store or the remote one.
func TestCredentialDirsNeverIncluded(t *testing.T) {
	ctx := context.Background()
	hostile := []string{"!.ssh", "!.ssh/", "!**/.ssh", "!/.ssh/id_rsa", "!sub/.aws", "x\n!.ssh", "x\r!.ssh", ""}
	for _, pat := range hostile {
		ws := credentialWorkspace(t)
		if _, err := OpenLocal(Options{Workspace: ws, Dir: t.TempDir(), Exclude: []string{pat}}); !errors.Is(err, ErrExclude) {
			t.Errorf("local store with exclude %q: %v, want ErrExclude", pat, err)
		}
		if _, err := OpenRemote(ctx, shRunner, Options{Workspace: ws, Dir: t.TempDir(), Exclude: []string{pat}}); !errors.Is(err, ErrExclude) {
			t.Errorf("remote store with exclude %q: %v, want ErrExclude", pat, err)
		}
	}
	// Patterns that do not negate still leave the credential directories
	// out; in the remote store's exclude file the defaults come last.
	for _, excl := range [][]string{nil, {"*.log"}, {".ssh/keep"}, {`\!.ssh`}} {
		ws := credentialWorkspace(t)
		r, err := OpenRemote(ctx, shRunner, Options{Workspace: ws, Dir: t.TempDir(), Exclude: excl})
		if err != nil {
			t.Fatal(err)
		}
		if cp, err := r.Checkpoint(ctx, "c"); err != nil || cp.Files != 1 {
			t.Errorf("remote checkpoint with %q: %+v, %v; want only a.txt", excl, cp, err)
		}
		l, err := OpenLocal(Options{Workspace: ws, Dir: t.TempDir(), Exclude: excl})
		if err != nil {
			t.Fatal(err)
		}
		if cp, err := l.Checkpoint(ctx, "c"); err != nil || cp.Files != 1 {
			t.Errorf("local checkpoint with %q: %+v, %v; want only a.txt", excl, cp, err)
		}
	}
}

// TestCredentialDirsNeverRestored: a checkpoint that holds a file in a
// credential directory (written by something other than execkit) is not
// restored, by either store.
func TestCredentialDirsNeverRestored(t *testing.T) {
	ctx := context.Background()
	ws := credentialWorkspace(t)
	dir := filepath.Join(t.TempDir(), "cp")
	r, err := OpenRemote(ctx, shRunner, Options{Workspace: ws, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Plant a checkpoint with .ssh/id_rsa in it, as a forger would.
	plant := exec.Command("sh", "-c", `export GIT_DIR="$1" GIT_WORK_TREE="$2" GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x
git add -f .ssh/id_rsa a.txt && git commit -qm planted && git rev-parse HEAD`, "sh", dir, ws)
	plant.Dir = ws
	out, err := plant.CombinedOutput()
	if err != nil {
		t.Fatalf("plant: %v: %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	os.Remove(filepath.Join(ws, ".ssh", "id_rsa"))
	if _, err := r.Restore(ctx, id, false); err == nil || !strings.Contains(err.Error(), "credential directory") {
		t.Errorf("remote restore of a planted checkpoint: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ws, ".ssh", "id_rsa")); err == nil {
		t.Error("the remote restore wrote .ssh/id_rsa")
	}
	// The local store reads the same kind of repository (a bare git one).
	ldir := filepath.Join(t.TempDir(), "lcp")
	if out, err := exec.Command("git", "clone", "-q", "--bare", dir, ldir).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v: %s", err, out)
	}
	l, err := OpenLocal(Options{Workspace: ws, Dir: ldir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Restore(ctx, id, false); err == nil || !strings.Contains(err.Error(), "credential directory") {
		t.Errorf("local restore of a planted checkpoint: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ws, ".ssh", "id_rsa")); err == nil {
		t.Error("the local restore wrote .ssh/id_rsa")
	}
}
