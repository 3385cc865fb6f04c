package ssh_test

import (
	"context"
	"net"
	"testing"

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
