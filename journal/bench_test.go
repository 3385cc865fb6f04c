package journal

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func latencyMetrics(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRawBoltPut is the baseline: one bbolt Update (put + fsync) per
// record, the least a durable append can cost.
func BenchmarkRawBoltPut(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	val := make([]byte, 300)
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("x")).Put(u64(uint64(i)), val) })
		d = append(d, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	latencyMetrics(b, d)
}

// BenchmarkAppend is one journal append (an intent), fsynced, from one
// session.
func BenchmarkAppend(b *testing.B) {
	j, err := Open(filepath.Join(b.TempDir(), "run.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		_, err := j.Intent(Intent{Session: "s", Command: "echo hello world", Decision: Decision{Allowed: true}})
		d = append(d, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	latencyMetrics(b, d)
}

// BenchmarkConcurrent measures whole commands (intent + completion) per
// second with 1, 8 and 64 sessions writing at once; the group-commit writer
// shares each fsync among them.
func BenchmarkConcurrent(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			j, err := Open(filepath.Join(b.TempDir(), "run.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			var wg sync.WaitGroup
			per := b.N/n + 1
			start := time.Now()
			b.ResetTimer()
			for s := 0; s < n; s++ {
				wg.Add(1)
				go func(s int) {
					defer wg.Done()
					for i := 0; i < per; i++ {
						seq, err := j.Intent(Intent{Session: fmt.Sprint(s), Command: "make test", Decision: Decision{Allowed: true}})
						if err == nil {
							err = j.Complete(seq, Completion{Status: StatusOK, Stdout: "ok\n"})
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				}(s)
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(per*n)/time.Since(start).Seconds(), "cmds/s")
		})
	}
}

// BenchmarkCheckpointRecord is a whole command's records with and without
// the checkpoint record a checkpointed command adds between its intent
// and its run, interleaved in one run, and their ratio.
func BenchmarkCheckpointRecord(b *testing.B) {
	j, err := Open(filepath.Join(b.TempDir(), "run.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	var plain, with []time.Duration
	command := func(checkpoint bool) time.Duration {
		t0 := time.Now()
		seq, err := j.Intent(Intent{Session: "s", Command: "make", Decision: Decision{Allowed: true}})
		if err == nil && checkpoint {
			err = j.Checkpointed(seq, "0123456789abcdef0123456789abcdef01234567")
		}
		if err == nil {
			err = j.Complete(seq, Completion{Status: StatusOK, Stdout: "done\n"})
		}
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plain = append(plain, command(false))
		with = append(with, command(true))
	}
	b.StopTimer()
	p50 := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, k int) bool { return d[i] < d[k] })
		return float64(d[len(d)/2].Microseconds())
	}
	b.ReportMetric(p50(plain), "plain-p50-µs")
	b.ReportMetric(p50(with), "checkpointed-p50-µs")
	b.ReportMetric(p50(with)/p50(plain), "checkpointed/plain")
}

// TestMain lets the benchmark run its readers as processes of their own,
// as readers in other terminals are: this test binary, with
// EXECKIT_BENCH_READER set to follow or snapshot and the journal's path.
func TestMain(m *testing.M) {
	if role := os.Getenv("EXECKIT_BENCH_READER"); role != "" {
		benchReader(role, os.Getenv("EXECKIT_BENCH_JOURNAL"))
		return
	}
	os.Exit(m.Run())
}

// benchReader reads the journal at path until its writer closes it or
// stdin ends: following it, or reading a snapshot every second as the
// viewer's page does; "idle" reads nothing (EXECKIT_BENCH_ROLES=idle,idle
// measures what two processes that do nothing cost: the method's floor).
func benchReader(role, path string) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	// "ready" on stdout once caught up with the entries written before the
	// reader started (EXECKIT_BENCH_LAST): the benchmark measures from
	// then, as a reader started once and then keeping up costs.
	last, _ := strconv.ParseUint(os.Getenv("EXECKIT_BENCH_LAST"), 10, 64)
	var once sync.Once
	ready := func() { once.Do(func() { os.Stdout.WriteString("ready\n") }) }
	if role == "idle" {
		ready()
		<-ctx.Done()
		return
	}
	if role == "follow" {
		FollowFile(ctx, path, func(e Entry) error {
			if e.Seq >= last && e.Completion != nil {
				ready()
			}
			return nil
		})
		return
	}
	// The viewer's live page: a snapshot every second, of which it reads
	// the run, the sessions and the entries after those it has.
	var seen uint64
	for ctx.Err() == nil {
		Read(path, func(r *Reader) error {
			r.Run()
			r.Sessions()
			es, err := r.Entries(Filter{After: seen})
			for _, e := range es {
				if e.Completion == nil {
					break // read again until it completes
				}
				seen = e.Seq
			}
			return err
		})
		ready()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// BenchmarkLiveReaders measures the writer's throughput (whole commands:
// intent and completion, fsynced) with two live readers in processes of
// their own — one following the journal (log --follow), one reading a
// snapshot every second as the viewer's page does — against none, in alternating rounds of one
// run. readers-x is the time per command with readers over the time
// without (target ≤ 1.05).
func BenchmarkLiveReaders(b *testing.B) {
	path := filepath.Join(b.TempDir(), "run.db")
	j, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	j.AddSession(Session{ID: "s", Transport: "local"})
	const per = 200
	var last uint64
	round := func() time.Duration {
		t0 := time.Now()
		for i := 0; i < per; i++ {
			seq, err := j.Intent(Intent{Session: "s", Command: "echo hello world", Decision: Decision{Allowed: true}})
			if err != nil {
				b.Fatal(err)
			}
			if err := j.Complete(seq, Completion{Status: StatusOK, Stdout: "hello world\n"}); err != nil {
				b.Fatal(err)
			}
			last = seq
		}
		return time.Since(t0) / per
	}
	readers := func() func() {
		var stops []func()
		roles := []string{"follow", "snapshot"}
		if r := os.Getenv("EXECKIT_BENCH_ROLES"); r != "" {
			roles = strings.Split(r, ",")
		}
		for _, role := range roles {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "EXECKIT_BENCH_READER="+role, "EXECKIT_BENCH_JOURNAL="+path,
				"EXECKIT_BENCH_LAST="+strconv.FormatUint(last, 10))
			in, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			stops = append(stops, func() { in.Close(); cmd.Wait() })
			// Caught up (bounded: a reader that never says so is measured
			// as it is after 30 s).
			got := make(chan struct{})
			go func() { bufio.NewReader(out).ReadString('\n'); close(got); io.Copy(io.Discard, out) }()
			select {
			case <-got:
			case <-time.After(30 * time.Second):
			}
		}
		return func() {
			for _, s := range stops {
				s()
			}
		}
	}
	// Pairs of rounds, one with readers and one without, in alternating
	// order; readers-x is the median of the pairs' ratios, which a
	// machine's load drifting during the run moves least.
	var without, with, ratio []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var alone, read time.Duration
		if i%2 == 0 {
			alone = round()
			stop := readers()
			read = round()
			stop()
		} else {
			stop := readers()
			read = round()
			stop()
			alone = round()
		}
		without, with = append(without, float64(alone.Microseconds())), append(with, float64(read.Microseconds()))
		ratio = append(ratio, float64(read)/float64(alone))
	}
	b.StopTimer()
	med := func(d []float64) float64 {
		sort.Float64s(d)
		return d[len(d)/2]
	}
	b.ReportMetric(med(without), "alone-µs/cmd")
	b.ReportMetric(med(with), "readers-µs/cmd")
	b.ReportMetric(med(ratio), "readers-x")
}
