// Package transporttest is the conformance suite every transport.Transport
// runs, in the manner of testing/fstest: one function, many implementations.
//
// The suite drives the target through a tiny shell loop that reads lines
// from file descriptor 3 and evaluates them, so it checks the transport
// contract (descriptor 3, empty stdin, split streams, exit codes, SignalJobs,
// Close) the same way on the local machine, an SSH host or a container.
package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execkit/execkit/transport"
)

// Options describe what the transport under test supports.
type Options struct {
	// TTY: the transport implements StartOptions.TTY.
	TTY bool
	// Dir is a directory that exists on the target (default "/").
	Dir string
}

// Run runs the conformance suite against the transport tr.
func Run(t *testing.T, tr transport.Transport, opts Options) {
	if opts.Dir == "" {
		opts.Dir = "/"
	}
	t.Run("Streams", func(t *testing.T) { testStreams(t, tr) })
	t.Run("StdinEmpty", func(t *testing.T) { testStdinEmpty(t, tr) })
	t.Run("ExitCode", func(t *testing.T) { testExitCode(t, tr) })
	t.Run("KilledBySignal", func(t *testing.T) { testKilledBySignal(t, tr) })
	t.Run("EnvAndDir", func(t *testing.T) { testEnvAndDir(t, tr, opts.Dir) })
	t.Run("NoControllingTerminal", func(t *testing.T) { testNoTTY(t, tr) })
	t.Run("MissingProgram", func(t *testing.T) { testMissing(t, tr) })
	t.Run("LargeOutput", func(t *testing.T) { testLargeOutput(t, tr) })
	t.Run("SignalJobs", func(t *testing.T) { testSignalJobs(t, tr) })
	t.Run("SignalJobsSinceMark", func(t *testing.T) { testSignalJobsByAge(t, tr) })
	t.Run("SignalShell", func(t *testing.T) { testSignalShell(t, tr) })
	t.Run("CloseKillsEverything", func(t *testing.T) { testClose(t, tr) })
	t.Run("InputClosedTwice", func(t *testing.T) { testInputClosedTwice(t, tr) })
	if opts.TTY {
		t.Run("TTY", func(t *testing.T) { testTTY(t, tr) })
	}
}

const waitLimit = 20 * time.Second

// repl is a shell on the target that evaluates each line sent to fd 3 and
// prints a line "<<done N>>" on stdout after it.
type repl struct {
	t      *testing.T
	p      transport.Process
	out    *lineReader
	errBuf *syncBuffer
	n      int
}

const replScript = `i=0; while IFS= read -r line <&3; do eval "$line"; i=$((i+1)); echo "<<done $i>>"; done`

func startREPL(t *testing.T, tr transport.Transport, so transport.StartOptions) *repl {
	t.Helper()
	so.Argv = []string{"sh", "-c", replScript}
	p := start(t, tr, so)
	r := &repl{t: t, p: p, out: newLineReader(p.Stdout()), errBuf: &syncBuffer{}}
	go io.Copy(r.errBuf, p.Stderr())
	return r
}

func start(t *testing.T, tr transport.Transport, so transport.StartOptions) transport.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	p, err := tr.Start(ctx, so)
	if err != nil {
		t.Fatalf("Start(%q): %v", so.Argv, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// do runs one line and returns the stdout lines it printed.
func (r *repl) do(line string) []string {
	r.t.Helper()
	r.n++
	if _, err := io.WriteString(r.p.Input(), line+"\n"); err != nil {
		r.t.Fatalf("write %q: %v", line, err)
	}
	want := fmt.Sprintf("<<done %d>>", r.n)
	var lines []string
	for {
		l, err := r.out.next(waitLimit)
		if err != nil {
			r.t.Fatalf("waiting for %q after %q: %v (stderr: %q)", want, line, err, r.errBuf.String())
		}
		if l == want {
			return lines
		}
		lines = append(lines, l)
	}
}

func (r *repl) one(line string) string {
	r.t.Helper()
	out := r.do(line)
	if len(out) != 1 {
		r.t.Fatalf("%q printed %q, want one line", line, out)
	}
	return out[0]
}

func testStreams(t *testing.T, tr transport.Transport) {
	r := startREPL(t, tr, transport.StartOptions{})
	if got := r.one("echo out; echo err >&2"); got != "out" {
		t.Errorf("stdout = %q, want out", got)
	}
	waitFor(t, func() bool { return r.errBuf.String() == "err\n" }, "stderr to be err")
}

func testStdinEmpty(t *testing.T, tr transport.Transport) {
	r := startREPL(t, tr, transport.StartOptions{})
	// Both would block forever on a stdin that is not empty.
	if got := r.one(`x=$(cat); echo "cat:$x:$?"`); got != "cat::0" {
		t.Errorf("cat = %q", got)
	}
	if got := r.one(`if read -r v; then echo got; else echo eof; fi`); got != "eof" {
		t.Errorf("read = %q", got)
	}
}

func waitDone(t *testing.T, p transport.Process) int {
	t.Helper()
	select {
	case <-p.Done():
		return p.ExitCode()
	case <-time.After(waitLimit):
		t.Fatal("process did not exit")
		return -1
	}
}

func testExitCode(t *testing.T, tr transport.Transport) {
	for _, code := range []int{0, 1, 42, 255} {
		p := start(t, tr, transport.StartOptions{Argv: []string{"sh", "-c", "exit " + strconv.Itoa(code)}})
		if got := waitDone(t, p); got != code {
			t.Errorf("exit %d: ExitCode = %d", code, got)
		}
	}
}

func testKilledBySignal(t *testing.T, tr transport.Transport) {
	p := start(t, tr, transport.StartOptions{Argv: []string{"sh", "-c", "kill -TERM $$; sleep 5"}})
	if got := waitDone(t, p); got != 128+15 {
		t.Errorf("ExitCode = %d, want %d", got, 128+15)
	}
}

func testEnvAndDir(t *testing.T, tr transport.Transport, dir string) {
	r := startREPL(t, tr, transport.StartOptions{
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "EXECKIT_T=v a'l\"ue"},
		Dir: dir,
	})
	if got := r.one(`echo "$EXECKIT_T"`); got != `v a'l"ue` {
		t.Errorf("env = %q", got)
	}
	if got := r.one(`pwd -P`); got != dir {
		t.Errorf("dir = %q, want %q", got, dir)
	}
	if got := r.one(`env | grep -c '^HOME=' || true`); got != "0" {
		t.Errorf("HOME is set although Env replaced the environment: %q", got)
	}
}

func testNoTTY(t *testing.T, tr transport.Transport) {
	r := startREPL(t, tr, transport.StartOptions{})
	if got := r.one(`if (: </dev/tty) 2>/dev/null; then echo tty; else echo none; fi`); got != "none" {
		t.Errorf("/dev/tty opened without TTY: %q", got)
	}
	if got := r.one(`if [ -t 1 ]; then echo tty; else echo pipe; fi`); got != "pipe" {
		t.Errorf("stdout is %q", got)
	}
}

func testMissing(t *testing.T, tr transport.Transport) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	p, err := tr.Start(ctx, transport.StartOptions{Argv: []string{"execkit-no-such-program-xyz"}})
	if err == nil {
		// Remote transports may only learn it when the program runs.
		defer p.Close()
		if code := waitDone(t, p); code != 127 {
			t.Errorf("missing program: Start succeeded and exit code = %d, want 127", code)
		}
		return
	}
	if !errors.Is(err, transport.ErrNoShell) {
		t.Errorf("missing program: error %v does not wrap ErrNoShell", err)
	}
}

func testLargeOutput(t *testing.T, tr transport.Transport) {
	const n = 8 << 20
	p := start(t, tr, transport.StartOptions{Argv: []string{"sh", "-c", "head -c " + strconv.Itoa(n) + " /dev/zero; head -c 1000 /dev/zero >&2"}})
	var errN int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); errN, _ = io.Copy(io.Discard, p.Stderr()) }()
	got, _ := io.Copy(io.Discard, p.Stdout())
	wg.Wait()
	if got != n || errN != 1000 {
		t.Errorf("read %d stdout and %d stderr bytes, want %d and 1000", got, errN, n)
	}
	waitDone(t, p)
}

// alive reports, through the repl, whether pid runs on the target.
func alive(r *repl, pid string) bool {
	return r.one("if kill -0 "+pid+" 2>/dev/null; then echo yes; else echo no; fi") == "yes"
}

func testSignalJobs(t *testing.T, tr transport.Transport) {
	r := startREPL(t, tr, transport.StartOptions{})
	pid := r.one(`sleep 60 & echo $!`)
	sub := r.one(`(sleep 61; :) & echo $!`)
	ctx := context.Background()
	n, err := r.p.SignalJobs(ctx, transport.SIGKILL, transport.JobMark{})
	if err != nil || n < 2 {
		t.Fatalf("SignalJobs = %d, %v; want >= 2 processes", n, err)
	}
	waitFor(t, func() bool { return !alive(r, pid) && !alive(r, sub) }, "jobs to die")
	// The shell itself survived.
	if got := r.one("echo still-here"); got != "still-here" {
		t.Errorf("shell after SignalJobs: %q", got)
	}
	if _, err := r.p.SignalJobs(ctx, "BOGUS", transport.JobMark{}); err == nil {
		t.Error("SignalJobs accepted an unknown signal")
	}
}

func testSignalJobsByAge(t *testing.T, tr transport.Transport) {
	r := startREPL(t, tr, transport.StartOptions{})
	old := r.one(`sleep 60 & echo $!`)
	// No pause: a mark must separate jobs started a moment apart.
	mark := r.p.MarkJobs()
	if fm, ok := r.p.(transport.FrameMarker); ok && fm.FrameMarks() {
		// The shell reports the mark itself, as a session's frame has it.
		m, ok := transport.ParseMark(r.one(transport.MarkScript), time.Now())
		if !ok {
			t.Fatal("the shell could not report a job mark")
		}
		mark = m
	}
	young := r.one(`sleep 61 & echo $!`)
	if _, err := r.p.SignalJobs(context.Background(), transport.SIGKILL, mark); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !alive(r, young) }, "the young job to die")
	if !alive(r, old) {
		t.Error("SignalJobs killed a job started before the mark")
	}
}

// testSignalShell interrupts the program itself: its trap sees the signal.
func testSignalShell(t *testing.T, tr transport.Transport) {
	p := start(t, tr, transport.StartOptions{Argv: []string{"sh", "-c", `trap 'exit 7' INT; echo ready; while :; do sleep 0.1; done`}})
	lines := newLineReader(p.Stdout())
	if l, err := lines.next(waitLimit); err != nil || l != "ready" {
		t.Fatalf("program start: %q %v", l, err)
	}
	if err := p.SignalShell(context.Background(), "BOGUS"); err == nil {
		t.Error("SignalShell accepted an unknown signal")
	}
	if err := p.SignalShell(context.Background(), transport.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitDone(t, p); code != 7 {
		t.Errorf("exit code %d after SignalShell, want 7 (from its INT trap)", code)
	}
}

func testClose(t *testing.T, tr transport.Transport) {
	r := startREPL(t, tr, transport.StartOptions{})
	pids := []string{
		r.one(`sleep 70 & echo $!`),
		r.one(`(sleep 71 & echo $!)`), // orphaned: re-parented away from the shell
		r.one(`sleep 72 </dev/null >/dev/null 2>&1 & echo $!`),
	}
	if err := r.p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-r.p.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	check := startREPL(t, tr, transport.StartOptions{})
	for _, pid := range pids {
		pid := pid
		waitFor(t, func() bool { return !alive(check, pid) }, "process "+pid+" to be gone after Close")
	}
}

// testInputClosedTwice: the command channel may be closed by a writer that
// is done and by Close at the same time (transport.Run does both).
func testInputClosedTwice(t *testing.T, tr transport.Transport) {
	p := start(t, tr, transport.StartOptions{Argv: []string{"sh", "-c", "cat <&3 >/dev/null; echo done"}})
	out := newLineReader(p.Stdout())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); p.Input().Close() }()
	}
	wg.Wait()
	if l, err := out.next(waitLimit); err != nil || l != "done" {
		t.Errorf("after closing the command channel: %q %v", l, err)
	}
	waitDone(t, p)
	if err := p.Close(); err != nil {
		t.Errorf("Close after the input was closed: %v", err)
	}
	p.Input().Close()
}

func testTTY(t *testing.T, tr transport.Transport) {
	r := startREPL(t, tr, transport.StartOptions{TTY: true, Rows: 30, Cols: 100})
	if got := r.one(`if [ -t 1 ]; then echo tty; else echo pipe; fi`); got != "tty" {
		t.Errorf("stdout with TTY: %q", got)
	}
	if got := r.one(`if [ -t 2 ]; then echo tty; else echo pipe; fi`); got != "pipe" {
		t.Errorf("stderr with TTY should stay a separate pipe: %q", got)
	}
	if got := r.one(`stty size`); got != "30 100" {
		t.Errorf("stty size = %q", got)
	}
	if got := r.one(`if read -r v; then echo got; else echo eof; fi`); got != "eof" {
		t.Errorf("read from the terminal = %q, want eof at once", got)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lineReader delivers lines from a stream with a timeout per line.
type lineReader struct {
	lines chan string
	err   chan error
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 64), err: make(chan error, 1)}
	go func() {
		var buf []byte
		chunk := make([]byte, 4096)
		for {
			n, err := r.Read(chunk)
			buf = append(buf, chunk[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				lr.lines <- strings.TrimRight(string(buf[:i]), "\r")
				buf = buf[i+1:]
			}
			if err != nil {
				lr.err <- err
				return
			}
		}
	}()
	return lr
}

func (lr *lineReader) next(d time.Duration) (string, error) {
	select {
	case l := <-lr.lines:
		return l, nil
	case err := <-lr.err:
		return "", err
	case <-time.After(d):
		return "", errors.New("timeout")
	}
}
