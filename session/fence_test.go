//go:build linux && (amd64 || arm64)

package session_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/safety/safetytest"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target/targettest"
)

// denyRm is the corpus's policy: rm is denied by name.
func denyRm(t *testing.T) *safety.Policy {
	p, err := safety.NewPolicy(nil, []string{"rm"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// enforced opens local sessions with the exec fence on, under the
// tripwire alone: a policy, so the fence is on, that refuses nothing the
// behaviour suite runs (lists would refuse what cannot be parsed).
func enforced(t *testing.T, opts session.Options) *session.Session {
	opts.Policy, opts.Enforce = safety.Merge(opts.Policy, safety.TripwirePolicy()), session.EnforceExec
	s := openLocal(t, opts)
	if mode, note := s.Enforcement(); mode != session.EnforceExec {
		t.Fatalf("enforcement %s (%s)", mode, note)
	}
	return s
}

// TestLocalBashEnforced and TestLocalShEnforced run the session behaviour
// suite with the exec fence on.
func TestLocalBashEnforced(t *testing.T) { localSuite(t, enforced, "bash") }

func TestLocalShEnforced(t *testing.T) { localSuite(t, enforced, "sh") }

// eachCase runs fn for each case as a parallel subtest of "cases",
// skipping those whose programs are not installed; it returns when all
// have ended.
func eachCase(t *testing.T, cases []safetytest.RunCase, fn func(*testing.T, safetytest.RunCase)) {
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				if m := missing(c.Needs); len(m) > 0 {
					t.Skipf("not installed: %v", m)
				}
				fn(t, c)
			})
		}
	})
}

// missing lists the programs of needs that are not installed.
func missing(needs []string) []string {
	var out []string
	for _, n := range needs {
		if _, err := exec.LookPath(n); err != nil {
			out = append(out, n)
		}
	}
	return out
}

// runCase runs setup and cmd in a new session in dir and reports the
// command's result.
func runCase(t *testing.T, dir string, p *safety.Policy, enforce string, setup []string, cmd string) session.Result {
	t.Helper()
	s := openLocal(t, session.Options{Dir: dir, Shell: "bash", Policy: p, Enforce: enforce, Timeout: 2 * time.Minute})
	defer s.Close()
	for _, c := range setup {
		r, err := s.Exec(context.Background(), c, session.ExecOptions{})
		if err != nil {
			t.Fatalf("setup %q: %v", c, err)
		}
		if r.Blocked {
			return r // refused where it was set up
		}
	}
	r, err := s.Exec(context.Background(), cmd, session.ExecOptions{})
	if err != nil {
		t.Fatalf("%q: %v", cmd, err)
	}
	return r
}

// TestFenceCorpus: each runtime indirection deletes the canary without a
// policy (so the case is real); with rm denied and the exec fence on, the
// canary stays every time, refused by the text check or at the start of
// rm. The text check alone lets some through: how many is logged (and
// recorded in docs/security-model.md).
func TestFenceCorpus(t *testing.T) {
	var mu sync.Mutex
	ran, textBypass, byFence := 0, []string{}, 0
	eachCase(t, safetytest.RuntimeIndirections, func(t *testing.T, c safetytest.RunCase) {
		deleted := func(p *safety.Policy, enforce string) (bool, session.Result) {
			dir := tempDir(t)
			canary := filepath.Join(dir, "canary")
			if err := os.WriteFile(canary, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCase(t, dir, p, enforce, c.Setup, c.Cmd)
			_, err := os.Stat(canary)
			return err != nil, r
		}
		if gone, r := deleted(nil, ""); !gone {
			t.Fatalf("without a policy the case leaves the canary: exit %d, %q %q", r.ExitCode, r.Stdout, r.Stderr)
		}
		gone, r := deleted(denyRm(t), session.EnforceExec)
		if gone {
			t.Errorf("the canary is gone with the exec fence on: exit %d, %q %q", r.ExitCode, r.Stdout, r.Stderr)
		}
		if !r.Blocked {
			if len(r.Fence) == 0 {
				t.Errorf("the text check let it run and the fence reports nothing: %+v", r)
			}
			for _, h := range r.Fence {
				if !strings.HasPrefix(h.Rule, "deny:rm") || h.Command == "" || h.Program == "" {
					t.Errorf("fence hit %+v", h)
				}
			}
			if !strings.Contains(r.Stderr, "[execkit: the exec fence refused") {
				t.Errorf("the result's stderr does not say the fence refused a start: %q", r.Stderr)
			}
		}
		textGone, _ := deleted(denyRm(t), session.EnforceText)
		mu.Lock()
		defer mu.Unlock()
		ran++
		if !r.Blocked {
			byFence++
		}
		if textGone {
			textBypass = append(textBypass, c.Name)
		}
	})
	t.Logf("%d of %d indirections ran; with the exec fence none deleted the canary (%d refused at rm's start, the rest by the text check); the text check alone let %d through: %v",
		ran, len(safetytest.RuntimeIndirections), byFence, len(textBypass), textBypass)
	if ran < 60 && !t.Failed() {
		t.Errorf("only %d indirections could run here (at least 60 are wanted): install make, cc, gdb, python3, perl, node", ran)
	}
}

// TestFenceEverydayBuilds: everyday build and test commands that work
// without a policy still work with rm denied and the exec fence on.
func TestFenceEverydayBuilds(t *testing.T) {
	var mu sync.Mutex
	var ran int
	var failed []string
	eachCase(t, safetytest.EverydayBuilds, func(t *testing.T, c safetytest.RunCase) {
		if r := runCase(t, tempDir(t), nil, "", nil, c.Cmd); r.ExitCode != 0 {
			t.Skipf("the case fails here even without a policy: exit %d %q", r.ExitCode, r.Stderr)
		}
		r := runCase(t, tempDir(t), denyRm(t), session.EnforceExec, nil, c.Cmd)
		mu.Lock()
		defer mu.Unlock()
		ran++
		if r.ExitCode != 0 || r.Blocked || len(r.Fence) > 0 {
			failed = append(failed, c.Name)
			t.Logf("exit %d blocked %v fence %+v: %q", r.ExitCode, r.Blocked, r.Fence, r.Stderr)
		}
	})
	t.Logf("%d of %d everyday commands ran with the exec fence on; %d failed: %v", ran-len(failed), ran, len(failed), failed)
	if ran == 0 || float64(ran-len(failed)) < 0.97*float64(ran) {
		t.Errorf("%d of %d everyday commands failed with the exec fence on: %v", len(failed), ran, failed)
	}
}

// TestFenceJournaled: a start the fence refuses is in the command's
// journal entry, redacted, and the command goes on as the shell would.
func TestFenceJournaled(t *testing.T) {
	dir := tempDir(t)
	jpath := filepath.Join(t.TempDir(), "run.db")
	j, err := journal.Open(jpath, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "canary"), nil, 0o600)
	s := openLocal(t, session.Options{Dir: dir, Policy: denyRm(t), Journal: j,
		Secrets: []safety.Secret{{Name: "TOK", Value: "s3cr3t-value-123"}}})
	r, err := s.Exec(context.Background(), `echo 'rm canary s3cr3t-value-123' > s.sh; sh s.sh; echo "went on $?"`, session.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	j.Close()
	if r.Stdout != "went on 126\n" || len(r.Fence) != 1 || strings.Contains(r.Fence[0].Command, "s3cr3t") || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("result %+v", r)
	}
	var entries []journal.Entry
	if err := journal.Read(jpath, func(r *journal.Reader) (err error) {
		entries, err = r.Entries(journal.Filter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Completion == nil || len(last.Completion.Fence) != 1 {
		t.Fatalf("entry %+v", last)
	}
	h := last.Completion.Fence[0]
	if h.Rule != "deny:rm" || h.Command != "rm canary ${secret:TOK}" || !strings.HasSuffix(h.Program, "/rm") || strings.Contains(h.Reason, "s3cr3t") {
		t.Errorf("journaled hit %+v", h)
	}
}

// BenchmarkFenceBuild is `make -j2` of a generated C project (500 files,
// EXECKIT_BENCH_FILES to change it) in a session with rm denied, once with
// the exec fence on and once with the text check only, alternating, each
// from clean; it reports both times and their ratio (target ≤ 1.2).
func BenchmarkFenceBuild(b *testing.B) {
	for _, n := range []string{"make", "cc"} {
		if _, err := exec.LookPath(n); err != nil {
			b.Skipf("%s is not installed", n)
		}
	}
	files := 500
	if v, err := strconv.Atoi(os.Getenv("EXECKIT_BENCH_FILES")); err == nil && v > 0 {
		files = v
	}
	dir := b.TempDir()
	var mk strings.Builder
	mk.WriteString("OBJS :=")
	for i := 0; i < files; i++ {
		src := fmt.Sprintf("int f%d(int x) { return x * %d + %d; }\n", i, i, i%7)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.c", i)), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&mk, " f%d.o", i)
	}
	os.WriteFile(filepath.Join(dir, "main.c"), []byte("int main(void) { return 0; }\n"), 0o644)
	mk.WriteString("\nprog: main.o $(OBJS)\n\tcc -o $@ $^\n%.o: %.c\n\tcc -O1 -c $< -o $@\nclean:\n\tfind . -name '*.o' -delete; find . -name prog -delete\n")
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk.String()), 0o644)
	fenced, text := fencePair(b, dir)
	build := func(s *session.Session) time.Duration {
		if r, err := s.Exec(context.Background(), "make -s clean", session.ExecOptions{}); err != nil || r.ExitCode != 0 {
			b.Fatalf("clean: %v %+v", err, r)
		}
		start := time.Now()
		r, err := s.Exec(context.Background(), "make -s -j2 prog", session.ExecOptions{})
		if err != nil || r.ExitCode != 0 || len(r.Fence) > 0 {
			b.Fatalf("build: %v %+v", err, r)
		}
		return time.Since(start)
	}
	var tf, tt time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			tf += build(fenced)
			tt += build(text)
		} else {
			tt += build(text)
			tf += build(fenced)
		}
	}
	b.ReportMetric(tf.Seconds()/float64(b.N), "fenced-s")
	b.ReportMetric(tt.Seconds()/float64(b.N), "text-s")
	b.ReportMetric(tf.Seconds()/tt.Seconds(), "fenced/text")
}

// fencePair opens two local sessions in dir with rm denied, one with the
// exec fence on and one with the text check only; both end with b.
func fencePair(b *testing.B, dir string) (fenced, text *session.Session) {
	p, _ := safety.NewPolicy(nil, []string{"rm"}, nil)
	open := func(enforce string) *session.Session {
		o := targettest.Open(b, journal.SessionSpec{Endpoint: targettest.Local, Dir: dir, Policy: p, Enforce: enforce, TimeoutMS: 30 * 60 * 1000}, nil)
		if mode, note := o.Session.Enforcement(); mode != enforce {
			b.Fatalf("enforcement %s, not %s: %s", mode, enforce, note)
		}
		return o.Session
	}
	return open(session.EnforceExec), open(session.EnforceText)
}

// BenchmarkFenceExec is the cost of one program start under the exec
// fence: a loop of 200 starts of /bin/true, fenced and not, alternating;
// it reports each start's time both ways and the difference.
func BenchmarkFenceExec(b *testing.B) {
	fenced, text := fencePair(b, b.TempDir())
	const n = 200
	loop := fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", n)
	run := func(s *session.Session) time.Duration {
		start := time.Now()
		if r, err := s.Exec(context.Background(), loop, session.ExecOptions{}); err != nil || r.ExitCode != 0 {
			b.Fatalf("%v %+v", err, r)
		}
		return time.Since(start)
	}
	var tf, tt time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tf += run(fenced)
		tt += run(text)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*n) }
	b.ReportMetric(per(tf), "fenced-µs/start")
	b.ReportMetric(per(tt), "text-µs/start")
	b.ReportMetric(per(tf)-per(tt), "fence-µs/start")
}
