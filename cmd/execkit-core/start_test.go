package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/internal/testbuild"
	"github.com/execkit/execkit/journal"
)

// installed builds execkit and execkit-core into one directory, as they
// are installed, and returns the directory.
func installed(tb testing.TB) string {
	dir := tb.TempDir()
	testbuild.Program(tb, "../execkit", dir, "execkit")
	testbuild.Program(tb, ".", dir, "execkit-core")
	return dir
}

// BenchmarkStart is how long `execkit --version` takes from exec to exit,
// the built programs (not this test binary), against `bash -c true` in the
// same run; it reports both, their ratio, and execkit-core's own start
// (what every other command costs once more).
func BenchmarkStart(b *testing.B) {
	dir := installed(b)
	bash, err := exec.LookPath("bash")
	if err != nil {
		b.Skip("no bash")
	}
	run := func(argv ...string) time.Duration {
		start := time.Now()
		if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var te, tb, tc time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		te += run(filepath.Join(dir, "execkit"), "--version")
		tb += run(bash, "-c", "true")
		tc += run(filepath.Join(dir, "execkit-core"), "--version")
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(ms(te), "execkit-ms")
	b.ReportMetric(ms(tb), "bash-ms")
	b.ReportMetric(ms(tc), "core-ms")
	b.ReportMetric(te.Seconds()/tb.Seconds(), "execkit/bash")
}

// timeit is an agent that runs its arguments as a command N times
// (EXECKIT_BENCH_COMMANDS, default 100) and prints the median time of one,
// in microseconds.
const timeit = `import os, subprocess, sys, time
n = int(os.environ.get("EXECKIT_BENCH_COMMANDS", "100"))
ts = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
    ts.append(time.perf_counter() - t)
ts.sort()
print(f"{ts[len(ts) // 2] * 1e6:.0f}")
`

// BenchmarkExecInRecord is what `execkit exec true` costs inside `execkit
// record` (an agent that runs its commands through execkit), against
// `bash -c true` run by the same agent without record, alternating; it
// reports both medians and their ratio.
func BenchmarkExecInRecord(b *testing.B) {
	python, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 is not installed")
	}
	dir := installed(b)
	agent := filepath.Join(b.TempDir(), "timeit.py")
	os.WriteFile(agent, []byte(timeit), 0o600)
	env := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	run := func(argv ...string) float64 {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%v: %v", argv, err)
		}
		var us float64
		fmt.Sscan(string(out), &us)
		return us
	}
	var plain, rec []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plain = append(plain, run(python, agent, "bash", "-c", "true"))
		rec = append(rec, run(filepath.Join(dir, "execkit"), "record", "--journal", filepath.Join(b.TempDir(), "r.db"), "--policy", "none", "--no-capture", "--", python, agent, "execkit", "exec", "true"))
	}
	med := func(d []float64) float64 { sort.Float64s(d); return d[len(d)/2] }
	b.ReportMetric(med(plain)/1000, "bash-ms")
	b.ReportMetric(med(rec)/1000, "exec-in-record-ms")
	b.ReportMetric(med(rec)/med(plain), "x")
}

// TestFront: the execkit program in front says the version execkit-core
// says, hands every other command line to execkit-core (arguments, exit
// status, standard streams), and inside execkit record has the recorder
// run `execkit exec` in its session (cd persists, the exit status and the
// streams come back, blocked commands exit 126), handing to execkit-core
// what needs a session of its own (--journal). Without execkit-core next
// to it or on PATH, it says what to install.
func TestFront(t *testing.T) {
	dir := installed(t)
	ek := filepath.Join(dir, "execkit")
	out := func(env []string, args ...string) (string, string, int) {
		r := runAgentCmd(t, "", append([]string{ek}, args...), append(os.Environ(), env...))
		return r.stdout, r.stderr, r.code
	}
	v, _, _ := out(nil, "--version")
	core, err := exec.Command(filepath.Join(dir, "execkit-core"), "version").Output()
	if err != nil || v != string(core) || !strings.HasPrefix(v, "execkit ") {
		t.Errorf("front %q, core %q (%v)", v, core, err)
	}
	if o, e, code := out(nil, "exec", "echo through-core; exit 4"); o != "through-core\n" || code != 4 {
		t.Errorf("exec through core: %q %q %d", o, e, code)
	}
	if _, e, code := out(nil, "frobnicate"); code != 64 || !strings.Contains(e, "unknown command") {
		t.Errorf("a usage error: %q %d", e, code)
	}
	// Configuration snippets name the program people run, not execkit-core.
	if o, _, _ := out(nil, "setup", "cursor"); !strings.Contains(o, `"`+ek+`"`) || strings.Contains(o, "execkit-core") {
		t.Errorf("setup names %q", o)
	}
	work := t.TempDir()
	agent := `execkit exec 'cd /; echo one'; execkit exec pwd; execkit exec 'echo err >&2; exit 3'; echo "rc=$?"; ` +
		`execkit exec 'rm -f x'; echo "rc=$?"; execkit exec --journal ` + filepath.Join(work, "own.db") + ` 'echo own'`
	o, e, code := out([]string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")},
		"record", "--journal", filepath.Join(work, "run.db"), "--deny", "rm", "--no-capture", "--", "sh", "-c", agent)
	if code != 0 || o != "one\n/\nrc=3\nrc=126\nown\n" || !strings.Contains(e, "err\n") || !strings.Contains(e, "blocked by policy") {
		t.Errorf("inside record: %q %q %d", o, e, code)
	}
	var cmds []string
	journal.Read(filepath.Join(work, "run.db"), func(r *journal.Reader) error {
		es, err := r.Entries(journal.Filter{})
		for _, en := range es {
			cmds = append(cmds, en.Command)
		}
		return err
	})
	if strings.Join(cmds, "|") != "cd /; echo one|pwd|echo err >&2; exit 3|rm -f x" {
		t.Errorf("recorded %q", cmds)
	}
	alone := t.TempDir()
	testbuild.Program(t, "../execkit", alone, "execkit")
	cmd := exec.Command(filepath.Join(alone, "execkit"), "doctor")
	cmd.Env = append(os.Environ(), "PATH="+alone)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "execkit-core is not installed") {
		t.Errorf("without execkit-core: %q %v", b, err)
	}
}
