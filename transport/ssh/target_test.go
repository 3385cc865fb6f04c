package ssh

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	good := []struct {
		in, user, host string
		port           int
	}{
		{"host", "", "host", 0},
		{"alice@host", "alice", "host", 0},
		{"alice@host:2222", "alice", "host", 2222},
		{"10.0.0.1:22", "", "10.0.0.1", 22},
		{"[::1]:2200", "", "::1", 2200},
		{"bob@[fe80::1]", "bob", "fe80::1", 0},
		{"::1", "", "::1", 0},
		{"a@b@host", "a@b", "host", 0},
	}
	for _, g := range good {
		u, h, p, err := ParseTarget(g.in)
		if err != nil || u != g.user || h != g.host || p != g.port {
			t.Errorf("ParseTarget(%q) = %q %q %d %v", g.in, u, h, p, err)
		}
	}
	for _, bad := range []string{"", "@host", "host:0", "host:99999", "host:x", "[::1", "[::1]x", "user@", "ho st", ":22"} {
		if _, _, _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
}

func TestLookupAlias(t *testing.T) {
	f := filepath.Join(t.TempDir(), "config")
	os.WriteFile(f, []byte(`# comment
Host build
  HostName build.internal.example
  User deploy
  Port 2222
  IdentityFile ~/.ssh/build_key

Host *.example !secret.example
  User=web
  IdentityFile "id_web"

Host *
  User fallback
  Port 22
`), 0o600)
	a, err := LookupAlias(f, "build")
	want := Alias{HostName: "build.internal.example", User: "deploy", Port: 2222, IdentityFiles: []string{"~/.ssh/build_key"}}
	if err != nil || !reflect.DeepEqual(a, want) {
		t.Errorf("build: %+v %v", a, err)
	}
	a, _ = LookupAlias(f, "www.example")
	if a.User != "web" || a.Port != 22 || a.HostName != "" || !reflect.DeepEqual(a.IdentityFiles, []string{"id_web"}) {
		t.Errorf("www.example: %+v", a)
	}
	a, _ = LookupAlias(f, "secret.example")
	if a.User != "fallback" {
		t.Errorf("negated pattern matched: %+v", a)
	}
	if a, err := LookupAlias(filepath.Join(t.TempDir(), "none"), "x"); err != nil || a.User != "" {
		t.Errorf("missing file: %+v %v", a, err)
	}
	os.WriteFile(f, []byte("Host x\n Port banana\n"), 0o600)
	if _, err := LookupAlias(f, "x"); err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "banana") {
		t.Errorf("bad port: %v", err)
	}
	// Include (an absolute path), Match host, %h, and a jump host refused.
	inc := filepath.Join(t.TempDir(), "included")
	os.WriteFile(inc, []byte("Host db\n  HostName %h.internal\n  User dba\n"), 0o600)
	os.WriteFile(f, []byte("Include "+inc+"\n\nMatch host jumpy\n  ProxyJump bastion\n\nMatch host matched\n  Port 2200\n"), 0o600)
	if a, err := LookupAlias(f, "db"); err != nil || a.HostName != "db.internal" || a.User != "dba" {
		t.Errorf("included: %+v %v", a, err)
	}
	if a, err := LookupAlias(f, "matched"); err != nil || a.Port != 2200 {
		t.Errorf("match host: %+v %v", a, err)
	}
	if _, err := LookupAlias(f, "jumpy"); err == nil || !strings.Contains(err.Error(), "ProxyJump") {
		t.Errorf("jump host: %v", err)
	}
}

func TestIdentityConfinedToKeyDir(t *testing.T) {
	keys := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(keys, "id"), []byte("k"), 0o600)
	os.WriteFile(filepath.Join(outside, "id"), []byte("k"), 0o600)
	os.Symlink(filepath.Join(outside, "id"), filepath.Join(keys, "link"))
	dir, _ := filepath.EvalSymlinks(keys)
	if p, err := confine(dir, "id"); err != nil || p != filepath.Join(dir, "id") {
		t.Errorf("relative identity: %q %v", p, err)
	}
	for _, bad := range []string{filepath.Join(outside, "id"), "../" + filepath.Base(outside) + "/id", "link", "/etc/passwd"} {
		if _, err := confine(dir, bad); err == nil {
			t.Errorf("identity %q outside the key dir was accepted", bad)
		}
	}
	if _, err := New(Config{Host: "h", KeyDir: keys, Identities: []string{filepath.Join(outside, "id")}}); err == nil ||
		!strings.Contains(err.Error(), "outside the key directory") {
		t.Errorf("New with an outside identity: %v", err)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	keys := t.TempDir()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no host"},
		{Config{Host: "h", KeyDir: keys, Password: "x", HostKeyMode: "yolo"}, "host key mode"},
		{Config{Host: "h", KeyDir: keys, Password: "x", HostKeyMode: Fingerprint}, "needs a fingerprint"},
		{Config{Host: "h", KeyDir: keys, Password: "x", HostKeyMode: Fingerprint, Fingerprints: []string{"MD5:aa"}}, "want SHA256"},
		{Config{Host: "h", KeyDir: keys}, "no way to authenticate"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}
