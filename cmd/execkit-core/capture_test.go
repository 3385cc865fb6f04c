package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/execkit/execkit/internal/capture"
	"github.com/execkit/execkit/internal/testbuild"
	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/transport/docker/dockertest"
)

// agentRun is what an agent printed and how it ended.
type agentRun struct {
	stdout, stderr string
	code           int
}

func runAgentCmd(t *testing.T, dir string, argv []string, env []string) agentRun {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = strings.NewReader("piped-input\n")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return agentRun{out.String(), errb.String(), code}
}

// needCapture skips tb where record cannot capture, or where a program
// the test runs is not installed.
func needCapture(tb testing.TB, programs ...string) {
	tb.Helper()
	if err := capture.Supported(); err != nil {
		tb.Skip(err)
	}
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			tb.Skipf("%s is not installed", p)
		}
	}
}

// withoutNotes drops execkit's own lines from a recorded run's stderr.
func withoutNotes(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "execkit: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// observed reads the observed entries of a journal.
func observed(t *testing.T, path string) []journal.Entry {
	t.Helper()
	var out []journal.Entry
	err := journal.Read(path, func(r *journal.Reader) error {
		es, err := r.Entries(journal.Filter{Session: "observed"})
		out = es
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecordCapturesAgents: agents in Python, Node and Go that run their
// shell commands themselves (subprocess shell=True, bash -lc, $SHELL -c
// -l, child_process.exec, spawn with shell: true, spawn("bash", …),
// exec.Command("bash", "-c", …)) print the same bytes and end the same way
// under execkit record as without it, and every command they ran is in the
// journal as an observed entry with its output and exit status.
func TestRecordCapturesAgents(t *testing.T) {
	needCapture(t)
	fixtures, _ := filepath.Abs(filepath.Join("..", "..", "fixtures", "agents"))
	goagent := testbuild.Program(t, filepath.Join(fixtures, "goagent"), "", "goagent")
	agents := []struct {
		name  string
		argv  []string
		needs string
		want  []string // the observed commands, in order
		codes []int
	}{
		{"python", []string{"python3", filepath.Join(fixtures, "agent.py")}, "python3",
			[]string{"echo py-one; echo py-two >&2", "exit 7", "echo from-bash-lc; pwd", "echo from-SHELL", "kill -TERM $$", "(sleep 2; echo late-from-background) & echo now"},
			[]int{0, 7, 0, 0, 128 + 15, 0}},
		{"node", []string{"node", filepath.Join(fixtures, "agent.js")}, "node",
			[]string{"echo node-exec; echo to-err >&2; exit 3", "echo node-shell-true && printf 'no newline'", "for i in 1 2 3; do echo line $i; done", "rm -f nothing-here"},
			[]int{3, 0, 0, 0}},
		{"go", []string{goagent}, "",
			[]string{"echo go-one; echo go-err >&2", "exit 5", "cat"},
			[]int{0, 5, 0}},
	}
	for _, a := range agents {
		t.Run(a.name, func(t *testing.T) {
			if a.needs != "" {
				needCapture(t, a.needs)
			}
			plain := runAgentCmd(t, t.TempDir(), a.argv, os.Environ())
			jpath := filepath.Join(t.TempDir(), "run.db")
			rec := runAgentCmd(t, t.TempDir(), append([]string{os.Args[0], "record", "--journal", jpath, "--policy", "none", "--"}, a.argv...),
				append(os.Environ(), "EXECKIT_RUN_MAIN=1"))
			// Working directories differ between the runs; nothing printed
			// depends on them but pwd's line.
			norm := func(s string) string {
				var out []string
				for _, l := range strings.SplitAfter(s, "\n") {
					if strings.Contains(l, "from-bash-lc") {
						l = strings.SplitN(l, "\\n", 2)[0]
					}
					out = append(out, l)
				}
				return strings.Join(out, "")
			}
			if norm(rec.stdout) != norm(plain.stdout) || withoutNotes(rec.stderr) != plain.stderr || rec.code != plain.code {
				t.Errorf("recorded run differs:\nstdout %q\n  vs   %q\nstderr %q\n  vs   %q\nexit %d vs %d", rec.stdout, plain.stdout, rec.stderr, plain.stderr, rec.code, plain.code)
			}
			es := observed(t, jpath)
			var got []string
			for _, e := range es {
				got = append(got, e.Command)
			}
			if strings.Join(got, "\n") != strings.Join(a.want, "\n") {
				t.Fatalf("observed %q, want %q", got, a.want)
			}
			for i, e := range es {
				if e.Kind != "observed" || len(e.Argv) < 2 || e.PID <= 0 || e.ParentPID <= 0 || e.CwdBefore == "" || e.Completion == nil || e.Completion.ExitCode != a.codes[i] {
					t.Errorf("entry %d: %+v %+v", i+1, e.Intent, e.Completion)
				}
			}
			if a.name == "go" && es[2].Completion.Stdout != "piped-input\n" {
				t.Errorf("cat did not get the agent's stdin: %+v", es[2].Completion)
			}
			if a.name == "python" && (es[0].Completion.Stdout != "py-one\n" || es[0].Completion.Stderr != "py-two\n") {
				t.Errorf("first command's output: %+v", es[0].Completion)
			}
		})
	}
}

// TestRecordCaptureBlocks: a captured command the policy refuses does not
// run: exit 126, the reason on the agent's stderr, a blocked entry.
func TestRecordCaptureBlocks(t *testing.T) {
	needCapture(t, "python3")
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	os.WriteFile(canary, nil, 0o600)
	script := filepath.Join(dir, "agent.py")
	os.WriteFile(script, []byte("import subprocess\nr = subprocess.run('rm canary', shell=True)\nprint('exit', r.returncode)\n"), 0o600)
	jpath := filepath.Join(t.TempDir(), "run.db")
	r := runAgentCmd(t, dir, []string{os.Args[0], "record", "--journal", jpath, "--deny", "rm", "--", "python3", script},
		append(os.Environ(), "EXECKIT_RUN_MAIN=1"))
	if _, err := os.Stat(canary); err != nil {
		t.Fatal("the canary is gone")
	}
	if r.stdout != "exit 126\n" || !strings.Contains(r.stderr, `blocked by policy: "rm" is denied`) {
		t.Errorf("agent saw %q %q", r.stdout, r.stderr)
	}
	es := observed(t, jpath)
	if len(es) != 1 || es[0].Status != journal.StatusBlocked || es[0].Command != "rm canary" {
		t.Errorf("entries %+v", es)
	}
}

// TestRecordCaptureReplay: a recorded agent's observed commands replay
// (each in a fresh shell, as recorded) and match, here and in a throwaway
// container.
func TestRecordCaptureReplay(t *testing.T) {
	needCapture(t, "node")
	fixtures, _ := filepath.Abs(filepath.Join("..", "..", "fixtures", "agents"))
	jpath := filepath.Join(t.TempDir(), "run.db")
	r := runAgentCmd(t, t.TempDir(), []string{os.Args[0], "record", "--journal", jpath, "--policy", "none", "--", "node", filepath.Join(fixtures, "agent.js")},
		append(os.Environ(), "EXECKIT_RUN_MAIN=1"))
	if r.code != 0 || len(observed(t, jpath)) != 4 {
		t.Fatalf("record: %+v", r)
	}
	for _, args := range [][]string{{"replay", jpath}, {"replay", jpath, "--docker-image", dockertest.Image(t)}} {
		out, errs, err := execkitOut(t, args...)
		if err != nil || !strings.Contains(out, "4 match") {
			t.Errorf("%v: %v\n%s\n%s", args, err, out, errs)
		}
	}
}

// TestRecordCaptureUndo: with --workspace (given relative), a captured
// command that may change files gets a checkpoint first, a read-only one
// none, and `execkit undo` restores the workspace to before it.
func TestRecordCaptureUndo(t *testing.T) {
	needCapture(t, "python3")
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	os.Mkdir(ws, 0o755)
	os.WriteFile(filepath.Join(ws, "file.txt"), []byte("original\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "agent.py"), []byte(`import subprocess
subprocess.run("echo changed > file.txt; echo new > other.txt", shell=True, cwd="ws")
subprocess.run("cat file.txt", shell=True, cwd="ws")
`), 0o600)
	jpath := filepath.Join(dir, "run.db")
	env := append(os.Environ(), "EXECKIT_RUN_MAIN=1")
	if r := runAgentCmd(t, dir, []string{os.Args[0], "record", "--journal", jpath, "--workspace", "ws", "--", "python3", "agent.py"}, env); r.code != 0 || r.stdout != "changed\n" {
		t.Fatalf("record: %+v", r)
	}
	es := observed(t, jpath)
	if len(es) != 2 || es[0].Checkpoint == "" || es[1].Checkpoint != "" {
		t.Fatalf("entries %+v", es)
	}
	if r := runAgentCmd(t, t.TempDir(), []string{os.Args[0], "undo", "--journal", jpath, "1"}, env); r.code != 0 {
		t.Fatalf("undo: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "file.txt")); string(b) != "original\n" {
		t.Errorf("file.txt: %q", b)
	}
	if _, err := os.Stat(filepath.Join(ws, "other.txt")); err == nil {
		t.Error("other.txt is still there")
	}
}

// BenchmarkCapture is the cost execkit record adds to each shell command an
// agent starts itself: a Python agent runs `true` through subprocess
// (shell=True) 200 times (EXECKIT_BENCH_COMMANDS), plain and under record
// (a built execkit), alternating; it reports
// the median command both ways, the difference, and the loops' ratio.
func BenchmarkCapture(b *testing.B) {
	needCapture(b, "python3")
	dir := b.TempDir()
	testbuild.Program(b, ".", dir, "execkit")
	n := "200"
	if v := os.Getenv("EXECKIT_BENCH_COMMANDS"); v != "" {
		n = v
	}
	loop, _ := filepath.Abs(filepath.Join("..", "..", "fixtures", "agents", "loop.py"))
	run := func(argv ...string) (float64, float64) {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			b.Fatalf("%v: %v", argv, err)
		}
		var med, total float64
		if _, err := fmt.Sscan(string(out), &med, &total); err != nil {
			b.Fatalf("%v printed %q", argv, out)
		}
		return med, total
	}
	var pm, rm, pt, rt []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, t := run("python3", loop, n)
		pm, pt = append(pm, m), append(pt, t)
		m, t = run(filepath.Join(dir, "execkit"), "record", "--journal", filepath.Join(dir, fmt.Sprintf("r%d.db", i)), "--policy", "none", "--", "python3", loop, n)
		rm, rt = append(rm, m), append(rt, t)
	}
	med := func(d []float64) float64 { sort.Float64s(d); return d[len(d)/2] }
	b.ReportMetric(med(pm)/1000, "plain-ms/cmd")
	b.ReportMetric(med(rm)/1000, "recorded-ms/cmd")
	b.ReportMetric((med(rm)-med(pm))/1000, "overhead-ms/cmd")
	b.ReportMetric(med(rt)/med(pt), "loop-x")
}

// TestRecordCaptureEdges: a script with a shell's #! line that a program
// runs is a command, and the shells a recorded command starts are part of
// it (one entry); a command still running when the agent ends keeps
// running, its later output still reaches where it was going, and the
// programs it starts then still start; its entry ends unknown. A recorded
// command stopped by a signal is stopped for its parent, and goes on when
// continued. A recorded command is traced.
func TestRecordCaptureEdges(t *testing.T) {
	needCapture(t, "python3")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tool.sh"), []byte("#!/bin/sh\necho from-script \"$1\"\nsh -c 'echo nested; bash -c \"echo deeper\"'\n"), 0o755)
	agent := filepath.Join(dir, "agent.py")
	os.WriteFile(agent, []byte(`import os, signal, subprocess, sys, time
r = subprocess.run(["./tool.sh", "arg"])
print("tool ->", r.returncode, flush=True)
p = subprocess.Popen("kill -STOP $$; echo resumed", shell=True)
for _ in range(200):
    pid, st = os.waitpid(p.pid, os.WUNTRACED | os.WNOHANG)
    if pid:
        break
    time.sleep(0.01)
print("stopped:", pid == p.pid and os.WIFSTOPPED(st), flush=True)
os.kill(p.pid, signal.SIGCONT)
print("stop and go ->", p.wait(), flush=True)
subprocess.run("grep TracerPid /proc/$$/status", shell=True)
subprocess.Popen("sleep 1; echo late-line; /bin/echo started-after", shell=True)
print("agent done", flush=True)
`), 0o600)
	run := func(argv []string, env []string) agentRun { return runAgentCmd(t, dir, argv, env) }
	plain := run([]string{"python3", agent}, os.Environ())
	jpath := filepath.Join(t.TempDir(), "run.db")
	rec := run([]string{os.Args[0], "record", "--journal", jpath, "--policy", "none", "--", "python3", agent}, append(os.Environ(), "EXECKIT_RUN_MAIN=1"))
	for _, want := range []string{"from-script arg\nnested\ndeeper\ntool -> 0\n", "stopped: True\nresumed\nstop and go -> 0\n", "agent done\n", "late-line\n", "started-after\n"} {
		if !strings.Contains(plain.stdout, want) || !strings.Contains(rec.stdout, want) {
			t.Errorf("%q: plain %q, recorded %q (%q)", want, plain.stdout, rec.stdout, rec.stderr)
		}
	}
	// A recorded command is traced while it runs (docs/security-model.md):
	// no other tracer can attach to it.
	if !strings.Contains(plain.stdout, "TracerPid:\t0\n") || strings.Contains(rec.stdout, "TracerPid:\t0\n") || !strings.Contains(rec.stdout, "TracerPid:") {
		t.Errorf("tracer: plain %q, recorded %q", plain.stdout, rec.stdout)
	}
	es := observed(t, jpath)
	if len(es) != 4 {
		t.Fatalf("entries %+v", es)
	}
	if c := es[1].Completion; c == nil || c.ExitCode != 0 || c.Stdout != "resumed\n" {
		t.Errorf("the command stopped and continued: %+v", c)
	}
	es = append(es[:1], es[3:]...)
	if c := es[0].Completion; es[0].Command != "./tool.sh arg" || c == nil || c.ExitCode != 0 || c.Stdout != "from-script arg\nnested\ndeeper\n" {
		t.Errorf("the script's entry: %+v %+v", es[0].Intent, c)
	}
	if es[1].Command != "sleep 1; echo late-line; /bin/echo started-after" || es[1].Completion == nil || es[1].Completion.Status != journal.StatusInterrupted {
		t.Errorf("the command left running: %+v %+v", es[1].Intent, es[1].Completion)
	}
}

// TestRecordCaptureUnprivileged: capture needs no privilege: run as an
// ordinary user (nobody), record still records the agent's commands and
// refuses a denied one.
func TestRecordCaptureUnprivileged(t *testing.T) {
	needCapture(t)
	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and setpriv to become another user")
	}
	// A directory the other user can read and write.
	dir, err := os.MkdirTemp("", "execkit-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	fixtures, _ := filepath.Abs(filepath.Join("..", "..", "fixtures", "agents"))
	ek := testbuild.Program(t, ".", dir, "execkit")
	agent := testbuild.Program(t, filepath.Join(fixtures, "goagent"), dir, "goagent")
	for _, p := range []string{ek, agent} {
		os.Chmod(p, 0o755)
	}
	jpath := filepath.Join(dir, "run.db")
	r := runAgentCmd(t, dir, []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", ek, "record", "--journal", jpath, "--deny", "cat", "--", agent},
		append(os.Environ(), "HOME="+dir, "XDG_STATE_HOME="+dir))
	if !strings.Contains(r.stdout, `bash -c "exit 5" -> 5`) || !strings.Contains(r.stdout, `bash -c "cat" -> 126`) || !strings.Contains(r.stderr, "blocked by policy") {
		t.Errorf("agent as nobody: %+v", r)
	}
	es := observed(t, jpath)
	if len(es) != 3 || es[0].Completion == nil || es[0].Completion.Stdout != "go-one\n" || es[1].Completion.ExitCode != 5 || es[2].Status != journal.StatusBlocked {
		t.Errorf("entries %+v", es)
	}
}

// TestRecordCaptureUntraceable: a command that cannot be traced (here it
// is traced already, by strace) still runs as it would and its output is
// recorded; record says what it cannot record (how it ended), and the
// entry ends unknown.
func TestRecordCaptureUntraceable(t *testing.T) {
	needCapture(t, "python3", "strace")
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent.py")
	os.WriteFile(agent, []byte(`import subprocess
r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "sh", "-c", "echo traced-elsewhere; exit 4"])
print("rc", r.returncode, flush=True)
`), 0o600)
	plain := runAgentCmd(t, dir, []string{"python3", agent}, os.Environ())
	jpath := filepath.Join(t.TempDir(), "run.db")
	rec := runAgentCmd(t, dir, []string{os.Args[0], "record", "--journal", jpath, "--policy", "none", "--", "python3", agent}, append(os.Environ(), "EXECKIT_RUN_MAIN=1"))
	if plain.stdout != "traced-elsewhere\nrc 4\n" || rec.stdout != plain.stdout || !strings.Contains(rec.stderr, "could not be traced") {
		t.Errorf("plain %+v, recorded %+v", plain, rec)
	}
	es := observed(t, jpath)
	if len(es) != 1 || es[0].Completion == nil || es[0].Completion.Stdout != "traced-elsewhere\n" || es[0].Completion.Status != journal.StatusInterrupted {
		t.Errorf("entries %+v", es)
	}
}

// TestRecordOwnSession: a session the agent opens itself (with a journal of
// its own) runs inside record's capture, which holds the agent's program
// starts already: its policy is checked on the text of its commands, and
// it says so, rather than failing to start.
func TestRecordOwnSession(t *testing.T) {
	needCapture(t)
	dir := t.TempDir()
	own := filepath.Join(dir, "own.db")
	r := runAgentCmd(t, dir, []string{os.Args[0], "record", "--journal", filepath.Join(dir, "run.db"), "--", "sh", "-c", `"$EK" exec --journal "$OWN" "echo own-session"`},
		append(os.Environ(), "EXECKIT_RUN_MAIN=1", "EK="+os.Args[0], "OWN="+own))
	if r.code != 0 || r.stdout != "own-session\n" || !strings.Contains(r.stderr, "checked on each command's text only") || !strings.Contains(r.stderr, "another supervisor already holds") {
		t.Errorf("%+v", r)
	}
}
