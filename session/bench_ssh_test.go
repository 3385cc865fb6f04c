package session_test

import (
	"context"
	"os"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/target/targettest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// rawClient dials srv with x/crypto/ssh alone: the baseline's connection.
// sshSession opens a session on srv through the opener, closed when b
// ends.
func sshSession(b *testing.B, srv *sshtest.Server) *session.Session {
	e, set := targettest.SSH(b, srv)
	return targettest.Open(b, journal.SessionSpec{Endpoint: e}, &target.Env{SSH: set}).Session
}

func rawClient(b *testing.B, srv *sshtest.Server) *xssh.Client {
	key, err := os.ReadFile(srv.Identity)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := xssh.ParsePrivateKey(key)
	if err != nil {
		b.Fatal(err)
	}
	c, err := xssh.Dial("tcp", srv.Addr(), &xssh.ClientConfig{
		User: srv.User, Auth: []xssh.AuthMethod{xssh.PublicKeys(signer)},
		HostKeyCallback:   xssh.FixedHostKey(srv.HostKeys["ssh-ed25519"]),
		HostKeyAlgorithms: []string{xssh.KeyAlgoED25519},
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// rawRun runs "true" on a new channel of c, as `ssh host true` would on a
// shared connection.
func rawRun(b *testing.B, c *xssh.Client) {
	s, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Run("true"); err != nil {
		b.Fatal(err)
	}
	s.Close()
}

// channelSentinel starts the classic sentinel round trip over one open SSH
// channel: bash reads each command from the channel, then prints a marker
// with $? on stdout and a marker on stderr, and a reader per stream scans
// for them (the SSH counterpart of startSentinelRoundTrip). The function it
// returns runs cmd once.
func channelSentinel(b *testing.B, c *xssh.Client) func(cmd string) {
	s, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	errp, _ := s.StderrPipe()
	if err := s.Start("exec bash --noprofile --norc"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); s.Close() })
	return sentinelOver(b, in, out, errp)
}

// BenchmarkSSHLatencyRatios runs a trivial command, round by round and
// interleaved, through a persistent session over an open connection;
// through the sentinel round trip over an open channel (the raw channel
// round trip the target is stated against: the session within 1.5× of
// it); through a new channel per command (Run on an open connection, as
// `ssh host cmd` with connection sharing does; it pays the login shell's
// start-up each time); and through a new connection per command (those
// two sampled every fiftieth round).
func BenchmarkSSHLatencyRatios(b *testing.B) {
	ctx := context.Background()
	srv := sshtest.Start(b, sshtest.Options{})
	s := sshSession(b, srv)
	raw := rawClient(b, srv)
	defer raw.Close()
	sentinel := channelSentinel(b, raw)
	var sess, sent, chans, conns []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r, err := s.Exec(ctx, "true", session.ExecOptions{}); err != nil || r.ExitCode != 0 {
			b.Fatal(err)
		}
		sess = append(sess, time.Since(t0))
		t0 = time.Now()
		sentinel("true")
		sent = append(sent, time.Since(t0))
		if i%50 == 0 { // slow, and heavy on the machine: sampled
			t0 = time.Now()
			rawRun(b, raw)
			chans = append(chans, time.Since(t0))
			t0 = time.Now()
			c := rawClient(b, srv)
			rawRun(b, c)
			c.Close()
			conns = append(conns, time.Since(t0))
		}
	}
	b.StopTimer()
	p := percentile
	b.ReportMetric(p(sess, 50), "session-p50-µs")
	b.ReportMetric(p(sess, 99), "session-p99-µs")
	b.ReportMetric(p(sent, 50), "sentinel-p50-µs")
	b.ReportMetric(p(chans, 50), "newchannel-p50-µs")
	b.ReportMetric(p(conns, 50), "newconn-p50-µs")
	b.ReportMetric(p(sess, 50)/p(sent, 50), "session/sentinel")
	b.ReportMetric(p(chans, 50)/p(sess, 50), "newchannel/session")
	b.ReportMetric(p(conns, 50)/p(sess, 50), "newconn/session")
}

// BenchmarkSSHExecTrivial is a trivial command through a persistent
// session over SSH, alone.
func BenchmarkSSHExecTrivial(b *testing.B) {
	ctx := context.Background()
	srv := sshtest.Start(b, sshtest.Options{})
	s := sshSession(b, srv)
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r, err := s.Exec(ctx, "true", session.ExecOptions{}); err != nil || r.ExitCode != 0 {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, samples)
}
