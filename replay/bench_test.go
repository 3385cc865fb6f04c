package replay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
)

// BenchmarkReplayOverhead replays a journal of 500 small commands and runs
// the same commands through a plain session, in the same run, and reports
// the cost per entry of each and their ratio: what reading the journal,
// filling placeholders, normalizing and comparing add to the exec itself.
func BenchmarkReplayOverhead(b *testing.B) {
	var cmds []string
	for i := 0; i < 500; i++ {
		cmds = append(cmds, fmt.Sprintf("echo line %d at $((%d * 2)); echo err %d >&2", i, i, i))
	}
	path := record(b, journal.SessionSpec{}, nil, cmds...)
	n, _ := ParseNormalize("all")
	ctx := context.Background()
	var replayPer, execPer []time.Duration
	for i := 0; i < b.N; i++ {
		p := plan(b, path)
		t0 := time.Now()
		rep, err := Run(ctx, p, Options{Normalizer: n})
		if err != nil || !rep.OK() {
			b.Fatal(err, rep.Diverged)
		}
		replayPer = append(replayPer, time.Since(t0)/time.Duration(len(cmds)))

		o, err := target.Open(ctx, journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "local"}}, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		s := o.Session
		t0 = time.Now()
		for _, c := range cmds {
			if _, err := s.Exec(ctx, c, session.ExecOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		execPer = append(execPer, time.Since(t0)/time.Duration(len(cmds)))
		s.Close()
	}
	avg := func(d []time.Duration) float64 {
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		return float64(sum.Microseconds()) / float64(len(d))
	}
	b.ReportMetric(avg(replayPer), "replay-µs/entry")
	b.ReportMetric(avg(execPer), "exec-µs/entry")
	b.ReportMetric(avg(replayPer)/avg(execPer), "replay/exec")
}
