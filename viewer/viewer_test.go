package viewer

import (
	"context"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/undo"
)

// tree lists every file under dir with its size and modification time.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		b.WriteString(p + " " + fi.ModTime().String() + " " + fi.Mode().String() + "\n")
		return nil
	})
	return b.String()
}

// TestReadOnly: the viewer shows the files each command changed from the
// checkpoints of a local workspace, and creates, writes or reaches
// nothing to do so: not the checkpoint repository it reads, not one
// that does not exist, not a remote session's.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	ws, cp := filepath.Join(dir, "ws"), filepath.Join(dir, "cp")
	os.Mkdir(ws, 0o755)
	st, err := undo.OpenLocal(undo.Options{Workspace: ws, Dir: cp})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c1, _ := st.Checkpoint(ctx, "before 1")
	os.WriteFile(filepath.Join(ws, "made-by-one.txt"), []byte("x"), 0o644)
	c2, _ := st.Checkpoint(ctx, "before 2")

	path := filepath.Join(dir, "run.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-repository")
	sessions := []journal.Session{
		{ID: "here", Transport: "local", Spec: journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "local"}, Workspace: ws, CheckpointDir: cp, CheckpointMode: "auto"}},
		{ID: "gone", Transport: "local", Spec: journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "local"}, Workspace: ws, CheckpointDir: missing, CheckpointMode: "auto"}},
		{ID: "far", Transport: "ssh", Spec: journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "ssh", Address: "deploy@build"}, Workspace: "/srv/app", CheckpointMode: "auto"}},
	}
	for _, s := range sessions {
		if err := j.AddSession(s); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{c1.ID, c2.ID} {
			seq, _ := j.Intent(journal.Intent{Session: s.ID, Command: "touch " + s.ID, Decision: journal.Decision{Allowed: true}})
			j.Checkpointed(seq, id)
			j.Complete(seq, journal.Completion{Status: journal.StatusOK})
		}
	}
	j.Close()
	before, journalBefore := tree(t, cp), tree(t, path)

	h := New(File(path), Options{Token: "tok"}).Handler()
	for _, u := range []string{"/tok/", "/tok/api/entries", "/tok/export/md"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
		if rec.Code != 200 {
			t.Errorf("%s: %d %s", u, rec.Code, rec.Body.String())
		}
		if u == "/tok/api/entries" && strings.Count(rec.Body.String(), "made-by-one.txt") != 1 {
			t.Errorf("entries: the local session's change should be listed once: %s", rec.Body.String())
		}
	}
	if after := tree(t, cp); after != before {
		t.Errorf("the viewer changed the checkpoint repository:\n%s\nwas\n%s", after, before)
	}
	if after := tree(t, path); after != journalBefore {
		t.Errorf("the viewer changed the journal")
	}
	for _, p := range []string{missing, filepath.Join(dir, "state")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the viewer created %s", p)
		}
	}
}

// Escape sequences and bidirectional controls in recorded text (a --raw
// session keeps them) are shown on the page, in the live updates and in
// the Markdown export, never passed on.
func TestHostileTextShown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.AddSession(journal.Session{ID: "s", Transport: "local", Spec: journal.SessionSpec{Endpoint: journal.Endpoint{Transport: "local"}, Raw: true}})
	seq, _ := j.Intent(journal.Intent{Session: "s", Command: "ls \u202egnp.exe", Decision: journal.Decision{Allowed: true}})
	j.Complete(seq, journal.Completion{Status: journal.StatusOK, Stdout: "invoice\u202egnp.exe\n\x1b]0;title\x07\x1b[31mred\x1b[0m\n", Stderr: "\u2066x\u2069"})
	j.Close()
	h := New(File(path), Options{Token: "tok"}).Handler()
	for _, u := range []string{"/tok/", "/tok/api/entries", "/tok/export/md"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
		body := rec.Body.String()
		for _, bad := range []string{"\u202e", "\u2066", "\x1b", "\x07", `\u202e`, `\u001b`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s passes on %q", u, bad)
			}
		}
		if !strings.Contains(body, "202E") || !strings.Contains(body, `x1b[31m`) {
			t.Errorf("%s does not show the controls:\n%s", u, body)
		}
	}
}

// TestEvents: /events?t=TOKEN streams the entries as server-sent events,
// then "sealed" for a run that has ended; a wrong token gets 404, and
// /?t=TOKEN leads to the page.
func TestEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.AddSession(journal.Session{ID: "s", Transport: "local"})
	for _, c := range []string{"echo one", "echo two"} {
		seq, _ := j.Intent(journal.Intent{Session: "s", Command: c, Decision: journal.Decision{Allowed: true}})
		j.Complete(seq, journal.Completion{Status: journal.StatusOK})
	}
	if _, err := j.Seal(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	h := New(File(path), Options{Token: "tok"}).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/events?t=tok", nil))
	body := rec.Body.String()
	if rec.Header().Get("Content-Type") != "text/event-stream" || strings.Count(body, "event: entry\n") != 2 ||
		!strings.Contains(body, `"command":"echo one"`) || !strings.HasSuffix(body, "event: sealed\ndata: {}\n\n") {
		t.Errorf("events: %q", body)
	}
	for u, code := range map[string]int{"/events?t=nope": 404, "/events": 404, "/?t=tok": 302, "/?t=nope": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
		if rec.Code != code || code == 302 && rec.Header().Get("Location") != "/tok/" {
			t.Errorf("%s: %d %v", u, rec.Code, rec.Header())
		}
	}
}
