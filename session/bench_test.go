package session_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety/safetytest"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target/targettest"
)

// reportLatency adds p50/p99 of the per-operation samples to the benchmark.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
}

// percentile is the q-th percentile of d in microseconds (d is sorted).
func percentile(d []time.Duration, q int) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[len(d)*q/100].Microseconds())
}

// benchSession opens a default local session, closed when b ends.
func benchSession(b *testing.B) *session.Session {
	return targettest.Open(b, journal.SessionSpec{Endpoint: targettest.Local}, nil).Session
}

// BenchmarkExecTrivial is a trivial command through a persistent session.
func BenchmarkExecTrivial(b *testing.B) {
	ctx := context.Background()
	s := benchSession(b)
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r, err := s.Exec(ctx, "true", session.ExecOptions{})
		samples = append(samples, time.Since(t0))
		if err != nil || r.ExitCode != 0 {
			b.Fatal(err, r.ExitCode)
		}
	}
	b.StopTimer()
	reportLatency(b, samples)
}

// BenchmarkBareSentinel is the echo floor: a bash reading "echo N" lines
// from a pipe and the reader waiting for each line to come back.
func BenchmarkBareSentinel(b *testing.B) {
	echo := startSentinel(b)
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		echo(i)
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, samples)
}

// startSentinel starts the bare sentinel: a bash reading "echo N" lines from
// a pipe. The function it returns does one round trip.
func startSentinel(b *testing.B) func(i int) {
	cmd := exec.Command("bash", "--noprofile", "--norc")
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	r := bufio.NewReader(outp)
	return func(i int) {
		want := strconv.Itoa(i)
		io.WriteString(in, "echo "+want+"\n")
		if line, err := r.ReadString('\n'); err != nil || line != want+"\n" {
			b.Fatal(err, line)
		}
	}
}

// startSentinelRoundTrip starts the classic sentinel round trip over pipes:
// each command is written to bash's stdin followed by a marker carrying $?
// on stdout and a marker on stderr (without one the two streams cannot be
// told apart per command), and a reader goroutine per pipe scans for its
// marker. It gives the facts a session result needs at their cheapest:
// split streams and the exit status, nothing more (no cwd, no framing of
// hostile output, no fd restoration). The function it returns runs cmd once.
func startSentinelRoundTrip(b *testing.B) func(cmd string) {
	c := exec.Command("bash", "--noprofile", "--norc")
	in, _ := c.StdinPipe()
	outp, _ := c.StdoutPipe()
	errp, _ := c.StderrPipe()
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); c.Wait() })
	return sentinelOver(b, in, outp, errp)
}

// sentinelOver drives the sentinel protocol over a running bash's stdin,
// stdout and stderr; the function it returns runs cmd once.
func sentinelOver(b *testing.B, in io.Writer, out, errp io.Reader) func(cmd string) {
	const mark = "__ek_sentinel_3f9a__"
	outc, errc := make(chan string), make(chan string)
	go scanMarks(out, mark, outc)
	go scanMarks(errp, mark, errc)
	return func(cmd string) {
		io.WriteString(in, cmd+"\nprintf '\\n%s %d\\n' "+mark+" $?; printf '\\n%s\\n' "+mark+" >&2\n")
		if line, ok := <-outc; !ok || line != mark+" 0\n" {
			b.Fatal("sentinel stdout:", line)
		}
		if _, ok := <-errc; !ok {
			b.Fatal("sentinel stderr closed")
		}
	}
}

// scanMarks sends each line of r that starts with mark to lines, and
// closes lines at the end of r.
func scanMarks(r io.Reader, mark string, lines chan<- string) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			close(lines)
			return
		}
		if strings.HasPrefix(line, mark) {
			lines <- line
		}
	}
}

// BenchmarkSentinelRoundTrip is the classic sentinel round trip on its own.
func BenchmarkSentinelRoundTrip(b *testing.B) {
	run := startSentinelRoundTrip(b)
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		run("true")
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, samples)
}

// BenchmarkForkExecBashC is the naive alternative: a new bash per command.
func BenchmarkForkExecBashC(b *testing.B) {
	samples := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := exec.Command("bash", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(t0))
	}
	reportLatency(b, samples)
}

// BenchmarkFlood pushes 1 GiB of output through a session with the default
// 1 MiB cap per stream and reports throughput and the peak Go heap seen
// while it ran (target: under 64 MiB).
func BenchmarkFlood(b *testing.B) {
	ctx := context.Background()
	s := benchSession(b)
	const total = 1 << 30
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak {
				peak = ms.HeapAlloc
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := s.Exec(ctx, "head -c "+strconv.Itoa(total)+" /dev/zero", session.ExecOptions{})
		if err != nil || r.StdoutInfo.Bytes != total || r.StdoutInfo.Kept != session.DefaultMaxOutputBytes {
			b.Fatal(err, r.StdoutInfo)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkLatencyRatios measures the ways to run a trivial command round by
// round, interleaved, so that a busy machine slows them all alike, and
// reports each p50 and the ratios the targets are stated in: the session
// against the classic sentinel round trip over pipes (target ≤ 1.5×) and
// against fork/exec `bash -c` (target ≥ 7× faster). The echo floor (bash
// echoing a line, no command, no status, one stream) is reported as well,
// as the lower bound of any persistent-shell design.
func BenchmarkLatencyRatios(b *testing.B) {
	ctx := context.Background()
	s := benchSession(b)
	echo := startSentinel(b)
	roundTrip := startSentinelRoundTrip(b)
	var sess, sent, floor, fork []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r, err := s.Exec(ctx, "true", session.ExecOptions{}); err != nil || r.ExitCode != 0 {
			b.Fatal(err)
		}
		sess = append(sess, time.Since(t0))
		t0 = time.Now()
		roundTrip("true")
		sent = append(sent, time.Since(t0))
		t0 = time.Now()
		echo(i)
		floor = append(floor, time.Since(t0))
		if i%10 == 0 { // fork/exec is slow; sample it every tenth round
			t0 = time.Now()
			if err := exec.Command("bash", "-c", "true").Run(); err != nil {
				b.Fatal(err)
			}
			fork = append(fork, time.Since(t0))
		}
	}
	b.StopTimer()
	p50 := func(d []time.Duration) float64 { return percentile(d, 50) }
	ps, pb, pe, pf := p50(sess), p50(sent), p50(floor), p50(fork)
	b.ReportMetric(ps, "session-p50-µs")
	b.ReportMetric(pb, "sentinel-p50-µs")
	b.ReportMetric(pe, "echo-floor-p50-µs")
	b.ReportMetric(pf, "forkexec-p50-µs")
	b.ReportMetric(ps/pb, "session/sentinel")
	b.ReportMetric(ps/pe, "session/echo-floor")
	b.ReportMetric(pf/ps, "forkexec/session")
}

// BenchmarkRedactedOutput measures a build log (the redactor benchmark's,
// with a credential every few thousand lines) through Session.Exec, end to
// end: the command's pipe, the frame parser, the redactor, sanitising and
// the output cap. Each round runs the same `cat` with redaction and with
// NoRedact, interleaved, and reports both rates and their ratio (target:
// redacted ≥ 200 MB/s).
func BenchmarkRedactedOutput(b *testing.B) {
	ctx := context.Background()
	const size = 64 << 20
	file := filepath.Join(b.TempDir(), "build.log")
	if err := os.WriteFile(file, safetytest.BuildLog(size), 0o644); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(file)
	open := func(noRedact bool) *session.Session {
		return targettest.Open(b, journal.SessionSpec{Endpoint: targettest.Local, NoRedact: noRedact}, nil).Session
	}
	red, plain := open(false), open(true)
	var tRed, tPlain time.Duration
	run := func(s *session.Session) time.Duration {
		start := time.Now()
		r, err := s.Exec(ctx, "cat "+file, session.ExecOptions{})
		if err != nil || r.StdoutInfo.Bytes < st.Size()*9/10 { // redacted output differs in length
			b.Fatal(err, r.StdoutInfo)
		}
		return time.Since(start)
	}
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tRed += run(red)
		tPlain += run(plain)
	}
	b.StopTimer()
	mb := float64(st.Size()) * float64(b.N) / 1e6
	b.ReportMetric(mb/tRed.Seconds(), "redacted-MB/s")
	b.ReportMetric(mb/tPlain.Seconds(), "no-redact-MB/s")
	b.ReportMetric(tRed.Seconds()/tPlain.Seconds(), "ratio")
}
