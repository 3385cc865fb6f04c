package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/internal/testreq"
	"github.com/execkit/execkit/journal"
)

// chromium finds the browser, or ends the test (a failure when
// EXECKIT_TEST_REQUIRE names chromium).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testreq.Missing(t, "chromium", "no chromium on PATH (Debian package chromium; `make test` installs it as root)")
	return ""
}

// headless runs the browser on url with extra flags and returns stdout.
func headless(t *testing.T, browser, url string, flags ...string) string {
	t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=4000", "--window-size=1280,900"}, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, browser, append(args, url)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	return out.String()
}

// serveView starts `execkit view` on a journal and returns the page's URL.
func serveView(t *testing.T, journalPath string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "view", journalPath)
	cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil {
		t.Fatalf("execkit view: %v", err)
	}
	m := regexp.MustCompile(`http://\S+/`).FindString(line)
	if m == "" {
		t.Fatalf("no address in %q", line)
	}
	go io.Copy(io.Discard, stderr)
	return m
}

// TestViewerInBrowser records a run, serves it with execkit view and
// renders it in headless Chromium: the transcript shows the commands,
// search finds a word, the failing entry is marked, a command printing a
// script does not run it, requests without the token are refused, and a
// screenshot is kept.
func TestViewerInBrowser(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	j := filepath.Join(dir, "run.db")
	ws := filepath.Join(dir, "ws")
	os.Mkdir(ws, 0o755)
	script := strings.Join([]string{
		"echo hello from the transcript",
		"ls /nonexistent-execkit-dir",
		`echo '<script>document.title="PWNED";document.body.setAttribute("data-pwned","1")</script><img src=x onerror="document.title=1">'`,
		"echo checkpointed > notes.txt",
		"rm notes.txt",
		"printf 'zebra-unique-word\\n'",
		"echo done > done.txt",
	}, "\n") + "\n"
	var out, errb bytes.Buffer
	if code := run([]string{"execkit", "shell", "--journal", j, "--cwd", ws, "--workspace", ws, "--checkpoint-dir", filepath.Join(dir, "cp"), "--deny", "rm"},
		strings.NewReader(script), &out, &errb); code != 0 {
		t.Fatalf("record: %d %s", code, errb.String())
	}
	url := serveView(t, j)

	// The token is required on every request.
	base := url[:strings.Index(url[len("http://"):], "/")+len("http://")]
	for _, u := range []string{base + "/", base + "/assets/app.js", base + "/wrong-token/", url[:len(url)-2] + "x/"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without the token: %s", u, resp.Status)
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("no script policy: %q", csp)
	}
	// Exports through the journal's own exporters.
	for format, want := range map[string]string{"md": "## Session", "jsonl": `"command":"echo hello from the transcript"`, "cast": `"version":2`} {
		resp, err := http.Get(url + "export/" + format)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(want)) {
			t.Errorf("export %s: %s, %.200q", format, resp.Status, b)
		}
	}

	dom := headless(t, browser, url+"?q=zebra-unique-word", "--dump-dom")
	for _, want := range []string{
		"echo hello from the transcript", // the transcript shows the commands
		"hello from the transcript",
		`<mark class="current">zebra-unique-word</mark>`, // search found the word
		`2 matches`,                 // in the command and in its output
		"No such file or directory", // stderr, rendered
		`class="badge exit nonzero"`,
		`this command changed: <span class="file change-added">notes.txt</span>`, // checkpoint marker
		`blocked</span> deny:rm`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if !regexp.MustCompile(`<section class="entry status-failed failing" id="e-2"`).MatchString(dom) {
		t.Error("the failing entry is not marked")
	}
	if strings.Contains(dom, "<title>PWNED</title>") || strings.Contains(dom, "<title>1</title>") || regexp.MustCompile(`<body[^>]*data-pwned`).MatchString(dom) {
		t.Error("a script printed by a command ran in the page")
	}
	if !strings.Contains(dom, "&lt;script&gt;document.title") {
		t.Error("the printed script is not shown as text")
	}
	// A status filter from the address hides the rest.
	dom = headless(t, browser, url+"?status=failed", "--dump-dom")
	if !strings.Contains(dom, `id="e-1" data-session`) || !regexp.MustCompile(`class="entry status-ok hidden" id="e-1"`).MatchString(dom) {
		t.Error("the status filter did not hide the ok entries")
	}

	// The screenshot is a test artifact.
	shot := filepath.Join(artifactDir(t), "viewer.png")
	headless(t, browser, url+"?q=transcript", "--screenshot="+shot, "--hide-scrollbars")
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s", shot)
}

// artifactDir is where tests leave files for people to look at:
// $EXECKIT_ARTIFACTS, or testdata/artifacts at the repository root.
func artifactDir(t *testing.T) string {
	d := os.Getenv("EXECKIT_ARTIFACTS")
	if d == "" {
		d, _ = filepath.Abs("../../testdata/artifacts")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLiveViewer: execkit record --view serves the run being written; new
// entries show up as they are committed.
func TestLiveViewer(t *testing.T) {
	dir := t.TempDir()
	stop := filepath.Join(dir, "stop")
	// Inside the agent, "$EK_BIN" is this test binary acting as execkit.
	agent := `"$EK_BIN" exec 'echo first-live-entry'; while [ ! -e ` + stop + `.1 ]; do sleep 0.05; done; ` +
		`"$EK_BIN" exec 'echo second-live-entry'; while [ ! -e ` + stop + ` ]; do sleep 0.05; done`
	rec := exec.Command(os.Args[0], "record", "--journal", filepath.Join(dir, "j.db"), "--cwd", dir, "--view", "127.0.0.1:0", "--", "sh", "-c", agent)
	rec.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1", "EK_BIN="+os.Args[0])
	stderr, _ := rec.StderrPipe()
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	br := bufio.NewReader(stderr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := regexp.MustCompile(`http://\S+/`).FindString(line)
	if url == "" {
		t.Fatalf("no viewer address in %q", line)
	}
	go io.Copy(io.Discard, br)
	waitForEntry(t, url, "first-live-entry")
	os.WriteFile(stop+".1", nil, 0o644)
	waitForEntry(t, url, "second-live-entry")
	if browser := chromiumIfAny(); browser != "" {
		dom := headless(t, browser, url, "--dump-dom")
		if !strings.Contains(dom, "second-live-entry") || !strings.Contains(dom, `data-live="true"`) {
			t.Error("the live page does not show the run")
		}
	}
	os.WriteFile(stop, nil, 0o644)
	if err := rec.Wait(); err != nil {
		t.Fatal(err)
	}
}

func chromiumIfAny() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestViewOfLiveJournal: `execkit view` of a journal that another process
// (`execkit shell`) is writing shows it live, new entries included, in
// headless Chromium too; restarted, view serves the same address.
func TestViewOfLiveJournal(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "run.db")
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	stdin, _ := startShell(t, jpath)
	io.WriteString(stdin, "echo first-of-shell\n")
	for i := 0; i < 300 && !journal.Live(jpath); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	startView := func() (string, func()) {
		cmd := exec.Command(os.Args[0], "view", jpath)
		cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
		line, _ := bufio.NewReader(stderr).ReadString('\n')
		go io.Copy(io.Discard, stderr)
		return regexp.MustCompile(`http://\S+/`).FindString(line), stop
	}
	url, stopView := startView()
	defer stopView()
	waitForEntry(t, url, "first-of-shell")
	io.WriteString(stdin, "echo second-of-shell\n")
	waitForEntry(t, url, "second-of-shell")
	if browser := chromium(t); browser != "" {
		dom := headless(t, browser, url, "--dump-dom")
		if !strings.Contains(dom, "second-of-shell") || !strings.Contains(dom, `data-live="true"`) {
			t.Errorf("the page of a live journal:\n%.2000s", dom)
		}
	}
	// Restarted, view serves the same address, so an open tab reconnects.
	stopView()
	url2, stop2 := startView()
	defer stop2()
	if url2 != url {
		t.Errorf("restarted view: %q, first %q", url2, url)
	}
}
