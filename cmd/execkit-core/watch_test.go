package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestWatch drives `execkit watch` through a pseudo-terminal while
// `execkit shell` writes the journal: the entries appear with their
// status, a running command's output shows while it runs, keys select and
// open an entry, q quits.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "run.db")
	flag := filepath.Join(dir, "go-on")
	stdin, _ := startShell(t, jpath)
	io.WriteString(stdin, "echo first-entry; echo to-stderr >&2\n")
	io.WriteString(stdin, "false\n")

	w := exec.Command(os.Args[0], "watch", jpath)
	w.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1", "TERM=xterm-256color")
	tty, err := pty.StartWithSize(w, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var mu sync.Mutex
	var screen strings.Builder
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := tty.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	escapes := regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\x1b[=>]`)
	// since returns the text shown from offset on, escape sequences out.
	since := func(off int) (string, int) {
		mu.Lock()
		defer mu.Unlock()
		s := screen.String()
		return escapes.ReplaceAllString(s[min(off, len(s)):], ""), len(s)
	}
	mark := 0
	waitFor := func(what string, words ...string) {
		t.Helper()
		for i := 0; i < 600; i++ {
			text, _ := since(mark)
			all := true
			for _, w := range words {
				all = all && strings.Contains(text, w)
			}
			if all {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		text, _ := since(mark)
		t.Fatalf("%s: the screen never showed %q; it shows:\n%s", what, words, text[max(0, len(text)-3000):])
	}
	now := func() { _, mark = since(0) }

	waitFor("entries", "first-entry", "ok", "false", "failed")
	// A running command's output, while it runs.
	now()
	io.WriteString(stdin, "echo streaming-now; i=0; while [ ! -e "+flag+" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; echo done-now\n")
	waitFor("live output", "running", "streaming-now")
	now()
	os.WriteFile(flag, nil, 0o600)
	waitFor("the end of the running command", "done-now", "[ok · exit 0")
	// Up twice selects the first entry; enter opens it full screen.
	now()
	tty.Write([]byte("k"))
	time.Sleep(100 * time.Millisecond)
	tty.Write([]byte("k"))
	waitFor("the first entry selected", "to-stderr")
	now()
	tty.Write([]byte("\r"))
	waitFor("the entry open", "first-entry", "to-stderr", "[ok · exit 0")
	tty.Write([]byte("q"))
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("watch: %v", err)
		}
	case <-time.After(time.Minute):
		w.Process.Kill()
		t.Fatal("q did not end watch")
	}
}
