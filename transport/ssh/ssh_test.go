package ssh_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/transport"

	"github.com/execkit/execkit/transport/ssh"
	"github.com/execkit/execkit/transport/ssh/sshtest"
	"github.com/execkit/execkit/transport/transporttest"
)

func newTransport(t *testing.T, cfg ssh.Config) *ssh.Transport {
	t.Helper()
	tr, err := ssh.New(cfg)
	if err != nil {
		t.Fatalf("ssh.New: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestConformance(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	tr := newTransport(t, srv.Config(t))
	if err := tr.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	transporttest.Run(t, tr, transporttest.Options{TTY: true, Dir: t.TempDir()})
}

// listenSilent accepts connections on loopback and never answers.
func listenSilent(t *testing.T) (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freezer is a TCP proxy to addr that can stop forwarding without closing
// anything: a peer that went silent (a cable pulled, a host frozen).
type freezer struct {
	port   int
	frozen chan struct{}
}

func newFreezer(t *testing.T, addr string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &freezer{port: ln.Addr().(*net.TCPAddr).Port, frozen: make(chan struct{})}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			select {
			case <-f.frozen:
				<-make(chan struct{}) // hold on to the data, forever
			default:
			}
			if n > 0 {
				dst.Write(buf[:n])
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go pipe(s, c)
			go pipe(c, s)
		}
	}()
	return f
}

// TestKeepAliveDetectsSilentPeer: when the peer stops answering, the shell
// ends within a few keepalive intervals with an error that says so,
// instead of hanging.
func TestKeepAliveDetectsSilentPeer(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	f := newFreezer(t, srv.Addr())
	cfg := srv.Config(t)
	cfg.Port = f.port
	kh := srv.WriteKnownHosts(t)
	b, _ := os.ReadFile(kh)
	os.WriteFile(kh, []byte(strings.ReplaceAll(string(b), "]:"+strconv.Itoa(srv.Port)+" ", "]:"+strconv.Itoa(f.port)+" ")), 0o600)
	cfg.KnownHosts = []string{kh}
	cfg.KeepAlive = 200 * time.Millisecond
	cfg.KeepAliveMax = 2
	tr := newTransport(t, cfg)
	p, err := tr.Start(context.Background(), transport.StartOptions{Argv: []string{"sh", "-c", "sleep 600"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	close(f.frozen)
	t0 := time.Now()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a silent peer was not noticed within 10 s")
	}
	if code := p.ExitCode(); code != 255 {
		t.Errorf("exit code after a lost connection = %d, want 255", code)
	}
	if e, ok := p.(interface{ Err() error }); !ok || e.Err() == nil || !strings.Contains(e.Err().Error(), "keepalives unanswered") {
		t.Errorf("reason: %v", p.(interface{ Err() error }).Err())
	}
	t.Logf("noticed after %v", time.Since(t0))
}
