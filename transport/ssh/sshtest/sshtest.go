// Package sshtest starts a real OpenSSH sshd for tests: keys and
// configuration in a temporary directory, a listener on loopback, and one
// `sshd -i` (inetd mode) per accepted connection, so no port is fixed and
// nothing outlives the test.
package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	xssh "golang.org/x/crypto/ssh"

	"github.com/execkit/execkit/internal/testreq"
	"github.com/execkit/execkit/transport/ssh"
)

// Sshd is where the tests look for the server.
const Sshd = "/usr/sbin/sshd"

// Options shape a server.
type Options struct {
	// KeyTypes are the host key types the server holds, as ssh-keygen -t
	// names them ("ed25519", "ecdsa", "rsa"). Default ed25519 and rsa.
	KeyTypes []string
	// HostKeyDir reuses the host keys in this directory (so that two
	// servers can share, or not share, their keys).
	HostKeyDir string
}

// Server is a running test sshd.
type Server struct {
	Host string
	Port int
	User string
	// KeyDir holds the client's key, Identity names it.
	KeyDir   string
	Identity string
	// HostKeys are the server's public host keys, by type
	// ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256").
	HostKeys   map[string]xssh.PublicKey
	HostKeyDir string
	// Dir is the server's temporary directory.
	Dir string

	ln    net.Listener
	mu    sync.Mutex
	procs []*exec.Cmd
	wg    sync.WaitGroup
}

// Available reports whether sshd can be started here, or why not.
func Available() (bool, string) {
	if _, err := os.Stat(Sshd); err != nil {
		return false, Sshd + " not installed (Debian package openssh-server; `make test` installs it as root)"
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		return false, "ssh-keygen not installed"
	}
	return true, ""
}

// Start starts a server, or skips the test (fails it when
// EXECKIT_TEST_REQUIRE names sshd) when sshd is missing.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if ok, why := Available(); !ok {
		testreq.Missing(t, "sshd", why)
	}
	if os.Geteuid() == 0 {
		// sshd wants its privilege separation directory.
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	dir := t.TempDir()
	s := &Server{Dir: dir, HostKeys: map[string]xssh.PublicKey{}, KeyDir: filepath.Join(dir, "client")}
	if len(opts.KeyTypes) == 0 {
		opts.KeyTypes = []string{"ed25519", "rsa"}
	}
	s.HostKeyDir = opts.HostKeyDir
	if s.HostKeyDir == "" {
		s.HostKeyDir = filepath.Join(dir, "hostkeys")
		must(t, os.Mkdir(s.HostKeyDir, 0o700))
	}
	var hostKeyLines []string
	for _, kt := range opts.KeyTypes {
		f := filepath.Join(s.HostKeyDir, "ssh_host_"+kt+"_key")
		if _, err := os.Stat(f); err != nil {
			args := []string{"-q", "-t", kt, "-N", "", "-f", f}
			if kt == "rsa" {
				args = append(args, "-b", "2048")
			}
			if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen %s: %v: %s", kt, err, out)
			}
		}
		pub, err := os.ReadFile(f + ".pub")
		must(t, err)
		k, _, _, _, err := xssh.ParseAuthorizedKey(pub)
		must(t, err)
		s.HostKeys[k.Type()] = k
		hostKeyLines = append(hostKeyLines, "HostKey "+f)
	}
	// The client's key.
	must(t, os.Mkdir(s.KeyDir, 0o700))
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	block, err := xssh.MarshalPrivateKey(priv, "")
	must(t, err)
	s.Identity = filepath.Join(s.KeyDir, "id_ed25519")
	must(t, os.WriteFile(s.Identity, pem.EncodeToMemory(block), 0o600))
	cpub, err := xssh.NewPublicKey(pub)
	must(t, err)
	auth := filepath.Join(dir, "authorized_keys")
	must(t, os.WriteFile(auth, xssh.MarshalAuthorizedKey(cpub), 0o600))

	u := os.Getenv("USER")
	if u == "" {
		u = "root"
	}
	if os.Geteuid() == 0 {
		u = "root"
	}
	s.User = u
	conf := filepath.Join(dir, "sshd_config")
	cfg := strings.Join(append(hostKeyLines,
		"AuthorizedKeysFile "+auth,
		"PermitRootLogin yes",
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PidFile none",
		"LogLevel ERROR",
		"AcceptEnv NONE",
		"PrintMotd no",
		"PrintLastLog no",
		"Subsystem sftp internal-sftp",
		"MaxSessions 64",
		// sshd runs every channel's command through the user's login
		// shell; bash started by sshd reads ~/.bashrc unless it is nested
		// (SHLVL). The test server keeps the tests apart from the rc files
		// of whoever runs them (a pyenv set-up costs ~0.5 s a channel).
		"SetEnv SHLVL=1",
	), "\n") + "\n"
	must(t, os.WriteFile(conf, []byte(cfg), 0o600))
	if out, err := exec.Command(Sshd, "-t", "-f", conf).CombinedOutput(); err != nil {
		testreq.Missing(t, "sshd", fmt.Sprintf("sshd -t rejects the test configuration: %v: %s", err, bytes.TrimSpace(out)))
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s.ln = ln
	s.Host = "127.0.0.1"
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.wg.Add(1)
	go s.serve(conf)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(conf string) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		f, err := c.(*net.TCPConn).File()
		c.Close()
		if err != nil {
			continue
		}
		cmd := exec.Command(Sshd, "-i", "-e", "-f", conf)
		cmd.Stdin, cmd.Stdout = f, f
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			f.Close()
			continue
		}
		f.Close()
		s.mu.Lock()
		s.procs = append(s.procs, cmd)
		s.mu.Unlock()
		go cmd.Wait()
	}
}

// Addr is "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Target is "user@host:port".
func (s *Server) Target() string { return s.User + "@" + s.Addr() }

// KnownHostsLine is a known_hosts line for the server's key of the given
// type, under its [host]:port name.
func (s *Server) KnownHostsLine(keyType string) string {
	k := s.HostKeys[keyType]
	if k == nil {
		panic("sshtest: no host key of type " + keyType)
	}
	return "[" + s.Host + "]:" + strconv.Itoa(s.Port) + " " + strings.TrimSpace(string(xssh.MarshalAuthorizedKey(k)))
}

// WriteKnownHosts writes a known_hosts file listing every host key of the
// server and returns its path.
func (s *Server) WriteKnownHosts(t testing.TB) string {
	t.Helper()
	var lines []string
	for kt := range s.HostKeys {
		lines = append(lines, s.KnownHostsLine(kt))
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	must(t, os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return f
}

// Config is a transport configuration for the server that trusts its keys.
func (s *Server) Config(t testing.TB) ssh.Config {
	return ssh.Config{
		User: s.User, Host: s.Host, Port: s.Port,
		KeyDir: s.KeyDir, Identities: []string{s.Identity},
		KnownHosts: []string{s.WriteKnownHosts(t)},
	}
}

// DropConnections kills every sshd serving a connection: the clients see
// their connection lost.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.procs {
		if c.Process != nil {
			c.Process.Kill()
		}
	}
	s.procs = nil
}

// Stop closes the listener and ends every connection.
func (s *Server) Stop() {
	s.ln.Close()
	s.wg.Wait()
	s.DropConnections()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
