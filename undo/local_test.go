package undo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// treeDigest hashes the paths, types, modes, contents and link targets
// under ws. With excluded set it covers only excluded paths; otherwise
// only the rest.
func treeDigest(t *testing.T, ws string, m matcher, excluded bool) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == ws {
			return err
		}
		rel := filepath.ToSlash(p[len(ws)+1:])
		ex := m.excluded(rel)
		if d.IsDir() {
			if ex && !excluded {
				return filepath.SkipDir
			}
			return nil
		}
		if ex != excluded && !(excluded && underExcluded(m, rel)) {
			return nil
		}
		fi, _ := d.Info()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			lines = append(lines, rel+" link "+target)
		default:
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			lines = append(lines, fmt.Sprintf("%s %o %s", rel, fi.Mode().Perm()&0o111, hex.EncodeToString(sum[:])))
		}
		return nil
	})
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:])
}

// underExcluded reports whether a directory above rel is excluded.
func underExcluded(m matcher, rel string) bool {
	for d := parentDir(rel); d != ""; d = parentDir(d) {
		if m.excluded(d) {
			return true
		}
	}
	return false
}

// mutate applies one random change to the workspace.
func mutate(r *rand.Rand, ws string) {
	dirs := []string{"", "a", "a/b", "c", "node_modules/pkg", ".git", "deep/er/est"}
	names := []string{"f1", "f2", "x.txt", "run.sh", "l1", "data.bin"}
	pick := func() string {
		return filepath.Join(ws, dirs[r.Intn(len(dirs))], names[r.Intn(len(names))])
	} // never .git/HEAD: the test checks the user's .git keeps it
	existing := func() string {
		var all []string
		filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, "/.git/HEAD") {
				all = append(all, p)
			}
			return nil
		})
		if len(all) == 0 {
			return ""
		}
		return all[r.Intn(len(all))]
	}
	content := func() []byte {
		b := make([]byte, r.Intn(3000))
		r.Read(b)
		return b
	}
	switch r.Intn(7) {
	case 0, 1: // create or overwrite
		p := pick()
		os.MkdirAll(filepath.Dir(p), 0o755)
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			return
		}
		os.Remove(p)
		os.WriteFile(p, content(), 0o644)
	case 2: // modify in place
		if p := existing(); p != "" {
			if fi, _ := os.Lstat(p); fi.Mode().IsRegular() {
				os.WriteFile(p, content(), fi.Mode().Perm())
			}
		}
	case 3: // delete
		if p := existing(); p != "" {
			os.Remove(p)
		}
	case 4: // chmod
		if p := existing(); p != "" {
			if fi, _ := os.Lstat(p); fi.Mode().IsRegular() {
				os.Chmod(p, fi.Mode().Perm()^0o111)
			}
		}
	case 5: // symlink
		p := pick()
		os.MkdirAll(filepath.Dir(p), 0o755)
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			return
		}
		os.Remove(p)
		os.Symlink(fmt.Sprintf("../target-%d", r.Intn(5)), p)
	case 6: // rename, across directories
		if p := existing(); p != "" {
			q := pick()
			os.MkdirAll(filepath.Dir(q), 0o755)
			if fi, err := os.Lstat(q); err == nil && fi.IsDir() {
				return
			}
			os.Rename(p, q)
		}
	}
}

// TestRestoreProperty: 200 random sequences of changes with a checkpoint
// after each step; restoring any checkpoint, in random order, reproduces
// its tree exactly, leaves excluded paths (the user's .git among them) as
// they were, and the restore itself can be checkpointed again.
func TestRestoreProperty(t *testing.T) {
	ctx := context.Background()
	m := newMatcher(nil)
	for seq := 0; seq < propertyRuns; seq++ {
		r := rand.New(rand.NewSource(int64(seq)))
		ws := t.TempDir()
		os.MkdirAll(filepath.Join(ws, ".git"), 0o755)
		os.WriteFile(filepath.Join(ws, ".git", "HEAD"), []byte("ref: refs/heads/main\n"), 0o644)
		s, err := OpenLocal(Options{Workspace: ws, Dir: filepath.Join(t.TempDir(), "cp")})
		if err != nil {
			t.Fatal(err)
		}
		type state struct{ id, digest string }
		var states []state
		steps := 3 + r.Intn(8)
		for i := 0; i < steps; i++ {
			for k := 0; k < 1+r.Intn(4); k++ {
				mutate(r, ws)
			}
			cp, err := s.Checkpoint(ctx, fmt.Sprintf("step %d", i))
			if err != nil {
				t.Fatalf("seq %d step %d: %v", seq, i, err)
			}
			states = append(states, state{cp.ID, treeDigest(t, ws, m, false)})
		}
		for _, i := range r.Perm(len(states)) {
			exBefore := treeDigest(t, ws, m, true)
			if _, err := s.Restore(ctx, states[i].id, false); err != nil {
				t.Fatalf("seq %d: restore %d: %v", seq, i, err)
			}
			if got := treeDigest(t, ws, m, false); got != states[i].digest {
				t.Fatalf("seq %d: restoring checkpoint %d did not reproduce its tree", seq, i)
			}
			if treeDigest(t, ws, m, true) != exBefore {
				t.Fatalf("seq %d: restore touched excluded paths", seq)
			}
			// The restored state checkpoints as the same tree.
			cp, err := s.Checkpoint(ctx, "after restore")
			if err != nil {
				t.Fatal(err)
			}
			d, err := s.Diff(ctx, states[i].id, cp.ID)
			if err != nil || len(d) != 0 {
				t.Fatalf("seq %d: checkpoint after restore differs: %v %v", seq, d, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(ws, ".git", "HEAD")); err != nil || string(b) != "ref: refs/heads/main\n" {
			t.Fatalf("seq %d: the user's .git was touched: %q %v", seq, b, err)
		}
	}
}
