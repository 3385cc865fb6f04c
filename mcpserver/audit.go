package mcpserver

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/execkit/execkit/internal/fsprobe"
	"github.com/execkit/execkit/session"
)

// Audit writes a plain JSONL audit stream beside the journal, in the shape
// the original execkit-mcp wrote, for log shippers that tail files: one
// JSON object per line, each line written whole with one append. Events:
//
//	{"event":"open","ts":MS,"session":ID,"transport":"local"}
//	{"event":"exec","ts":MS,"session":ID,"transport":"local","command":C,"stdout":O,"stderr":E,"exit_code":N,"duration_ms":N,"cwd":D,"truncated":B,"timed_out":B,"entry":N}
//	{"event":"blocked","ts":MS,"session":ID,"transport":"local","command":C,"reason":R,"rule":U,"entry":N}
//	{"event":"close","ts":MS,"session":ID,"reason":"destroyed|idle|shutdown"}
//
// ts is Unix time in milliseconds. Text is what the journal keeps: command
// and output redacted; output as the original wrote it (originalText). In file mode every session goes to one file; in
// directory mode each session has its own, <session>-<open ms>.jsonl.
type Audit struct {
	path string
	dir  bool
	warn io.Writer

	mu    sync.Mutex
	files map[string]string // session id → its file, in directory mode
}

// OpenAudit opens the audit stream at path: a directory (dir true, or path
// an existing directory or ending in /) gets one file per session, created
// 0700; otherwise path is one file, appended to. In directory mode files
// older than retentionDays days are deleted now (0: none). Write errors
// after opening go to warn (nil: stderr): the journal stays the record.
func OpenAudit(path string, dir bool, retentionDays int, warn io.Writer) (*Audit, error) {
	if path == "" {
		return nil, fmt.Errorf("audit: no path")
	}
	if retentionDays < 0 {
		return nil, fmt.Errorf("audit: retention of %d days", retentionDays)
	}
	if warn == nil {
		warn = os.Stderr
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() || strings.HasSuffix(path, "/") {
		dir = true
	}
	a := &Audit{path: path, dir: dir, warn: warn, files: map[string]string{}}
	if dir {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		if retentionDays > 0 {
			a.sweep(time.Duration(retentionDays) * 24 * time.Hour)
		}
		// Prove now that files can be made here, not at the first session.
		if err := fsprobe.Create(path); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		return a, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f.Close()
	return a, nil
}

// Path is the file or directory written.
func (a *Audit) Path() string { return a.path }

// sweep deletes the *.jsonl files of the directory not written for maxAge.
func (a *Audit) sweep(maxAge time.Duration) {
	es, err := os.ReadDir(a.path)
	if err != nil {
		return
	}
	for _, e := range es {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > maxAge {
			if err := os.Remove(filepath.Join(a.path, e.Name())); err != nil {
				fmt.Fprintf(a.warn, "execkit: audit retention: %v\n", err)
			}
		}
	}
}

// unsafeName are the characters kept out of audit file names.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9@._:-]`)

func nowMS() int64 { return time.Now().UnixMilli() }

// Open records a session's opening.
func (a *Audit) Open(id, transport string) {
	if a == nil {
		return
	}
	ts := nowMS()
	if a.dir {
		a.mu.Lock()
		a.files[id] = filepath.Join(a.path, fmt.Sprintf("%s-%d.jsonl", unsafeName.ReplaceAllString(id, "_"), ts))
		a.mu.Unlock()
	}
	a.write(id, map[string]any{"event": "open", "ts": ts, "session": id, "transport": transport})
}

// Exec records a command's result (r as the session returned it, command
// as the journal keeps it).
func (a *Audit) Exec(id, transport, command string, r session.Result) {
	if a == nil {
		return
	}
	if r.Blocked {
		ev := map[string]any{"event": "blocked", "ts": nowMS(), "session": id, "transport": transport, "command": command}
		if r.Decision != nil {
			ev["reason"], ev["rule"] = r.Decision.Reason, r.Decision.Rule
		}
		if r.Entry != 0 {
			ev["entry"] = r.Entry
		}
		a.write(id, ev)
		return
	}
	ev := map[string]any{"event": "exec", "ts": nowMS(), "session": id, "transport": transport, "command": command,
		"stdout": originalText(r.Stdout), "stderr": originalText(r.Stderr), "exit_code": r.ExitCode, "duration_ms": int64(r.DurationMS),
		"cwd": r.Cwd, "truncated": r.Truncated, "timed_out": r.TimedOut}
	if r.Entry != 0 {
		ev["entry"] = r.Entry
	}
	a.write(id, ev)
}

// Close records a session's end and why.
func (a *Audit) Close(id, reason string) {
	if a == nil {
		return
	}
	a.write(id, map[string]any{"event": "close", "ts": nowMS(), "session": id, "reason": reason})
	a.mu.Lock()
	delete(a.files, id)
	a.mu.Unlock()
}

// write appends one event, as one line in one write.
func (a *Audit) write(id string, ev map[string]any) {
	line, err := json.Marshal(ev)
	if err != nil {
		fmt.Fprintf(a.warn, "execkit: audit: %v\n", err)
		return
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	path := a.path
	if a.dir {
		if path = a.files[id]; path == "" {
			return
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = f.Write(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(a.warn, "execkit: audit: %v (the journal still has it)\n", err)
	}
}
