package session_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target/targettest"
	"github.com/execkit/execkit/transport/docker/dockertest"
)

// BenchmarkDockerLatencyRatios runs a trivial command, round by round and
// interleaved, through a persistent session in a container and through one
// exec per command (create, attach, wait for the end, read the exit code:
// what `docker exec CTR true` does), and reports the p50s and their ratio.
func BenchmarkDockerLatencyRatios(b *testing.B) {
	ctx := context.Background()
	name := dockertest.Container(b)
	cli := dockertest.Client(b)
	s := targettest.Open(b, journal.SessionSpec{Endpoint: targettest.Docker(name)}, nil).Session
	execOnce := func() {
		created, err := cli.ExecCreate(ctx, name, client.ExecCreateOptions{Cmd: []string{"true"}, AttachStdout: true, AttachStderr: true})
		if err != nil {
			b.Fatal(err)
		}
		resp, err := cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
		if err != nil {
			b.Fatal(err)
		}
		stdcopy.StdCopy(io.Discard, io.Discard, resp.Reader)
		resp.Close()
		info, err := cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil || info.ExitCode != 0 {
			b.Fatal(err, info.ExitCode)
		}
	}
	var sess, per []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r, err := s.Exec(ctx, "true", session.ExecOptions{}); err != nil || r.ExitCode != 0 {
			b.Fatal(err)
		}
		sess = append(sess, time.Since(t0))
		if i%10 == 0 {
			t0 = time.Now()
			execOnce()
			per = append(per, time.Since(t0))
		}
	}
	b.StopTimer()
	p := percentile
	b.ReportMetric(p(sess, 50), "session-p50-µs")
	b.ReportMetric(p(sess, 99), "session-p99-µs")
	b.ReportMetric(p(per, 50), "exec-per-command-p50-µs")
	b.ReportMetric(p(per, 50)/p(sess, 50), "exec-per-command/session")
}
