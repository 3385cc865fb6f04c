// Package sessiontest is the behaviour suite for session.Session that every
// transport runs: state persistence, exact streams and exit codes, timeout
// recovery with no surviving processes, output bounds, and a corpus of
// hostile commands that must not break the framing.
//
// Surviving processes are looked for through a session on the same target,
// by scanning /proc there, so the suite needs a Linux target.
package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/transport"
)

// Factory opens a new session on the target under test with opts. It
// registers the session's Close with t.Cleanup.
type Factory func(t *testing.T, opts session.Options) *session.Session

// On is the Factory that opens sessions through tr, each closed when its
// test ends.
func On(tr transport.Transport) Factory {
	return func(t *testing.T, opts session.Options) *session.Session {
		t.Helper()
		s, err := session.New(context.Background(), tr, opts)
		if err != nil {
			t.Fatalf("session.New: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// Options describe the target.
type Options struct {
	// Shell is passed to every session ("bash" or "sh").
	Shell string
	// TTY: the transport supports Options.TTY.
	TTY bool
	// TempDir is a writable directory on the target.
	TempDir string
	// Contained: nothing a command starts outlives the session, not even
	// a process that left the shell's session (setsid -f, double forks).
	Contained bool

	sleepOffset int // set by Run
}

func (o Options) bash() bool { return o.Shell != "sh" }

// Run runs the whole suite.
func Run(t *testing.T, open Factory, o Options) {
	if o.TempDir == "" {
		o.TempDir = "/tmp"
	}
	o.sleepOffset = newSleepOffset()
	t.Run("State", func(t *testing.T) { testState(t, open, o) })
	t.Run("ExitCodes", func(t *testing.T) { testExitCodes(t, open, o) })
	t.Run("Corpus", func(t *testing.T) { RunCorpus(t, open, o) })
	t.Run("Flood", func(t *testing.T) { testFlood(t, open, o) })
	t.Run("InvalidCommands", func(t *testing.T) { testInvalid(t, open, o) })
	// The rest mostly wait (for a timeout, a grace, a shell to start) and
	// each has sessions and process markers of its own: they run side by
	// side, once the serial ones above are done.
	parallel := func(name string, f func(*testing.T, Factory, Options)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open, o)
		})
	}
	parallel("Timeout", testTimeout)
	parallel("BuiltinLoopTimeout", testBuiltinLoop)
	parallel("InterruptStopsTheLine", testWholeLine)
	parallel("Cancel", testCancel)
	parallel("RespawnRestoresState", testRespawn)
	parallel("NoRespawn", testNoRespawn)
	parallel("CloseLeavesNoOrphans", testCloseOrphans)
	if o.Contained {
		parallel("EscapesContained", testEscapes)
	}
	if o.bash() {
		parallel("FrameSabotageRecovers", testSabotage)
		parallel("FrameLoop", testFrameLoop)
	}
}

// testFrameLoop checks the bash frame loop (session/shell.go, bashFuncs):
// a command that leaves it (break or continue past its own loops, the
// interrupt trap) or sets a trap gets its own result, and the same shell
// runs the next one, with its unexported variables and functions.
func testFrameLoop(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell})
	Exec(t, s, "cd "+o.TempDir+"; ek_v=kept; ekf() { echo fn; }", session.ExecOptions{})
	pid := Exec(t, s, "echo $$", session.ExecOptions{}).Stdout
	same := func(after string) {
		t.Helper()
		expect(t, Exec(t, s, `echo "$$ $ek_v $PWD"; ekf`, session.ExecOptions{}), strings.TrimSuffix(pid, "\n")+" kept "+o.TempDir+"\nfn\n", "", 0)
		if t.Failed() {
			t.Fatalf("after %s the shell was not the same", after)
		}
	}
	for _, c := range []struct {
		cmd, stdout, stderr string
		code                int
		// repeats: stdout is that many copies of stdout, at least one
		// (a DEBUG trap fires before commands of the frame too)
		repeats bool
	}{
		{"echo a; break 2; echo b", "a\n", "", 0, false},
		{"echo a >&2; continue 2; echo b", "", "a\n", 0, false},
		{"for i in 1 2; do echo $i; break 9; done; echo b", "1\n", "", 0, false},
		{"while :; do echo w; continue 5; done; echo b", "w\n", "", 0, false},
		{"(exit 3); echo a; break 1", "a\n", "", 0, false},
		{"false; continue 2", "", "", 0, false},
		{"trap 'echo usr1' USR1; kill -USR1 $$; echo x", "usr1\nx\n", "", 0, false},
		{"trap 'echo d' DEBUG; trap - DEBUG; echo y", "d\ny\n", "", 0, false},
		{"trap 'echo d' DEBUG; continue 2", "d\n", "", 0, true},
		{"echo z; (exit 4)", "z\n", "", 4, false},
	} {
		r := Exec(t, s, c.cmd, session.ExecOptions{})
		if c.repeats && r.Stdout != "" && strings.Trim(r.Stdout, c.stdout) == "" {
			r.Stdout = c.stdout
		}
		expect(t, r, c.stdout, c.stderr, c.code)
		if r.ShellEnded || r.Respawned || r.FrameBroken {
			t.Errorf("%q: shell ended %v, respawned %v, frame broken %v", c.cmd, r.ShellEnded, r.Respawned, r.FrameBroken)
		}
		same(c.cmd)
		// Twice in a row: the first may have left the loop, and the
		// second then comes with it.
		if r := Exec(t, s, c.cmd, session.ExecOptions{}); !c.repeats {
			expect(t, r, c.stdout, c.stderr, c.code)
		}
	}
	// The interrupt trap leaves the loop too; the shell stays when it
	// stops in time (under load it may be replaced: then only the
	// exported state is kept, as BuiltinLoopTimeout checks).
	r := Exec(t, s, "while :; do :; done", session.ExecOptions{Timeout: time.Second})
	if !r.TimedOut {
		t.Errorf("builtin loop: %+v", r)
	}
	if !r.Respawned {
		same("a timeout")
	}
}

// Exec runs cmd and fails the test on a Go error.
func Exec(t *testing.T, s *session.Session, cmd string, eo session.ExecOptions) session.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := s.Exec(ctx, cmd, eo)
	if err != nil {
		t.Fatalf("Exec(%q): %v", cmd, err)
	}
	return r
}

func expect(t *testing.T, r session.Result, stdout, stderr string, code int) {
	t.Helper()
	if r.Stdout != stdout || r.Stderr != stderr || r.ExitCode != code {
		t.Errorf("%q: got stdout=%q stderr=%q code=%d; want %q %q %d", r.Command, r.Stdout, r.Stderr, r.ExitCode, stdout, stderr, code)
	}
}

func testState(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell})
	Exec(t, s, "cd "+o.TempDir, session.ExecOptions{})
	r := Exec(t, s, "pwd", session.ExecOptions{})
	expect(t, r, o.TempDir+"\n", "", 0)
	if r.Cwd != o.TempDir || r.CwdBefore != o.TempDir {
		t.Errorf("cwd = %q (before %q), want %q", r.Cwd, r.CwdBefore, o.TempDir)
	}
	Exec(t, s, "export EK_VAR='a b'; EK_LOCAL=loc; ekf() { echo \"fn:$1\"; }", session.ExecOptions{})
	expect(t, Exec(t, s, `echo "$EK_VAR|$EK_LOCAL"; ekf x`, session.ExecOptions{}), "a b|loc\nfn:x\n", "", 0)
	expect(t, Exec(t, s, "echo out; echo err >&2; echo out2", session.ExecOptions{}), "out\nout2\n", "err\n", 0)
	expect(t, Exec(t, s, "(exit 3)", session.ExecOptions{}), "", "", 3)
	if got := s.Cwd(); got != o.TempDir {
		t.Errorf("Session.Cwd = %q", got)
	}
	found := false
	for _, kv := range s.Env() {
		found = found || kv == "EK_VAR=a b"
	}
	if !found {
		t.Errorf("Session.Env lacks EK_VAR: %q", s.Env())
	}
}

func testExitCodes(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell})
	for code := 0; code <= 255; code++ {
		r := Exec(t, s, "(exit "+strconv.Itoa(code)+")", session.ExecOptions{})
		if r.ExitCode != code || r.ShellEnded {
			t.Fatalf("(exit %d): code %d, shell ended %v", code, r.ExitCode, r.ShellEnded)
		}
	}
	r := Exec(t, s, "sh -c 'exit 77'", session.ExecOptions{})
	expect(t, r, "", "", 77)
}

// Survivors counts processes on the target whose command line is exactly
// cmdline (arguments joined by spaces), using a separate session.
func Survivors(t *testing.T, open Factory, o Options, cmdline string) int {
	t.Helper()
	return countProcs(t, open(t, session.Options{Shell: o.Shell}), cmdline)
}

// countProcs counts, through observer (a session of its own on the
// target), the processes whose command line is exactly cmdline. One grep
// picks the few processes that have cmdline's last argument as one of
// theirs, and only those are compared whole: a scan costs a handful of
// processes however many the machine runs.
func countProcs(t *testing.T, observer *session.Session, cmdline string) int {
	t.Helper()
	args := strings.Fields(cmdline)
	if len(args) == 0 {
		t.Fatal("countProcs: empty command line")
	}
	// The pattern never matches the command doing the search: its
	// arguments are not the pattern's.
	script := `n=0; for f in $(grep -lzxF -e ` + transport.ShellQuote(args[len(args)-1]) + ` /proc/[0-9]*/cmdline 2>/dev/null); do ` +
		`c=$(tr '\000' ' ' <"$f" 2>/dev/null); [ "$c" = ` + transport.ShellQuote(cmdline+" ") + ` ] && n=$((n+1)); done; echo $n`
	r := Exec(t, observer, script, session.ExecOptions{})
	n, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatalf("survivor scan printed %q (stderr %q)", r.Stdout, r.Stderr)
	}
	return n
}

// waitNoSurvivors allows processes a moment to be reaped after SIGKILL.
func waitNoSurvivors(t *testing.T, open Factory, o Options, cmdlines ...string) {
	t.Helper()
	observer := open(t, session.Options{Shell: o.Shell})
	for _, c := range cmdlines {
		n := 0
		for i := 0; i < 100; i++ { // up to ~10 s on a loaded machine
			if n = countProcs(t, observer, c); n == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n != 0 {
			t.Errorf("%d process(es) %q survived", n, c)
		}
	}
}

// offsets hands every Run its own sleepOffset, so that suites running at
// once on the same machine (the local, SSH and Docker ones, in parallel
// tests, packages and even other checkouts' test runs) never count each
// other's processes: a random multiple of 100 below 10^9, never the same
// twice in one process.
var offsets = struct {
	sync.Mutex
	used map[int]bool
}{used: map[int]bool{}}

func newSleepOffset() int {
	offsets.Lock()
	defer offsets.Unlock()
	for {
		n := 100 * (100 + rand.Intn(10_000_000))
		if !offsets.used[n] {
			offsets.used[n] = true
			return n
		}
	}
}

var sleepRE = regexp.MustCompile(`sleep (10[0-9][0-9])\b`)

// u shifts every "sleep 10NN" in s by the suite run's offset.
func (o Options) u(s string) string {
	return sleepRE.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.Atoi(m[len("sleep "):])
		return "sleep " + strconv.Itoa(n+o.sleepOffset)
	})
}

func testTimeout(t *testing.T, open Factory, o Options) {
	cases := []struct {
		name, cmd string
		procs     []string
	}{
		{"foreground", o.u("sleep 1001"), []string{o.u("sleep 1001")}},
		{"pipeline", o.u("sleep 1002 | sleep 1003 | cat"), []string{o.u("sleep 1002"), o.u("sleep 1003")}},
		{"subshell", o.u("(sleep 1004; echo never)"), []string{o.u("sleep 1004")}},
		{"background child", o.u("sleep 1005 & sleep 1006"), []string{o.u("sleep 1005"), o.u("sleep 1006")}},
		{"waited background", o.u("sleep 1007 & wait $!"), []string{o.u("sleep 1007")}},
		{"nested shell", o.u("sh -c 'sleep 1008; echo never'"), []string{o.u("sleep 1008")}},
	}
	for i, c := range cases {
		earlier := o.u(fmt.Sprintf("sleep %d", 1090+i)) // unique per case
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, session.Options{Shell: o.Shell})
			Exec(t, s, "cd "+o.TempDir+"; export EK_T=kept", session.ExecOptions{})
			keep := Exec(t, s, earlier+" & echo started", session.ExecOptions{})
			if keep.Stdout != "started\n" {
				t.Fatalf("background job before the timeout: %q", keep.Stdout)
			}
			// The outcome is asserted, not how long it took (that is
			// measured by the benchmarks): a loaded machine is slow.
			r := Exec(t, s, c.cmd, session.ExecOptions{Timeout: time.Second})
			if !r.TimedOut {
				t.Errorf("TimedOut = false after %v", r.Duration)
			}
			if strings.Contains(r.Stdout, "never") {
				t.Errorf("the command went on after the timeout: %q", r.Stdout)
			}
			after := Exec(t, s, `echo "$PWD $EK_T"`, session.ExecOptions{})
			expect(t, after, o.TempDir+" kept\n", "", 0)
			waitNoSurvivors(t, open, o, c.procs...)
			// A job started before the timed-out command is not its to kill.
			if n := Survivors(t, open, o, earlier); n != 1 {
				t.Errorf("the earlier background job: %d running, want 1 (timed-out command: shell ended %v, respawned %v, after %v)", n, r.ShellEnded, r.Respawned, r.Duration)
			}
		})
	}
}

func testBuiltinLoop(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell})
	Exec(t, s, "cd "+o.TempDir+"; export EK_L='x y'; ek_plain=kept", session.ExecOptions{})
	// A loop of builtins starts no process to signal: the shell's own
	// interrupt trap stops it, and the shell goes on, its variables intact.
	r := Exec(t, s, "while :; do :; done; echo never", session.ExecOptions{Timeout: time.Second})
	if !r.TimedOut || r.ExitCode != session.ExitTimedOut || strings.Contains(r.Stdout, "never") {
		t.Errorf("builtin loop: timed out %v, exit %d, stdout %q", r.TimedOut, r.ExitCode, r.Stdout)
	}
	want := o.TempDir + "|x y|kept\n"
	if r.Respawned {
		want = o.TempDir + "|x y|\n" // replaced: exported state only
	}
	expect(t, Exec(t, s, `echo "$PWD|$EK_L|${ek_plain-}"`, session.ExecOptions{}), want, "", 0)
}

// testWholeLine checks that a timeout or a cancel stops the whole command
// line, as timeout(1) or Ctrl-C would: nothing after the interrupted
// command runs, whatever it is (a file write, a loop, a subshell), and the
// exit code says how it ended.
func testWholeLine(t *testing.T, open Factory, o Options) {
	dir := o.TempDir
	lines := []string{
		o.u("sleep 1020") + "; echo after > %s; echo printed",
		"for i in 1 2 3; do " + o.u("sleep 1021") + "; done; echo after > %s; echo printed",
		"{ " + o.u("sleep 1022") + "; }; echo after > %s; echo printed",
		"while :; do :; done; echo after > %s; echo printed",
		o.u("sleep 1023") + " || echo after > %s; echo printed",
		"trap '' INT; " + o.u("sleep 1024") + "; echo after > %s; echo printed",
	}
	if !o.bash() {
		// bash runs the pending trap after an interrupted ( … ) subshell
		// only once the next command has run: a known gap, documented in
		// docs/architecture.md, "Timeouts and recovery".
		lines = append(lines, "("+o.u("sleep 1026")+"); echo after > %s; echo printed")
	}
	if o.bash() {
		// Inside a function a break cannot reach the frame's loop: the
		// shell ends instead, and is replaced.
		lines = append(lines, "f() { "+o.u("sleep 1025")+"; echo in-f > %[1]s; }; f; echo after > %[1]s; echo printed")
	}
	for i, line := range lines {
		for _, cancel := range []bool{false, true} {
			name := fmt.Sprintf("%d/timeout", i)
			if cancel {
				name = fmt.Sprintf("%d/cancel", i)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s := open(t, session.Options{Shell: o.Shell})
				marker := fmt.Sprintf("%s/ek-after-%d-%d-%v", dir, o.sleepOffset, i, cancel)
				cmd := fmt.Sprintf(line, marker)
				var r session.Result
				var err error
				if cancel {
					ctx, stop := context.WithTimeout(context.Background(), time.Second)
					r, err = s.Exec(ctx, cmd, session.ExecOptions{})
					stop()
				} else {
					r, err = s.Exec(context.Background(), cmd, session.ExecOptions{Timeout: time.Second})
				}
				wantCode := session.ExitTimedOut
				if cancel {
					wantCode = session.ExitCanceled
				}
				if cancel != r.Canceled || cancel == r.TimedOut || (r.ExitCode != wantCode && !r.Respawned) {
					t.Errorf("%q: canceled %v timed out %v exit %d (err %v)", cmd, r.Canceled, r.TimedOut, r.ExitCode, err)
				}
				if strings.Contains(r.Stdout, "printed") {
					t.Errorf("%q went on after the interrupt: %q", cmd, r.Stdout)
				}
				if got := Exec(t, s, "test -e "+marker+" && echo exists || echo absent", session.ExecOptions{}); got.Stdout != "absent\n" {
					t.Errorf("%q: the command after the interrupted one ran (%s)", cmd, strings.TrimSpace(got.Stdout))
				}
			})
		}
	}
}

func testCancel(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := s.Exec(ctx, o.u("sleep 1010"), session.ExecOptions{})
	if !errors.Is(err, context.DeadlineExceeded) || !r.Canceled {
		t.Errorf("cancelled Exec: err %v, canceled %v", err, r.Canceled)
	}
	expect(t, Exec(t, s, "echo fine", session.ExecOptions{}), "fine\n", "", 0)
	waitNoSurvivors(t, open, o, o.u("sleep 1010"))
}

func testRespawn(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell, Raw: true})
	tricky := "line1\nline2 \"q\" 'sq' $dollar `tick` \\back héllo \x01\t"
	Exec(t, s, "cd "+o.TempDir+"; export EK_R="+transport.ShellQuote(tricky)+"; export EK_GONE=1", session.ExecOptions{})
	Exec(t, s, "unset EK_GONE", session.ExecOptions{})
	r := Exec(t, s, "exit 9", session.ExecOptions{})
	if !r.ShellEnded || !r.Respawned || r.ExitCode != 9 {
		t.Fatalf("exit 9: ended %v respawned %v code %d", r.ShellEnded, r.Respawned, r.ExitCode)
	}
	got := Exec(t, s, `printf '%s|%s|%s' "$EK_R" "${EK_GONE-unset}" "$PWD"`, session.ExecOptions{})
	if want := tricky + "|unset|" + o.TempDir; got.Stdout != want {
		t.Errorf("after respawn: %q, want %q", got.Stdout, want)
	}
}

func testNoRespawn(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell, NoRespawn: true})
	r, err := s.Exec(context.Background(), "exit 4", session.ExecOptions{})
	if !errors.Is(err, session.ErrShellEnded) || r.ExitCode != 4 || !r.ShellEnded {
		t.Fatalf("exit with NoRespawn: %v code %d ended %v", err, r.ExitCode, r.ShellEnded)
	}
	if _, err := s.Exec(context.Background(), "echo x", session.ExecOptions{}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Exec after the shell ended with NoRespawn: %v, want ErrClosed", err)
	}
}

func testCloseOrphans(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell})
	Exec(t, s, o.u("sleep 1011 & (sleep 1012 &) ; sleep 1013 >/dev/null 2>&1 </dev/null &"), session.ExecOptions{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Exec(context.Background(), "true", session.ExecOptions{}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Exec after Close: %v", err)
	}
	waitNoSurvivors(t, open, o, o.u("sleep 1011"), o.u("sleep 1012"), o.u("sleep 1013"))
}

// testEscapes: on a contained target, processes that leave the shell's
// session and process group are gone after a timeout and after Close.
func testEscapes(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell, KillGrace: 200 * time.Millisecond})
	r := Exec(t, s, o.u("setsid -f sleep 1021; (setsid sleep 1022 &); sleep 1023"), session.ExecOptions{Timeout: time.Second})
	if !r.TimedOut {
		t.Fatalf("sleep 1023 did not time out: %+v", r)
	}
	waitNoSurvivors(t, open, o, o.u("sleep 1021"), o.u("sleep 1022"), o.u("sleep 1023"))
	escapes := []string{
		"setsid sleep 1024 &",
		"setsid -f sleep 1025",
		"(setsid -f sh -c 'sleep 1026 & sleep 1027' &)",
		"nohup setsid -f sleep 1028 >/dev/null 2>&1",
		"setsid -f sh -c 'trap \"\" HUP TERM INT; exec sleep 1029'",
		"sh -c 'sh -c \"setsid sleep 1030 </dev/null >/dev/null 2>&1 &\" &'",
	}
	for _, c := range escapes {
		Exec(t, s, o.u(c), session.ExecOptions{})
	}
	if n := Survivors(t, open, o, o.u("sleep 1025")); n != 1 {
		t.Fatalf("setsid -f sleep: %d running before Close, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var all []string
	for n := 1024; n <= 1030; n++ {
		all = append(all, o.u("sleep "+strconv.Itoa(n)))
	}
	waitNoSurvivors(t, open, o, all...)
}

func testFlood(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell, MaxOutputBytes: 1 << 20, Raw: true})
	const total = FloodBytes
	r := Exec(t, s, "head -c "+strconv.Itoa(total)+" /dev/zero; echo tail-marker", session.ExecOptions{})
	si := r.StdoutInfo
	if si.Bytes != total+12 || si.Kept != 1<<20 || si.Dropped != total+12-(1<<20) || !r.Truncated || si.DroppedAt != 1<<19 {
		t.Errorf("flood: %+v truncated %v", si, r.Truncated)
	}
	if len(r.Stdout) != 1<<20 || !strings.HasSuffix(r.Stdout, "tail-marker\n") || r.ExitCode != 0 {
		t.Errorf("flood result: %d bytes, code %d, ends %q", len(r.Stdout), r.ExitCode, r.Stdout[len(r.Stdout)-20:])
	}
	y := Exec(t, s, "yes", session.ExecOptions{Timeout: 2 * time.Second})
	if !y.TimedOut || y.StdoutInfo.Kept != 1<<20 || y.StdoutInfo.Bytes != y.StdoutInfo.Kept+y.StdoutInfo.Dropped || y.StdoutInfo.Dropped == 0 {
		t.Errorf("yes: timed out %v, %+v", y.TimedOut, y.StdoutInfo)
	}
	expect(t, Exec(t, s, "echo usable", session.ExecOptions{}), "usable\n", "", 0)
	e := Exec(t, s, "head -c 3000000 /dev/zero >&2", session.ExecOptions{MaxOutputBytes: 1000})
	if e.StderrInfo.Bytes != 3000000 || e.StderrInfo.Kept != 1000 || len(e.Stderr) != 1000 {
		t.Errorf("stderr flood: %+v", e.StderrInfo)
	}
}

func testInvalid(t *testing.T, open Factory, o Options) {
	s := open(t, session.Options{Shell: o.Shell})
	for _, cmd := range []string{"", "   \n", "echo a\x00b", strings.Repeat("x", session.MaxCommandBytes+1)} {
		if _, err := s.Exec(context.Background(), cmd, session.ExecOptions{}); !errors.Is(err, session.ErrInvalidCommand) {
			t.Errorf("Exec(%.20q): %v, want ErrInvalidCommand", cmd, err)
		}
	}
	expect(t, Exec(t, s, "echo ok", session.ExecOptions{}), "ok\n", "", 0)
}

// testSabotage: a command that shadows `builtin` or closes the saved
// descriptors breaks the next frame; the session must notice at the timeout
// and come back with a new shell.
// FrameBreakers are commands that attack what the bash frame relies on:
// the builtins it calls, its variables and its saved descriptors.
var FrameBreakers = []string{
	"builtin() { :; }", "enable -n printf", "enable -n read", "enable -n eval", "enable -n builtin",
	"readonly __ekn", "readonly __ekc", "readonly __ekc __ekn", "readonly __ekr __ekf __eki",
	"exec 61>&-", "exec 62>&-", "exec 61>&- 62>&-", "exec 255<&-", "exec 60<&-",
	"printf() { echo forged; }", "read() { :; }", "eval() { :; }",
	"set -o posix", "trap 'echo trapped' DEBUG", "shopt -s expand_aliases; alias for=echo",
	// The frame loop: read-only variables its end sets, a loop skipped
	// with a read-only command text, traps that break or continue it.
	"readonly __eki", "readonly __ekr", "readonly __ekq __ekt; trap - INT", "readonly __ekc; continue 2",
	"trap 'continue 2' DEBUG", "trap 'continue' DEBUG; echo y", "trap 'break 2' DEBUG", "trap 'continue 2' ERR; false",
	"shopt -s expand_aliases; alias while='echo pwned; while'; break 2",
}

// FrameProbes look at the frame or try to outlive or forge it: they may
// show the frame's variables (the command asked for them), but the session
// must go on as if they had not run.
var FrameProbes = []string{
	"declare -p __ekn", "set >/dev/null; set | grep -c __ek", "setsid sleep 2 2>/dev/null &", "setsid -f sleep 2 2>/dev/null",
	forger("set"),
}

// testSabotage runs each frame breaker and probe, then an ordinary command,
// which must succeed at once in a shell with the state restored; no text of
// the frame's may show in either result of a breaker, and none may run
// into its timeout (a frame that hangs or spins instead of failing).
func testSabotage(t *testing.T, open Factory, o Options) {
	for _, cmd := range append(append([]string(nil), FrameBreakers...), FrameProbes...) {
		probe := !slices.Contains(FrameBreakers, cmd)
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			s := open(t, session.Options{Shell: o.Shell, Timeout: time.Minute, KillGrace: 200 * time.Millisecond})
			Exec(t, s, "cd "+o.TempDir+"; export EK_S=still", session.ExecOptions{})
			r := Exec(t, s, cmd, session.ExecOptions{})
			if r.TimedOut && !probe {
				t.Errorf("%q ran into its timeout", cmd)
			}
			next := Exec(t, s, `echo "$EK_S $PWD"`, session.ExecOptions{})
			if next.Stdout != "still "+o.TempDir+"\n" || next.Stderr != "" || next.ExitCode != 0 {
				t.Errorf("after %q the next command got %q %q exit %d", cmd, next.Stdout, next.Stderr, next.ExitCode)
			}
			for _, res := range []session.Result{r, next} {
				if probe && res.Command == cmd {
					continue
				}
				for _, internal := range []string{"__ek", "declare -x", "\x1e", "builtin:"} {
					if strings.Contains(res.Stdout+res.Stderr, internal) {
						t.Errorf("%q: the frame's text %q shows in the output: %q %q", res.Command, internal, res.Stdout, res.Stderr)
					}
				}
			}
		})
	}
}

// Case is one hostile command and what must come of it.
type Case struct {
	Name string
	Cmd  string
	// Want checks the result; nil means only that the session survives.
	Want     func(t *testing.T, r session.Result)
	BashOnly bool
	TTY      bool
	Opts     session.ExecOptions
}

func exact(stdout, stderr string, code int) func(*testing.T, session.Result) {
	return func(t *testing.T, r session.Result) {
		t.Helper()
		expect(t, r, stdout, stderr, code)
	}
}

func ended(code int) func(*testing.T, session.Result) {
	return func(t *testing.T, r session.Result) {
		t.Helper()
		if !r.ShellEnded || !r.Respawned || r.ExitCode != code {
			t.Errorf("%q: shell ended %v, respawned %v, code %d; want ended with %d", r.Command, r.ShellEnded, r.Respawned, r.ExitCode, code)
		}
	}
}

func endedOr(stdout string, code int) func(*testing.T, session.Result) {
	return func(t *testing.T, r session.Result) {
		t.Helper()
		if r.ShellEnded {
			return
		}
		expect(t, r, stdout, r.Stderr, code)
	}
}

func fakeNonce() string { return strings.Repeat("ab", 16) }

// forgeWith prints a complete forged trailer (exit 0 in /forged) for the
// nonce the shell word n expands to.
func forgeWith(n string) string {
	return `printf '\036E%s\0360\036C%s\036/forged\036F%s\036\036V%s\036\036T%s\036' ` + strings.Repeat(n+" ", 5) + `>&2; printf '\036E%s\036' ` + n
}

// forger runs list, then forges a trailer with every 32-digit hex word in
// what it printed, then ends with status 7.
func forger(list string) string {
	return `for n in $( { ` + list + `; } 2>/dev/null | grep -oE '[0-9a-f]{32}' | sort -u); do ` + forgeWith(`"$n"`) + `; done; (exit 7)`
}

// notForged checks that a forger's own end came through: status 7 in the
// directory it ran in.
func notForged(t *testing.T, r session.Result) {
	t.Helper()
	if r.ExitCode != 7 || r.Cwd != r.CwdBefore || r.FrameBroken {
		t.Errorf("forged: exit %d, cwd %q, frame broken %v", r.ExitCode, r.Cwd, r.FrameBroken)
	}
}

// Corpus is the hostile framing corpus.
func Corpus() []Case {
	big := strings.Repeat("a", 10_000_000)
	return []Case{
		{Name: "fake end marker", Cmd: `printf '\036E` + fakeNonce() + `\036'`, Want: exact("\x1eE"+fakeNonce()+"\x1e", "", 0)},
		{Name: "fake trailer on stderr", Cmd: `printf '\036E` + fakeNonce() + `\0360\036C` + fakeNonce() + `\036/\036T` + fakeNonce() + `\036' >&2`, Want: exact("", "\x1eE"+fakeNonce()+"\x1e0\x1eC"+fakeNonce()+"\x1e/\x1eT"+fakeNonce()+"\x1e", 0)},
		{Name: "marker bytes in a loop", Cmd: `for i in 1 2 3; do printf '\036E\036T\036\036'; done`, Want: exact(strings.Repeat("\x1eE\x1eT\x1e\x1e", 3), "", 0)},
		// Forgers: harvest every nonce-shaped word the shell shows (its
		// variables, functions, the payload) and print a complete trailer
		// with each, claiming exit 0 in /forged; the real result must win.
		{Name: "forge from set", Cmd: forger(`set`), Want: notForged, BashOnly: true},
		{Name: "forge from declare -p", Cmd: forger(`declare -p`), Want: notForged, BashOnly: true},
		{Name: "forge from frame variables", Cmd: forger(`for v in ${!__ek*}; do printf '%s\n' "${!v}"; done`), Want: notForged, BashOnly: true},
		{Name: "forge from declare -f", Cmd: forger(`declare -f`), Want: notForged, BashOnly: true},
		// A command that reads ahead on the shell's script descriptor takes
		// the nonce, but leaves the frame without one: its result is marked.
		{Name: "forge from the script descriptor", Cmd: `n=$(head -c 32 /proc/$$/fd/255); ` + forgeWith(`"$n"`) + `; (exit 7)`, Want: func(t *testing.T, r session.Result) {
			if (r.Cwd == "/forged" || r.ExitCode != 7) && !r.FrameBroken {
				t.Errorf("a forged result was not marked: %+v", r)
			}
		}, BashOnly: true},
		// Nothing in this one names the frame: its forged result may pass,
		// but the shell it leaves without a nonce ends, and the next
		// command runs in a new one (RunCorpus checks that).
		{Name: "forge unseen", Cmd: `n=$(head -c 32 /pro""c/$$/fd/2""55); echo -ne "\x1eE$n\x1e0\x1eC$n\x1e/forged\x1eF$n\x1e\x1eV$n\x1e\x1eT$n\x1e" >&2; echo -ne "\x1eE$n\x1e"`, BashOnly: true},
		{Name: "forge from read -u255", Cmd: `read -rN32 -u255 n; ` + forgeWith(`"$n"`) + `; (exit 7)`, Want: func(t *testing.T, r session.Result) {
			if (r.Cwd == "/forged" || r.ExitCode != 7) && !r.FrameBroken {
				t.Errorf("a forged result was not marked: %+v", r)
			}
		}, BashOnly: true},
		{Name: "no trailing newline", Cmd: `printf 'no newline'; printf 'err no newline' >&2`, Want: exact("no newline", "err no newline", 0)},
		{Name: "NUL bytes", Cmd: `printf 'a\000b\000'`, Want: exact("a\x00b\x00", "", 0)},
		{Name: "carriage returns", Cmd: `printf 'a\rb\r\nc\r'`, Want: exact("a\rb\r\nc\r", "", 0)},
		{Name: "escape sequences", Cmd: `printf '\033[31mred\033[0m\033]0;title\007\033P+q\033\\'`, Want: exact("\x1b[31mred\x1b[0m\x1b]0;title\x07\x1bP+q\x1b\\", "", 0)},
		{Name: "invalid UTF-8", Cmd: `printf '\377\376\303('`, Want: exact("\xff\xfe\xc3(", "", 0)},
		{Name: "unicode", Cmd: `echo 'héllo 日本 🙂'`, Want: exact("héllo 日本 🙂\n", "", 0)},
		{Name: "10 MB on one line", Cmd: `head -c 10000000 /dev/zero | tr '\000' a`, Opts: session.ExecOptions{MaxOutputBytes: 16 << 20}, Want: exact(big, "", 0)},
		{Name: "exec >/dev/null", Cmd: `exec >/dev/null; echo hidden; echo visible >&2`, Want: exact("", "visible\n", 0)},
		{Name: "exec 2>&1", Cmd: `exec 2>&1; echo to-err >&2`, Want: exact("to-err\n", "", 0)},
		{Name: "close stdout", Cmd: `exec 1>&-; echo x 2>/dev/null; echo closed >&2`, Want: exact("", "closed\n", 0)},
		{Name: "sneaky exec via eval", Cmd: `eval "ex""ec >/dev/null"; echo gone`, Want: exact("", "", 0)},
		{Name: "exit", Cmd: `exit`, Want: ended(0)},
		{Name: "exit 42", Cmd: `echo before; exit 42`, Want: func(t *testing.T, r session.Result) {
			ended(42)(t, r)
			if r.Stdout != "before\n" {
				t.Errorf("output before exit: %q", r.Stdout)
			}
		}},
		{Name: "exec bash", Cmd: `exec bash`, Want: endedOr("", 0)},
		{Name: "exec sh", Cmd: `exec sh`, Want: endedOr("", 0)},
		{Name: "kill the shell", Cmd: `kill -9 $$`, Want: ended(137)},
		{Name: "set -e; false", Cmd: `set -e; false; echo not-reached`, Want: ended(1)},
		{Name: "set -u with unset variable", Cmd: `set -u; echo "$EK_UNDEFINED_VAR"`, Want: endedOr("", 1)},
		{Name: "DEBUG trap", Cmd: `trap 'echo x' DEBUG`, Want: func(t *testing.T, r session.Result) {
			// The trap is live until the end of this command, so it may fire.
			if strings.Trim(r.Stdout, "x\n") != "" || r.ExitCode != 0 {
				t.Errorf("DEBUG trap: %+v", r)
			}
		}, BashOnly: true},
		{Name: "ERR trap", Cmd: `trap 'echo err-trap' ERR; false`, Want: func(t *testing.T, r session.Result) {
			if r.ExitCode != 1 || !strings.Contains(r.Stdout, "err-trap") {
				t.Errorf("ERR trap: %+v", r)
			}
		}, BashOnly: true},
		{Name: "EXIT trap then exit", Cmd: `trap 'echo bye' EXIT; exit 3`, Want: func(t *testing.T, r session.Result) {
			ended(3)(t, r)
			if r.Stdout != "bye\n" {
				t.Errorf("EXIT trap output: %q", r.Stdout)
			}
		}},
		{Name: "PROMPT_COMMAND", Cmd: `PROMPT_COMMAND='echo pc'; PS1='$(echo ps1) '; PS4='$(echo ps4) '`, Want: exact("", "", 0)},
		{Name: "unset -f internals", Cmd: `unset -f __ek1 __ek2 2>/dev/null; echo done`, Want: exact("done\n", "", 0), BashOnly: true},
		{Name: "redefine internals", Cmd: `__ek2() { :; } 2>/dev/null; echo done`, Want: endedOr("done\n", 0), BashOnly: true},
		{Name: "unset -f everything", Cmd: `for f in $(compgen -A function); do unset -f "$f" 2>/dev/null; done; echo done`, Want: exact("done\n", "", 0), BashOnly: true},
		{Name: "shadow printf and eval", Cmd: `printf() { echo hacked; }; eval() { echo hacked; }; echo:() { :; }; echo set`, Want: exact("set\n", "", 0), BashOnly: true},
		{Name: "aliases", Cmd: `shopt -s expand_aliases; alias printf=false builtin=false read=false; echo aliased`, Want: exact("aliased\n", "", 0), BashOnly: true},
		{Name: "IFS changed", Cmd: `IFS=x; echo a b`, Want: exact("a b\n", "", 0)},
		{Name: "set -x", Cmd: `set -x; echo traced; set +x`, Want: func(t *testing.T, r session.Result) {
			if r.Stdout != "traced\n" || r.ExitCode != 0 || !strings.Contains(r.Stderr, "echo traced") {
				t.Errorf("set -x: %+v", r)
			}
		}},
		{Name: "set -v", Cmd: `set -v; echo verbose; set +v`, Want: func(t *testing.T, r session.Result) {
			if r.Stdout != "verbose\n" || r.ExitCode != 0 {
				t.Errorf("set -v: %+v", r)
			}
		}},
		{Name: "cat with no input", Cmd: `cat; echo "rc=$?"`, Want: exact("rc=0\n", "", 0), Opts: session.ExecOptions{Timeout: 10 * time.Second}},
		{Name: "read with no input", Cmd: `read x`, Want: exact("", "", 1), Opts: session.ExecOptions{Timeout: 10 * time.Second}},
		{Name: "password-style prompt", Cmd: `head -c1 </dev/tty 2>/dev/null; echo "rc=$?"`, Want: func(t *testing.T, r session.Result) {
			if r.TimedOut || !strings.HasPrefix(r.Stdout, "rc=") {
				t.Errorf("a read of /dev/tty: %+v", r)
			}
		}, Opts: session.ExecOptions{Timeout: 10 * time.Second}},
		{Name: "background job", Cmd: `sleep 100 & echo bg`, Want: exact("bg\n", "", 0), Opts: session.ExecOptions{Timeout: 10 * time.Second}},
		{Name: "background job holding output", Cmd: `(sleep 100; echo late) & echo now`, Want: exact("now\n", "", 0), Opts: session.ExecOptions{Timeout: 10 * time.Second}},
		{Name: "syntax error", Cmd: `if then fi`, Want: func(t *testing.T, r session.Result) {
			if r.ShellEnded {
				return // POSIX shells may exit on a syntax error in eval
			}
			if r.ExitCode != 2 || !strings.Contains(r.Stderr, "syntax") {
				t.Errorf("syntax error: %+v", r)
			}
		}},
		{Name: "unterminated quote", Cmd: `echo "unterminated`, Want: func(t *testing.T, r session.Result) {
			if !r.ShellEnded && r.ExitCode != 2 {
				t.Errorf("unterminated quote: %+v", r)
			}
		}},
		{Name: "quotes and backslashes", Cmd: `printf '%s|' 'it'"'"'s' "\\back" \$HOME '\n'`, Want: exact("it's|\\back|$HOME|\\n|", "", 0)},
		{Name: "here-document", Cmd: "cat <<'EOF'\nline1\n$notexpanded\nEOF", Want: exact("line1\n$notexpanded\n", "", 0)},
		{Name: "return at top level", Cmd: `return 5; echo after`, Want: func(t *testing.T, r session.Result) {
			if r.ShellEnded {
				return
			}
			if !strings.Contains(r.Stdout, "after") {
				t.Errorf("return at top level: %+v", r)
			}
		}},
		// The command line runs in a one-pass loop (so that an interrupt
		// can abandon it): a break outside any loop of its own ends it.
		{Name: "break at top level", Cmd: `break 2>/dev/null; echo after`, Want: exact("", "", 0)},
		{Name: "long command", Cmd: `: ` + strings.Repeat("word ", 40000) + `; echo long`, Want: exact("long\n", "", 0)},
		{Name: "cd to nowhere", Cmd: `cd /nonexistent-execkit-dir 2>/dev/null || echo "failed"`, Want: exact("failed\n", "", 0)},
		{Name: "stty -echo", Cmd: `stty -echo; echo silent`, Want: exact("silent\n", "", 0), TTY: true},
		{Name: "terminal check", Cmd: `[ -t 1 ] && echo tty`, Want: exact("tty\n", "", 0), TTY: true},
		{Name: "read from terminal", Cmd: `read x; echo "rc=$?"`, Want: exact("rc=1\n", "", 0), TTY: true, Opts: session.ExecOptions{Timeout: 10 * time.Second}},
	}
}

// RunCorpus runs every Case in a fresh session and checks that the next
// command in that session still works.
func RunCorpus(t *testing.T, open Factory, o Options) {
	n := 0
	for _, c := range Corpus() {
		if c.BashOnly && !o.bash() || c.TTY && !o.TTY {
			continue
		}
		n++
		c := c
		t.Run(c.Name, func(t *testing.T) {
			// Each case has a session of its own: they run side by side
			// (as many as go test's -parallel allows).
			t.Parallel()
			// Raw: the corpus checks that bytes come through the frame exactly.
			s := open(t, session.Options{Shell: o.Shell, TTY: c.TTY, Timeout: 30 * time.Second, Raw: true})
			Exec(t, s, "cd "+o.TempDir, session.ExecOptions{})
			r := Exec(t, s, c.Cmd, c.Opts)
			if r.TimedOut {
				t.Errorf("%q timed out", c.Cmd)
			}
			if c.Want != nil {
				c.Want(t, r)
			}
			for i := 0; i < 2; i++ {
				next := Exec(t, s, fmt.Sprintf("echo next-%d; echo err-%d >&2; pwd", i, i), session.ExecOptions{})
				expect(t, next, fmt.Sprintf("next-%d\n%s\n", i, o.TempDir), fmt.Sprintf("err-%d\n", i), 0)
			}
		})
	}
	if n < 30 {
		t.Errorf("only %d corpus cases ran", n)
	}
}
