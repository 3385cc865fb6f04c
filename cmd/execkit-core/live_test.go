package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
)

// execkit runs this test binary as execkit with args and returns its
// stdout and stderr.
func execkitOut(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// startShell starts `execkit shell` writing the journal at jpath, with
// no policy, and returns its input (one command a line) and a buffer of
// its stderr; the shell is stopped when the test ends.
func startShell(t *testing.T, jpath string) (io.Writer, *strings.Builder) {
	t.Helper()
	sh := exec.Command(os.Args[0], "shell", "--journal", jpath, "--policy", "none")
	sh.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
	stdin, _ := sh.StdinPipe()
	var errb strings.Builder
	sh.Stdout, sh.Stderr = io.Discard, &errb
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		sh.Wait()
		if t.Failed() {
			t.Logf("shell stderr: %s", errb.String())
		}
	})
	// Readers started next need the journal to exist: wait for its
	// live socket, which the shell serves once the journal is open.
	for i := 0; i < 600; i++ {
		if _, err := os.Stat(jpath); err == nil {
			if _, err := os.Stat(journal.LiveSocket(jpath)); err == nil {
				return stdin, &errb
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the shell never opened %s", jpath)
	return stdin, &errb
}

// waitForEntry polls the viewer at url until an entry holds word.
func waitForEntry(t *testing.T, url, word string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		resp, err := http.Get(url + "api/entries?after=0")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), word) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never appeared in the viewer", word)
}

// TestLiveJournal: while `execkit shell` writes a journal, another process
// reads it with log, show, export and verify, and follows it with log
// --follow, which ends when the shell closes the journal.
func TestLiveJournal(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "run.db")
	stdin, _ := startShell(t, jpath)
	io.WriteString(stdin, "echo one; echo err >&2\n")
	// The entry appears to readers once it is committed: polled, bounded.
	var out string
	for i := 0; i < 300; i++ {
		out, _, _ = execkitOut(t, "log", jpath)
		if strings.Contains(out, "echo one") && !strings.Contains(out, "running") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out, "echo one") || !strings.Contains(out, "ok") {
		t.Fatalf("log of a live journal: %s", out)
	}
	if out, errb, err := execkitOut(t, "show", jpath, "1"); err != nil || !strings.Contains(out, "one") || !strings.Contains(out, "err") {
		t.Errorf("show: %v %s %s", err, out, errb)
	}
	if out, errb, err := execkitOut(t, "export", jpath, "--format", "jsonl"); err != nil || !strings.Contains(out, `"echo one; echo err >&2"`) {
		t.Errorf("export: %v %s %s", err, out, errb)
	}
	if out, errb, err := execkitOut(t, "verify", jpath); err != nil || !strings.HasPrefix(out, "ok:") || !strings.Contains(out, "live (being written") {
		t.Errorf("verify: %v %s %s", err, out, errb)
	}

	// log --follow: the rows so far, then each new one, then the end.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fol := exec.CommandContext(ctx, os.Args[0], "log", "--follow", "--json", jpath)
	fol.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
	fout, _ := fol.StdoutPipe()
	var ferr strings.Builder
	fol.Stderr = &ferr
	defer func() {
		if t.Failed() {
			t.Logf("log --follow stderr: %s", ferr.String())
		}
	}()
	if err := fol.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(fout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() map[string]any {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				err := fol.Wait()
				t.Fatalf("log --follow ended early: %v", err)
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			return e
		case <-ctx.Done():
			t.Fatal("log --follow printed nothing")
		}
		return nil
	}
	if e := next(); e["command"] != "echo one; echo err >&2" {
		t.Errorf("first followed entry: %v", e)
	}
	// The shell ends with its shell's exit, closing the journal.
	io.WriteString(stdin, "echo two; exit 3\n")
	if e := next(); e["command"] != "echo two; exit 3" || e["status"] != "shell_ended" {
		t.Errorf("followed entry: %v", e)
	}
	for l := range lines {
		t.Errorf("after the writer ended: %q", l)
	}
	if err := fol.Wait(); err != nil {
		t.Errorf("log --follow: %v", err)
	}
	// The writer is gone: the file itself reads, sealed.
	if out, _, err := execkitOut(t, "verify", jpath); err != nil || !strings.Contains(out, "sealed") {
		t.Errorf("verify after: %v %s", err, out)
	}
}

// TestLiveJournalOfMCP: while `execkit mcp` serves, its journal reads
// from another process.
func TestLiveJournalOfMCP(t *testing.T) {
	m := startRaw(t, nil)
	sid := m.create(map[string]any{"transport": "local"})
	m.call("session_exec", map[string]any{"session_id": sid, "command": "echo through-mcp"})
	out, errb, err := execkitOut(t, "log", m.journal)
	if err != nil || !strings.Contains(out, "echo through-mcp") {
		t.Errorf("log of the MCP server's journal: %v %s %s", err, out, errb)
	}
	if out, _, err := execkitOut(t, "verify", m.journal); err != nil || !strings.Contains(out, "live") {
		t.Errorf("verify: %v %s", err, out)
	}
}
