package ssh_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/execkit/execkit/transport/ssh"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

func randomKey(t *testing.T, kind string) xssh.PublicKey {
	t.Helper()
	var pub any
	switch kind {
	case "ed25519":
		p, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = p
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	}
	k, err := xssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyText(k xssh.PublicKey) string { return strings.TrimSpace(string(xssh.MarshalAuthorizedKey(k))) }

// verdict is what a connection attempt came to.
type verdict string

const (
	ok      verdict = "ok"
	unknown verdict = "unknown"
	changed verdict = "changed"
	revoked verdict = "revoked"
)

func verdictOf(err error) verdict {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, ssh.ErrHostKeyUnknown):
		return unknown
	case errors.Is(err, ssh.ErrHostKeyChanged):
		return changed
	case errors.Is(err, ssh.ErrHostKeyRevoked):
		return revoked
	}
	return verdict("error: " + err.Error())
}

// TestHostKeyMatrix connects to a real sshd holding an ed25519 and an RSA
// host key, with each host key mode against each kind of known_hosts.
func TestHostKeyMatrix(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	ed, rsa := srv.HostKeys["ssh-ed25519"], srv.HostKeys["ssh-rsa"]
	hostName := "[" + srv.Host + "]:" + strconv.Itoa(srv.Port)
	other := randomKey(t, "ed25519")
	otherType := randomKey(t, "ecdsa")
	fp := xssh.FingerprintSHA256
	cases := []struct {
		name       string
		knownHosts string // "" means no file at all
		pin        string // the pinned fingerprint in fingerprint mode
		strict     verdict
		acceptNew  verdict
		finger     verdict
		pinsLine   bool // accept-new adds a line
	}{
		{name: "known", knownHosts: hostName + " " + keyText(ed), pin: fp(ed),
			strict: ok, acceptNew: ok, finger: ok},
		{name: "unknown", pin: fp(rsa), // a pin of the second key type: found by asking per type
			strict: unknown, acceptNew: ok, finger: ok, pinsLine: true},
		{name: "unknown-other-hosts", knownHosts: "example.org " + keyText(other), pin: fp(other),
			strict: unknown, acceptNew: ok, finger: changed, pinsLine: true},
		{name: "changed", knownHosts: hostName + " " + keyText(other), pin: fp(other),
			strict: changed, acceptNew: changed, finger: changed},
		{name: "revoked", knownHosts: hostName + " " + keyText(ed) + "\n@revoked * " + keyText(ed), pin: fp(ed),
			strict: revoked, acceptNew: revoked, finger: revoked},
		{name: "other-key-type-only", knownHosts: hostName + " " + keyText(otherType), pin: fp(ed),
			strict: changed, acceptNew: changed, finger: ok},
		{name: "second-key-type-known", knownHosts: hostName + " " + keyText(rsa), pin: fp(rsa),
			strict: ok, acceptNew: ok, finger: ok},
		{name: "hashed", knownHosts: knownhosts.HashHostname(hostName) + " " + keyText(rsa), pin: fp(ed),
			strict: ok, acceptNew: ok, finger: ok},
		{name: "hashed-changed", knownHosts: knownhosts.HashHostname(hostName) + " " + keyText(other), pin: fp(ed),
			strict: changed, acceptNew: changed, finger: ok},
		{name: "wildcard", knownHosts: "[127.0.0.*]:" + strconv.Itoa(srv.Port) + " " + keyText(ed), pin: fp(ed),
			strict: ok, acceptNew: ok, finger: ok},
		{name: "wildcard-changed", knownHosts: "[127.0.0.?]:" + strconv.Itoa(srv.Port) + " " + keyText(other), pin: fp(ed),
			strict: changed, acceptNew: changed, finger: ok},
		// Several key types on record: the strongest one the server has is
		// the one asked for, so a changed key of that type is found even
		// when another type on record still matches (as OpenSSH does),
		// whatever order the file lists them in.
		{name: "mixed-preferred-changed", knownHosts: hostName + " " + keyText(rsa) + "\n" + hostName + " " + keyText(other), pin: fp(ed),
			strict: changed, acceptNew: changed, finger: ok},
		{name: "mixed-preferred-changed-first", knownHosts: hostName + " " + keyText(other) + "\n" + hostName + " " + keyText(rsa), pin: fp(ed),
			strict: changed, acceptNew: changed, finger: ok},
		{name: "mixed-both-match", knownHosts: hostName + " " + keyText(rsa) + "\n" + hostName + " " + keyText(ed), pin: fp(rsa),
			strict: ok, acceptNew: ok, finger: ok},
		{name: "mixed-type-server-lacks", knownHosts: hostName + " " + keyText(otherType) + "\n" + hostName + " " + keyText(rsa), pin: fp(ed),
			strict: ok, acceptNew: ok, finger: ok},
		{name: "mixed-rsa-changed", knownHosts: hostName + " " + keyText(ed) + "\n" + hostName + " " + keyText(randomKey(t, "rsa")), pin: fp(ed),
			strict: ok, acceptNew: ok, finger: ok},
		{name: "other-port-only", knownHosts: srv.Host + " " + keyText(other) + "\n[" + srv.Host + "]:1 " + keyText(other), pin: fp(ed),
			strict: unknown, acceptNew: ok, finger: ok, pinsLine: true},
	}
	for _, c := range cases {
		for _, mode := range []ssh.HostKeyMode{ssh.Strict, ssh.AcceptNew, ssh.Fingerprint, ssh.Insecure} {
			want := map[ssh.HostKeyMode]verdict{ssh.Strict: c.strict, ssh.AcceptNew: c.acceptNew, ssh.Fingerprint: c.finger, ssh.Insecure: ok}[mode]
			t.Run(c.name+"/"+string(mode), func(t *testing.T) {
				kh := filepath.Join(t.TempDir(), "known_hosts")
				if c.knownHosts != "" {
					if err := os.WriteFile(kh, []byte(c.knownHosts+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				before, _ := os.ReadFile(kh)
				var warn bytes.Buffer
				cfg := srv.Config(t)
				cfg.KnownHosts = []string{kh}
				cfg.HostKeyMode = mode
				cfg.Fingerprints = []string{c.pin}
				cfg.Warn = &warn
				tr, err := ssh.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer tr.Close()
				err = tr.Connect(context.Background())
				if got := verdictOf(err); got != want {
					t.Fatalf("verdict %s, want %s (error: %v)", got, want, err)
				}
				after, _ := os.ReadFile(kh)
				if err != nil {
					msg := err.Error()
					if !strings.Contains(msg, hostName) || !strings.Contains(msg, "SHA256:") {
						t.Errorf("error does not name the host and fingerprints: %s", msg)
					}
				}
				if err != nil || mode != ssh.AcceptNew || !c.pinsLine {
					if !bytes.Equal(before, after) {
						t.Errorf("known_hosts changed:\n%s", after)
					}
				} else {
					added := strings.TrimPrefix(string(after), string(before))
					if !strings.HasPrefix(added, "|1|") || strings.Count(added, "\n") != 1 {
						t.Errorf("accept-new added %q, want one hashed line", added)
					}
					// Pinned: the next connection in strict mode goes through.
					cfg.HostKeyMode = ssh.Strict
					tr2, err := ssh.New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					defer tr2.Close()
					if err := tr2.Connect(context.Background()); err != nil {
						t.Errorf("strict after pinning: %v", err)
					}
				}
				if mode == ssh.Insecure && !strings.Contains(warn.String(), "NOT verified") {
					t.Errorf("insecure mode printed no warning: %q", warn.String())
				}
			})
		}
	}
}

// TestChangedKeyMessage checks what a refused changed key says.
func TestChangedKeyMessage(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{KeyTypes: []string{"ed25519"}})
	other := randomKey(t, "ed25519")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte("["+srv.Host+"]:"+strconv.Itoa(srv.Port)+" "+keyText(other)+"\n"), 0o600)
	cfg := srv.Config(t)
	cfg.KnownHosts = []string{kh}
	tr, err := ssh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	err = tr.Connect(context.Background())
	msg := err.Error()
	for _, want := range []string{
		"[127.0.0.1]:" + strconv.Itoa(srv.Port),
		"host key changed",
		"ssh-ed25519 " + xssh.FingerprintSHA256(srv.HostKeys["ssh-ed25519"]),
		"ssh-ed25519 " + xssh.FingerprintSHA256(other),
		kh + ":1",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

// TestAcceptNewConcurrent pins one host from many connections at once:
// every one succeeds and the key is written once.
func TestAcceptNewConcurrent(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	kh := filepath.Join(t.TempDir(), "sub", "known_hosts")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := srv.Config(t)
			cfg.KnownHosts = []string{kh}
			cfg.HostKeyMode = ssh.AcceptNew
			cfg.Warn = &bytes.Buffer{}
			tr, err := ssh.New(cfg)
			if err == nil {
				err = tr.Connect(context.Background())
				tr.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Errorf("known_hosts has %d lines after 8 concurrent pins, want 1:\n%s", n, b)
	}
	if st, _ := os.Stat(kh); st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", st.Mode().Perm())
	}
}

// TestConnectErrors: a closed port and an unreachable handshake give clear
// errors within the connect timeout.
func TestConnectErrors(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	cfg := srv.Config(t)
	srv.Stop()
	tr, err := ssh.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	err = tr.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connect to 127.0.0.1:") {
		t.Errorf("closed port: %v", err)
	}
	// A listener that never speaks SSH: the handshake times out.
	ln, lerr := listenSilent(t)
	if lerr != nil {
		t.Fatal(lerr)
	}
	cfg.Port = ln
	cfg.ConnectTimeout = 500 * time.Millisecond
	tr2, _ := ssh.New(cfg)
	defer tr2.Close()
	// The handshake's own timeout ends it: the error says so (a hang would
	// end at the test's deadline instead).
	err = tr2.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "did not finish within") {
		t.Errorf("silent server: %v", err)
	}
}
