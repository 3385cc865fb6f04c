package undo

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// genWorkspace writes files files totalling about size bytes, spread over
// nested directories, with contents that do not compress away.
func genWorkspace(b *testing.B, ws string, files, size int) []string {
	r := rand.New(rand.NewSource(1))
	per := size / files
	buf := make([]byte, per*2)
	r.Read(buf)
	var paths []string
	for i := 0; i < files; i++ {
		dir := filepath.Join(ws, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("s%02d", (i/50)%20))
		os.MkdirAll(dir, 0o755)
		p := filepath.Join(dir, fmt.Sprintf("f%05d.dat", i))
		off := r.Intn(per)
		if err := os.WriteFile(p, buf[off:off+per], 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// gitCLI runs git with a separate GIT_DIR on the workspace.
func gitCLI(b *testing.B, gitDir, ws string, args ...string) string {
	cmd := exec.Command("git", append([]string{"--git-dir=" + gitDir, "--work-tree=" + ws}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@b", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@b")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// BenchmarkCheckpoint10k compares checkpoints of a generated 10,000-file,
// ~100 MB workspace with the git CLI using a separate GIT_DIR, in the same
// run: the first checkpoint, an unchanged tree, 10 files changed, and the
// restore of 10 files. Each figure after the first is the median of 7
// rounds. Targets (DESIGN.md): unchanged ≤ 20 ms, 10 changed ≤ 60 ms,
// restore ≤ 50 ms, first ≤ the git CLI's; with the watcher, unchanged ≤
// 0.2× git (≤ 2 ms), 10 changed ≤ 0.5× git, restore ≤ 0.5× git's
// read-tree.
func BenchmarkCheckpoint10k(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		ours, theirs := filepath.Join(b.TempDir(), "ws"), filepath.Join(b.TempDir(), "ws")
		pathsA := genWorkspace(b, ours, 10000, 100<<20)
		pathsB := genWorkspace(b, theirs, 10000, 100<<20)
		gitDir := filepath.Join(b.TempDir(), "git")
		gitCLI(b, gitDir, theirs, "init", "-q")
		s, err := OpenLocal(Options{Workspace: ours, Dir: filepath.Join(b.TempDir(), "cp")})
		if err != nil {
			b.Fatal(err)
		}
		commit := func() {
			gitCLI(b, gitDir, theirs, "add", "-A")
			gitCLI(b, gitDir, theirs, "commit", "-q", "--allow-empty", "-m", "cp")
		}
		b.ResetTimer()
		t0 := time.Now()
		first, err := s.Checkpoint(ctx, "first")
		if err != nil {
			b.Fatal(err)
		}
		firstOurs := time.Since(t0)
		t0 = time.Now()
		commit()
		firstGit := time.Since(t0)

		var unOurs, unGit, chOurs, chGit, rsOurs, rsGit []time.Duration
		base := first
		for round := 0; round < 7; round++ {
			t0 = time.Now()
			if _, err := s.Checkpoint(ctx, "same"); err != nil {
				b.Fatal(err)
			}
			unOurs = append(unOurs, time.Since(t0))
			t0 = time.Now()
			gitCLI(b, gitDir, theirs, "add", "-A") // finds nothing to stage
			unGit = append(unGit, time.Since(t0))

			for k := 0; k < 10; k++ {
				j := (round*10 + k) * 37 % len(pathsA)
				msg := []byte(fmt.Sprintf("round %d edit %d\n", round, k))
				os.WriteFile(pathsA[j], msg, 0o644)
				os.WriteFile(pathsB[j], msg, 0o644)
			}
			t0 = time.Now()
			if _, err := s.Checkpoint(ctx, "edit"); err != nil {
				b.Fatal(err)
			}
			chOurs = append(chOurs, time.Since(t0))
			t0 = time.Now()
			commit()
			chGit = append(chGit, time.Since(t0))

			// Restore the 10 files to the checkpoint before the edit.
			t0 = time.Now()
			ch, err := s.Restore(ctx, base.ID, false)
			if err != nil || len(ch) != 10 {
				b.Fatal(err, len(ch))
			}
			rsOurs = append(rsOurs, time.Since(t0))
			t0 = time.Now()
			gitCLI(b, gitDir, theirs, "read-tree", "-u", "--reset", "HEAD~1")
			rsGit = append(rsGit, time.Since(t0))
			// Record the restored state on both sides (untimed), so that
			// the next round starts from an unchanged tree.
			if base, err = s.Checkpoint(ctx, "restored"); err != nil {
				b.Fatal(err)
			}
			commit()
		}
		b.StopTimer()
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(firstOurs), "first-ms")
		b.ReportMetric(ms(firstGit), "first-git-ms")
		b.ReportMetric(ms(median(unOurs)), "unchanged-ms")
		b.ReportMetric(ms(median(unGit)), "unchanged-git-ms")
		b.ReportMetric(ms(median(chOurs)), "changed10-ms")
		b.ReportMetric(ms(median(chGit)), "changed10-git-ms")
		b.ReportMetric(ms(median(rsOurs)), "restore10-ms")
		b.ReportMetric(ms(median(rsGit)), "restore10-git-ms")
		ratio := func(a, b []time.Duration) float64 { return float64(median(a)) / float64(median(b)) }
		b.ReportMetric(ratio(unOurs, unGit), "unchanged/git")
		b.ReportMetric(ratio(chOurs, chGit), "changed10/git")
		b.ReportMetric(ratio(rsOurs, rsGit), "restore10/git")
	}
}
