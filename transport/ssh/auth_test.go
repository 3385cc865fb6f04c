package ssh_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/execkit/execkit/transport/ssh"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// TestAgentAuth logs in to a real sshd with a key held only by an
// ssh-agent (x/crypto's keyring served on a unix socket).
func TestAgentAuth(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	b, err := os.ReadFile(srv.Identity)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := xssh.ParseRawPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg := srv.Config(t)
	cfg.Identities = nil
	cfg.Agent = true
	tr := newTransport(t, cfg)
	if err := tr.Connect(context.Background()); err != nil {
		t.Fatalf("agent login: %v", err)
	}
	// Without the agent and without a key there is no way in.
	cfg.Agent = false
	if _, err := ssh.New(cfg); err == nil || !strings.Contains(err.Error(), "no way to authenticate") {
		t.Errorf("no credentials: %v", err)
	}
}

// TestPasswordAuth checks password and keyboard-interactive login against
// an in-process server (the test sshd has no user with a known password).
func TestPasswordAuth(t *testing.T) {
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, _ := xssh.NewSignerFromKey(hostPriv)
	for _, kbd := range []bool{false, true} {
		sc := &xssh.ServerConfig{}
		if kbd {
			sc.KeyboardInteractiveCallback = func(c xssh.ConnMetadata, ch xssh.KeyboardInteractiveChallenge) (*xssh.Permissions, error) {
				ans, err := ch("", "", []string{"Password: "}, []bool{false})
				if err == nil && len(ans) == 1 && ans[0] == "s3cret" {
					return nil, nil
				}
				return nil, errRefused
			}
		} else {
			sc.PasswordCallback = func(c xssh.ConnMetadata, pw []byte) (*xssh.Permissions, error) {
				if string(pw) == "s3cret" {
					return nil, nil
				}
				return nil, errRefused
			}
		}
		sc.AddHostKey(hostSigner)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					_, chans, reqs, err := xssh.NewServerConn(c, sc)
					if err != nil {
						c.Close()
						return
					}
					go xssh.DiscardRequests(reqs)
					for ch := range chans {
						ch.Reject(xssh.Prohibited, "test server")
					}
				}()
			}
		}()
		port := ln.Addr().(*net.TCPAddr).Port
		for _, pw := range []string{"s3cret", "wrong"} {
			tr, err := ssh.New(ssh.Config{User: "u", Host: "127.0.0.1", Port: port, Password: pw,
				KeyDir: t.TempDir(), HostKeyMode: ssh.Fingerprint, Fingerprints: []string{xssh.FingerprintSHA256(hostSigner.PublicKey())}})
			if err != nil {
				t.Fatal(err)
			}
			err = tr.Connect(context.Background())
			tr.Close()
			if pw == "s3cret" && err != nil {
				t.Errorf("keyboard-interactive=%v: right password refused: %v", kbd, err)
			}
			if pw == "wrong" && (err == nil || !strings.Contains(err.Error(), "unable to authenticate")) {
				t.Errorf("keyboard-interactive=%v: wrong password: %v", kbd, err)
			}
		}
	}
}

var errRefused = &refused{}

type refused struct{}

func (*refused) Error() string { return "refused" }
