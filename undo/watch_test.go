//go:build linux

package undo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// watchedPair opens a watched store and a walking one over the same
// workspace.
func watchedPair(t *testing.T, ws string) (watched, walking *LocalStore) {
	t.Helper()
	w, err := OpenLocal(Options{Workspace: ws, Dir: filepath.Join(t.TempDir(), "w")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if w.w == nil {
		t.Fatal("no inotify watcher on this machine")
	}
	return w, nil
}

// sameAsWalk takes a checkpoint with s and with a fresh store that walks,
// and fails unless both record the same tree.
func sameAsWalk(t *testing.T, s *LocalStore, what string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Checkpoint(ctx, what); err != nil {
		t.Fatal(err)
	}
	walker, err := OpenLocal(Options{Workspace: s.ws, Dir: filepath.Join(t.TempDir(), "walk"), NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := walker.Checkpoint(ctx, what); err != nil {
		t.Fatal(err)
	}
	if s.headTree != walker.headTree {
		a, _ := s.flatten(&object.Commit{TreeHash: s.headTree})
		b, _ := walker.flatten(&object.Commit{TreeHash: walker.headTree})
		t.Errorf("%s: the watched checkpoint differs from a full walk's:\n%v\n%v", what, keysOf(a), keysOf(b))
	}
}

func keysOf(m map[string]fileState) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sh(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", script, err, out)
	}
}

// TestWatcherCheckpoints: with the watcher, an unchanged workspace is not
// walked, a changed one is read only where it changed, and every case in
// which the watcher cannot vouch for what it saw falls back to a full walk;
// in every case the checkpoint equals a full walk's.
func TestWatcherCheckpoints(t *testing.T) {
	ws := t.TempDir()
	for i := 0; i < 20; i++ {
		write(t, filepath.Join(ws, fmt.Sprintf("d%d/e/f%d.txt", i%4, i)), fmt.Sprint(i))
	}
	s, _ := watchedPair(t, ws)
	sameAsWalk(t, s, "first")
	walks := s.walks
	step := func(name string, change func(), wantWalk bool) {
		t.Helper()
		change()
		sameAsWalk(t, s, name)
		walked := s.walks > walks
		walks = s.walks
		if walked != wantWalk {
			t.Errorf("%s: full walk %v, want %v", name, walked, wantWalk)
		}
	}
	step("unchanged", func() {}, false)
	cp, _ := s.Checkpoint(context.Background(), "again")
	if !cp.Unchanged {
		t.Error("an unchanged workspace gave a new checkpoint")
	}
	step("files edited in two directories", func() {
		write(t, filepath.Join(ws, "d0/e/f0.txt"), "changed")
		write(t, filepath.Join(ws, "d1/new.txt"), "new")
		os.Remove(filepath.Join(ws, "d2/e/f2.txt"))
	}, false)
	step("mode changed", func() { os.Chmod(filepath.Join(ws, "d3/e/f3.txt"), 0o755) }, false)
	step("directory created and filled at once", func() {
		sh(t, ws, "mkdir -p n/a/b/c && echo 1 > n/a/x && echo 2 > n/a/b/c/y && ln -s x n/a/link")
	}, false)
	step("directory renamed across directories", func() { sh(t, ws, "mv n/a d1/moved") }, false)
	step("file moved across directories", func() { sh(t, ws, "mv d1/moved/x d0/x-moved") }, false)
	step("directory moved out of the workspace", func() { sh(t, ws, "mv d1/moved "+t.TempDir()+"/gone") }, false)
	step("directory moved in from outside", func() {
		out := t.TempDir()
		sh(t, out, "mkdir -p in/deep && echo 3 > in/deep/z")
		sh(t, ws, "mv "+out+"/in d3/in")
	}, false)
	step("directory removed", func() { sh(t, ws, "rm -rf d2") }, false)
	step("excluded directories ignored", func() {
		sh(t, ws, "mkdir -p node_modules/x && echo 1 > node_modules/x/y && mkdir -p .git && echo 2 > .git/z")
	}, false)
	step("queue overflow", func() {
		// Three events a file, well over the default queue of 16384.
		sh(t, ws, "cd d0/e && i=0; while [ $i -lt 7000 ]; do echo $i > f$i; i=$((i+1)); done")
	}, true)
	step("workspace replaced", func() {
		sh(t, filepath.Dir(ws), "mv "+filepath.Base(ws)+" "+filepath.Base(ws)+".old && mkdir "+filepath.Base(ws)+" && echo r > "+filepath.Base(ws)+"/r.txt")
	}, true)
	step("after the workspace was replaced", func() { write(t, filepath.Join(ws, "r2.txt"), "x") }, false)
	// A restore writes through the store; the watcher sees its writes too.
	list, _ := s.List(context.Background())
	if _, err := s.Restore(context.Background(), list[len(list)-1].ID, false); err != nil {
		t.Fatal(err)
	}
	step("after a restore", func() {}, false)
}

// TestWatcherLimit: when a watch cannot be added (the machine's watch limit
// reached), the store walks every time, and its checkpoints stay right.
func TestWatcherLimit(t *testing.T) {
	watchLimit = 3
	defer func() { watchLimit = 0 }()
	ws := t.TempDir()
	for i := 0; i < 6; i++ {
		write(t, filepath.Join(ws, fmt.Sprintf("d%d/f", i)), "x")
	}
	s, _ := watchedPair(t, ws)
	sameAsWalk(t, s, "first")
	if s.w != nil {
		t.Fatal("the watcher is still used after a watch could not be added")
	}
	walks := s.walks
	write(t, filepath.Join(ws, "d5/g"), "y")
	sameAsWalk(t, s, "second")
	if s.walks == walks {
		t.Error("without a watcher the store did not walk")
	}
}
