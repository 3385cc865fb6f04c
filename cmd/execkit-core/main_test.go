package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
	xssh "golang.org/x/crypto/ssh"

	"github.com/execkit/execkit/transport/docker/dockertest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// The tests here run one at a time: those that call run in this process
// must (the command line library keeps its help and version flags in
// package variables), and the others, run beside the session suites of
// other packages, only add load to a 2-core machine.
func TestMain(m *testing.M) {
	// Tests that need the binary itself (an MCP client starting the
	// server) run the test binary with EXECKIT_RUN_MAIN=1.
	if os.Getenv("EXECKIT_RUN_MAIN") == "1" {
		os.Exit(run(append([]string{"execkit"}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr))
	}
	// Under -race every process of the test binary sleeps a second at its
	// exit, waiting for late race reports; the scripts start execkit
	// hundreds of times, and each run is over when it exits.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=10")
	}
	testscript.Main(m, map[string]func(){
		"execkit": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the txtar scripts in testdata/script. Run with
// -testwork to keep their work directories.
// fixturesDir is the repository's fixtures directory.
func fixturesDir(t *testing.T) string {
	d, err := filepath.Abs("../../fixtures")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestScripts(t *testing.T) {
	fixtures := fixturesDir(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("FIXTURES", fixtures)
			return nil
		},
	})
}

// TestExitCodes pins the exit code of each kind of outcome.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	notJournal := filepath.Join(dir, "not-a-journal.txt")
	os.WriteFile(notJournal, []byte("hello\n"), 0o600)
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"execkit", "exec", "true"}, ExitOK},
		// A journal that cannot be opened is execkit failing to run the
		// command (125) from every command that runs commands, never the
		// command's own status.
		{[]string{"execkit", "exec", "--journal", notJournal, "true"}, ExitExecKit},
		{[]string{"execkit", "shell", "--journal", notJournal}, ExitExecKit},
		{[]string{"execkit", "mcp", "--journal", notJournal}, ExitExecKit},
		{[]string{"execkit", "record", "--journal", notJournal, "--", "true"}, ExitExecKit},
		{[]string{"execkit", "undo", "1", "--journal", notJournal}, ExitExecKit},
		{[]string{"execkit", "log", notJournal}, ExitFailure},
		// Flags are checked before any file is created.
		{[]string{"execkit", "exec", "--journal", filepath.Join(dir, "new.db"), "--timeout", "-1s", "true"}, ExitUsage},
		{[]string{"execkit", "mcp", "--journal", filepath.Join(dir, "new.db"), "--budget", "middle"}, ExitUsage},
		{[]string{"execkit", "mcp", "--journal", filepath.Join(dir, "new.db"), "--http", "10.0.0.1:80"}, ExitUsage},
		{[]string{"execkit", "record", "--journal", filepath.Join(dir, "new.db"), "--ssh", "h:99999", "--", "true"}, ExitUsage},
		{[]string{"execkit", "exec", "--journal", filepath.Join(dir, "new.db"), "--host-key-mode", "trusting", "true"}, ExitUsage},
		{[]string{"execkit", "exec", "exit 7"}, 7},
		{[]string{"execkit", "exec", "(exit 123)"}, 123},
		{[]string{"execkit", "exec", "kill -TERM $$"}, 128 + 15},
		{[]string{"execkit", "exec", "--timeout", "300ms", "sleep 30"}, ExitTimeout},
		{[]string{"execkit", "exec"}, ExitUsage},
		{[]string{"execkit", "exec", "--timeout", "-1s", "true"}, ExitUsage},
		{[]string{"execkit", "exec", "--cwd", "/nonexistent-execkit", "true"}, ExitUsage},
		{[]string{"execkit", "exec", "--no-such-flag", "true"}, ExitUsage},
		{[]string{"execkit", "exec", "--shell", "/nonexistent/shell", "true"}, ExitExecKit},
		{[]string{"execkit", "exec", "echo\x00"}, ExitUsage},
		{[]string{"execkit", "nope"}, ExitUsage},
		{[]string{"execkit", "version"}, ExitOK},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if got := run(c.args, strings.NewReader(""), &out, &errb); got != c.want {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, got, c.want, errb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); err == nil {
		t.Error("a command refused for its flags created its journal")
	}
}

// TestExecJSONShape pins the field names of `exec --json`.
func TestExecJSONShape(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"execkit", "exec", "--json", "--max-output", "10", "echo 0123456789abcdef; echo e >&2; exit 3"}, strings.NewReader(""), &out, &errb)
	if code != 3 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"command", "stdout", "stderr", "exit_code", "duration_ms", "cwd_before", "cwd", "timed_out", "shell_ended", "truncated", "stdout_info", "stderr_info"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out.String())
		}
	}
	si, _ := m["stdout_info"].(map[string]any)
	if m["stdout"] != "01234cdef\n" || m["truncated"] != true || si["dropped"] != float64(7) || si["bytes"] != float64(17) || si["dropped_at"] != float64(5) {
		t.Errorf("truncation in JSON: stdout %q, info %v", m["stdout"], si)
	}
	if m["exit_code"] != float64(3) || m["stderr"] != "e\n" {
		t.Errorf("JSON: %s", out.String())
	}
}

// TestSSHScripts runs the txtar scripts in testdata/ssh against a real sshd
// started for the test; $SSH_TARGET, $KEY_DIR, $IDENTITY and $KNOWN_HOSTS
// describe it, $OTHER_KNOWN_HOSTS lists a different key for it.
func TestSSHScripts(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	known := srv.WriteKnownHosts(t)
	other := filepath.Join(t.TempDir(), "other_known_hosts")
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := xssh.NewPublicKey(pub)
	os.WriteFile(other, []byte("["+srv.Host+"]:"+strconv.Itoa(srv.Port)+" "+string(xssh.MarshalAuthorizedKey(otherKey))), 0o600)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/ssh",
		Setup: func(e *testscript.Env) error {
			e.Setenv("SSH_TARGET", srv.Target())
			e.Setenv("KEY_DIR", srv.KeyDir)
			e.Setenv("IDENTITY", srv.Identity)
			e.Setenv("KNOWN_HOSTS", known)
			e.Setenv("OTHER_KNOWN_HOSTS", other)
			e.Setenv("SSH_AUTH_SOCK", "")
			e.Setenv("FIXTURES", fixturesDir(t))
			return nil
		},
	})
}

// TestDockerScripts runs the txtar scripts in testdata/docker against a
// real engine; $CONTAINER names a running test container and $IMAGE the
// test image.
func TestDockerScripts(t *testing.T) {
	img := dockertest.Image(t)
	name := dockertest.Container(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/docker",
		Setup: func(e *testscript.Env) error {
			e.Setenv("CONTAINER", name)
			e.Setenv("IMAGE", img)
			e.Setenv("FIXTURES", fixturesDir(t))
			return nil
		},
	})
}

// TestReplayExitCodes pins replay's and diff's own exit codes: 0 all
// match, 1 a divergence, 2 an error.
func TestReplayExitCodes(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "rec.db")
	f := filepath.Join(dir, "f.txt")
	os.WriteFile(f, []byte("one\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"execkit", "exec", "--journal", j, "cat " + f}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("record: %d %s", code, errb.String())
	}
	replayed := filepath.Join(dir, "replayed.db")
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"execkit", "replay", j, "--record", replayed}, 0},
		{[]string{"execkit", "diff", j, replayed}, 0},
		{[]string{"execkit", "replay", j, "--record", replayed}, 2}, // exists
		{[]string{"execkit", "replay", filepath.Join(dir, "none.db")}, 2},
		{[]string{"execkit", "replay", j, "--no-such-flag"}, 2},
		{[]string{"execkit", "replay", j, "--compare", "color"}, 2},
		{[]string{"execkit", "diff", j}, 2},
	}
	for _, c := range cases {
		out.Reset()
		errb.Reset()
		if got := run(c.args, strings.NewReader(""), &out, &errb); got != c.want {
			t.Errorf("%q: exit %d, want %d (stdout %q, stderr %q)", c.args, got, c.want, out.String(), errb.String())
		}
	}
	os.WriteFile(f, []byte("two\n"), 0o644)
	if got := run([]string{"execkit", "replay", j}, strings.NewReader(""), &out, &errb); got != 1 {
		t.Errorf("replay after a change: exit %d, want 1", got)
	}
}

// TestReplayOnTerminal: on a terminal the report is coloured and a progress
// bar is drawn on standard error.
func TestReplayOnTerminal(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "rec.db")
	var out, errb bytes.Buffer
	for _, c := range []string{"echo one", "echo two"} {
		if code := run([]string{"execkit", "exec", "--journal", j, c}, strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatal(errb.String())
		}
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx)
		got <- string(b)
	}()
	t.Setenv("NO_COLOR", "")
	code := run([]string{"execkit", "replay", j}, strings.NewReader(""), tty, tty)
	tty.Close()
	text := <-got
	if code != 0 {
		t.Fatalf("exit %d: %q", code, text)
	}
	if !strings.Contains(text, "\x1b[32m✓\x1b[0m") {
		t.Errorf("no colour on a terminal: %q", text)
	}
	if !strings.Contains(text, "] 2/2") || !strings.Contains(text, "[===") {
		t.Errorf("no progress bar on a terminal: %q", text)
	}
	// Not on a pipe.
	out.Reset()
	run([]string{"execkit", "replay", j}, strings.NewReader(""), &out, &errb)
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("colour on a pipe: %q", out.String())
	}
}
