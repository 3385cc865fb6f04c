package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety/safetytest"
	"github.com/execkit/execkit/transport/docker/dockertest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// The tests here drive `execkit mcp` as clients of the original
// execkit-mcp do: raw newline-delimited JSON-RPC on stdio, its argument
// shapes, its EXECKIT_MCP_* settings, and its answers read from the text
// content (docs/mcp.md, "Coming from the original execkit-mcp").

// rawMCP is a server process and a reader of its messages.
type rawMCP struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	msgs  chan map[string]any
	mu    sync.Mutex
	notes []map[string]any // notifications seen
	early map[int]map[string]any
	// journal is the server's journal file; stderr what it says.
	journal string
	stderr  *syncBuffer
	stop    func()
	// init is the answer to initialize.
	init map[string]any
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// startRaw starts `execkit mcp` with env added and initializes it.
func startRaw(t *testing.T, env []string, args ...string) *rawMCP {
	t.Helper()
	jpath := filepath.Join(t.TempDir(), "j.db")
	cmd := exec.Command(os.Args[0], append([]string{"mcp", "--journal", jpath}, args...)...)
	cmd.Env = append(append(os.Environ(), "EXECKIT_RUN_MAIN=1"), env...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &rawMCP{t: t, cmd: cmd, in: in, msgs: make(chan map[string]any, 256), early: map[int]map[string]any{}, journal: jpath, stderr: stderr}
	go func() {
		defer close(m.msgs)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var v map[string]any
			if json.Unmarshal(sc.Bytes(), &v) == nil {
				m.msgs <- v
			}
		}
	}()
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			in.Close()
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(func() { m.stop() })
	m.send(map[string]any{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "original-client", "version": "0"}}})
	init := m.recv(0)
	if res, _ := init["result"].(map[string]any); res == nil {
		t.Fatalf("initialize: %v", init)
	} else if info, _ := res["serverInfo"].(map[string]any); info["name"] != "execkit-mcp" || info["version"] == "" {
		t.Errorf("serverInfo %v: the original's name, with a version", info)
	}
	m.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	m.init = init
	return m
}

func (m *rawMCP) send(v any) {
	m.t.Helper()
	b, _ := json.Marshal(v)
	if _, err := m.in.Write(append(b, '\n')); err != nil {
		m.t.Fatalf("send: %v", err)
	}
}

// recv returns the response to id, keeping the notifications and other
// responses seen on the way.
func (m *rawMCP) recv(id int) map[string]any {
	m.t.Helper()
	if v, ok := m.early[id]; ok {
		delete(m.early, id)
		return v
	}
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case v, ok := <-m.msgs:
			if !ok {
				m.t.Fatalf("the server ended before answering %d", id)
			}
			if v["id"] == nil {
				m.mu.Lock()
				m.notes = append(m.notes, v)
				m.mu.Unlock()
				continue
			}
			n, _ := v["id"].(float64)
			if int(n) == id {
				return v
			}
			m.early[int(n)] = v
		case <-timeout:
			m.t.Fatalf("no answer to %d", id)
		}
	}
}

var rawID = 100

// call calls a tool and returns its result object.
func (m *rawMCP) call(name string, args any, meta ...any) map[string]any {
	m.t.Helper()
	rawID++
	params := map[string]any{"name": name, "arguments": args}
	if len(meta) > 0 {
		params["_meta"] = map[string]any{"progressToken": meta[0]}
	}
	m.send(map[string]any{"jsonrpc": "2.0", "id": rawID, "method": "tools/call", "params": params})
	v := m.recv(rawID)
	res, _ := v["result"].(map[string]any)
	if res == nil {
		m.t.Fatalf("%s: no result: %v", name, v)
	}
	return res
}

func isErr(res map[string]any) bool { return res["isError"] == true }

func resText(res map[string]any) string {
	c, _ := res["content"].([]any)
	if len(c) == 0 {
		return ""
	}
	s, _ := c[0].(map[string]any)["text"].(string)
	return s
}

// resJSON parses the text content as JSON, as the original's clients do.
func resJSON(t *testing.T, res map[string]any) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(resText(res)), &v); err != nil {
		t.Fatalf("text content is not JSON: %v: %q", err, resText(res))
	}
	return v
}

func (m *rawMCP) create(args map[string]any) string {
	m.t.Helper()
	res := m.call("session_create", args)
	if isErr(res) {
		m.t.Fatalf("session_create %v: %s", args, resText(res))
	}
	id, _ := resJSON(m.t, res)["session_id"].(string)
	return id
}

func (m *rawMCP) notifications() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.notes...)
}

// TestOriginalClient: the original's tool names, answers in JSON text,
// split streams, redaction, idempotent destroy, self-describing ids.
func TestOriginalClient(t *testing.T) {
	m := startRaw(t, nil, "--policy", "none")
	m.send(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": map[string]any{}})
	var names []string
	for _, tl := range m.recv(1)["result"].(map[string]any)["tools"].([]any) {
		names = append(names, tl.(map[string]any)["name"].(string))
	}
	sort.Strings(names)
	for _, want := range []string{"session_checkpoint", "session_checkpoints", "session_create", "session_destroy", "session_exec", "session_list", "session_restore"} {
		if i := sort.SearchStrings(names, want); i == len(names) || names[i] != want {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}
	sid := m.create(map[string]any{"transport": "local"})
	if !regexp.MustCompile(`^[0-9]+-[a-z0-9]{4}_local$`).MatchString(sid) {
		t.Errorf("session id %q is not <n>-<tag>_local", sid)
	}
	r := resJSON(t, m.call("session_exec", map[string]any{"session_id": sid, "command": "echo OUT; echo ERR 1>&2; cd /tmp; false"}))
	if r["stdout"] != "OUT" || r["stderr"] != "ERR" || r["exit_code"] != 1.0 || r["cwd"] != "/tmp" || r["truncated"] != false {
		t.Errorf("exec: %v", r)
	}
	if r := resJSON(t, m.call("session_exec", map[string]any{"session_id": sid, "command": "pwd"})); r["stdout"] != "/tmp" {
		t.Errorf("cwd did not persist: %v", r)
	}
	res := m.call("session_exec", map[string]any{"session_id": sid, "command": "echo k=AKIAIOSFODNN7EXAMPLE"})
	out := resText(res)
	if r := resJSON(t, res); r["stdout"] != "k=[REDACTED]" || strings.Contains(out, "AKIA") {
		t.Errorf("not redacted: %s", out)
	}
	if !strings.Contains(resText(m.call("session_exec", map[string]any{"session_id": sid, "command": "echo hi"})), `"exit_code": 0`) {
		t.Error("the command's JSON is not indented as the original's")
	}
	if d := resText(m.call("session_destroy", map[string]any{"session_id": sid})); !strings.Contains(d, `"destroyed":true`) {
		t.Errorf("destroy: %s", d)
	}
	if d := m.call("session_destroy", map[string]any{"session_id": sid}); isErr(d) || !strings.Contains(resText(d), `"destroyed":false`) {
		t.Errorf("second destroy: %s", resText(d))
	}
	if r := m.call("session_exec", map[string]any{"session_id": sid, "command": "echo x"}); !isErr(r) {
		t.Error("exec in a destroyed session succeeded")
	}
	if next := m.create(map[string]any{"transport": "local"}); next == sid {
		t.Errorf("id %s given twice", sid)
	}
}

// TestOriginalSessionCap: EXECKIT_MCP_MAX_SESSIONS caps sessions, also
// against creates sent all at once; a destroy frees a slot; 0 allows none.
func TestOriginalSessionCap(t *testing.T) {
	m := startRaw(t, []string{"EXECKIT_MCP_MAX_SESSIONS=2"})
	a := m.create(map[string]any{"transport": "local"})
	m.create(map[string]any{"transport": "local"})
	if r := m.call("session_create", map[string]any{"transport": "local"}); !isErr(r) || !strings.Contains(resText(r), "limit reached") {
		t.Errorf("third session: %s", resText(r))
	}
	m.call("session_destroy", map[string]any{"session_id": a})
	m.create(map[string]any{"transport": "local"})

	// Thirty creates before reading any answer: two succeed at most.
	p := startRaw(t, []string{"EXECKIT_MCP_MAX_SESSIONS=2"})
	for i := 0; i < 30; i++ {
		p.send(map[string]any{"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
			"params": map[string]any{"name": "session_create", "arguments": map[string]any{"transport": "local"}}})
	}
	ok := 0
	for i := 0; i < 30; i++ {
		if res := p.recv(1000 + i)["result"].(map[string]any); !isErr(res) {
			ok++
		}
	}
	if ok != 2 {
		t.Errorf("%d of 30 concurrent creates succeeded under a cap of 2", ok)
	}

	none := startRaw(t, []string{"EXECKIT_MCP_MAX_SESSIONS=0"})
	if r := none.call("session_create", map[string]any{"transport": "local"}); !isErr(r) || !strings.Contains(resText(r), "limit reached") {
		t.Errorf("a session opened under EXECKIT_MCP_MAX_SESSIONS=0: %s", resText(r))
	}
}

// TestOriginalIdleTTL: EXECKIT_MCP_SESSION_TTL reaps idle sessions (their
// slots come back, their ids are gone, the journal says why); 0 never
// reaps.
func TestOriginalIdleTTL(t *testing.T) {
	m := startRaw(t, []string{"EXECKIT_MCP_MAX_SESSIONS=2", "EXECKIT_MCP_SESSION_TTL=1"})
	a := m.create(map[string]any{"transport": "local"})
	m.create(map[string]any{"transport": "local"})
	// Idle past the TTL: a new session finds the slots free. Polled, a
	// bounded number of times.
	var c map[string]any
	for i := 0; i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		if c = m.call("session_create", map[string]any{"transport": "local"}); !isErr(c) {
			break
		}
	}
	if isErr(c) {
		t.Fatalf("idle sessions were not reaped: %s", resText(c))
	}
	if r := m.call("session_exec", map[string]any{"session_id": a, "command": "echo hi"}); !isErr(r) {
		t.Error("a reaped session still runs commands")
	}

	// The journal says why each session ended.
	m.stop()
	ends := map[string]string{}
	if err := journal.Read(m.journal, func(r *journal.Reader) error {
		ss, err := r.Sessions()
		for _, s := range ss {
			ends[s.ID] = s.EndReason
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ends[a] != "idle" || len(ends) != 3 || ends[resJSON(t, c)["session_id"].(string)] != "shutdown" {
		t.Errorf("session ends: %v", ends)
	}

	keep := startRaw(t, []string{"EXECKIT_MCP_SESSION_TTL=0"})
	sid := keep.create(map[string]any{"transport": "local"})
	time.Sleep(1200 * time.Millisecond)
	keep.create(map[string]any{"transport": "local"})
	if r := resJSON(t, keep.call("session_exec", map[string]any{"session_id": sid, "command": "echo ok"})); r["stdout"] != "ok" {
		t.Errorf("TTL 0 reaped a session: %v", r)
	}
}

// TestOriginalKeyPath: a key_path outside the key directory is refused
// with one message that says nothing of the path.
func TestOriginalKeyPath(t *testing.T) {
	keys := t.TempDir()
	os.WriteFile(filepath.Join(keys, "id_test"), []byte("not a key"), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(keys, "link"))
	m := startRaw(t, []string{"EXECKIT_MCP_KEY_DIR=" + keys})
	for _, p := range []string{"/etc/passwd", "../../../../etc/passwd", "link", "missing", keys} {
		r := m.call("session_create", map[string]any{"transport": "ssh", "host": "127.0.0.1", "user": "x", "key_path": p})
		if !isErr(r) || !strings.Contains(resText(r), "not permitted") || strings.Contains(resText(r), "passwd") || strings.Contains(resText(r), keys) {
			t.Errorf("key_path %s: %s", p, resText(r))
		}
	}
}

// TestOriginalBudgets: the original's budget shape, its report, and its
// error for a bad pattern; grep and a keep mode combine.
func TestOriginalBudgets(t *testing.T) {
	m := startRaw(t, nil)
	sid := m.create(map[string]any{"transport": "local"})
	seq := "for i in $(seq 1 200); do echo line$i; done"
	r := resJSON(t, m.call("session_exec", map[string]any{"session_id": sid, "command": seq,
		"budget": map[string]any{"keep": map[string]any{"mode": "tail", "n": 5}}}))
	b, _ := r["budget"].(map[string]any)
	so, _ := b["stdout"].(map[string]any)
	if !strings.HasSuffix(r["stdout"].(string), "line200") || so["lines_total"] != 200.0 || so["lines_kept"] != 5.0 || so["mode"] != "tail" {
		t.Errorf("tail budget: %v", r)
	}
	r = resJSON(t, m.call("session_exec", map[string]any{"session_id": sid, "command": seq,
		"budget": map[string]any{"grep": map[string]any{"pattern": "^line1[0-9]$", "context": 0}, "keep": map[string]any{"mode": "head", "n": 3}, "max_chars": 1000}}))
	if out := r["stdout"].(string); !strings.Contains(out, "\nline10\nline11\nline12\n") || strings.Contains(out, "line13") {
		t.Errorf("grep then head: %q", out)
	}
	r = resJSON(t, m.call("session_exec", map[string]any{"session_id": sid, "command": seq,
		"budget": map[string]any{"keep": map[string]any{"mode": "head_tail", "head": 1, "tail": 2}}}))
	if out := r["stdout"].(string); !strings.HasPrefix(out, "line1\n") || !strings.HasSuffix(out, "line199\nline200") || strings.Contains(out, "line2\n") {
		t.Errorf("head_tail: %q", out)
	}
	bad := m.call("session_exec", map[string]any{"session_id": sid, "command": "echo hi", "budget": map[string]any{"grep": map[string]any{"pattern": "("}}})
	if !isErr(bad) || !strings.Contains(resText(bad), "invalid grep pattern") {
		t.Errorf("bad pattern: %s", resText(bad))
	}
	// A session default under the original's name.
	sid2 := m.create(map[string]any{"transport": "local", "output_budget": map[string]any{"keep": map[string]any{"mode": "tail", "n": 1}}})
	if r := resJSON(t, m.call("session_exec", map[string]any{"session_id": sid2, "command": "echo a; echo b"})); r["stdout"] != "[… 1 lines omitted …]\nb" {
		t.Errorf("output_budget: %q", r["stdout"])
	}
}

// TestOriginalPolicyAuditNotify: EXECKIT_MCP_POLICY_FILE blocks (by name
// and by pattern) with no side effect; EXECKIT_MCP_AUDIT records open,
// exec, blocked and close; the client hears of each command, a warning for
// a blocked one, and progress when it asked.
func TestOriginalPolicyAuditNotify(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "policy.json")
	os.WriteFile(pf, []byte(`{"allow":[],"deny":["shutdown"],"deny_patterns":["\\brm\\b","\\btouch\\b"]}`), 0o600)
	audit := filepath.Join(dir, "audit.jsonl")
	m := startRaw(t, []string{"EXECKIT_MCP_POLICY_FILE=" + pf, "EXECKIT_MCP_AUDIT=" + audit})
	sid := m.create(map[string]any{"transport": "local"})
	if r := m.call("session_exec", map[string]any{"session_id": sid, "command": "echo hi"}); !strings.Contains(resText(r), `"exit_code": 0`) {
		t.Errorf("allowed command: %s", resText(r))
	}
	sentinel := filepath.Join(dir, "sentinel")
	for _, c := range []string{"rm -rf /tmp/x", "shutdown now", "touch " + sentinel} {
		if r := m.call("session_exec", map[string]any{"session_id": sid, "command": c}, "tok-"+c); !isErr(r) || !strings.Contains(resText(r), "blocked by operator policy") {
			t.Errorf("%s: %s", c, resText(r))
		}
	}
	if _, err := os.Stat(sentinel); err == nil {
		t.Error("a blocked command ran")
	}
	m.call("session_destroy", map[string]any{"session_id": sid})

	var warned, info, progress bool
	for _, n := range m.notifications() {
		p, _ := n["params"].(map[string]any)
		switch n["method"] {
		case "notifications/message":
			d, _ := p["data"].(map[string]any)
			if p["level"] == "warning" && d["blocked"] == "rm -rf /tmp/x" && strings.Contains(fmt.Sprint(d["reason"]), "deny pattern") {
				warned = true
			}
			if p["level"] == "info" && strings.Contains(fmt.Sprint(d["transcript"]), "$ echo hi") {
				info = true
			}
		case "notifications/progress":
			progress = progress || p["progressToken"] == "tok-rm -rf /tmp/x"
		}
	}
	if !warned || !info || !progress {
		t.Errorf("notifications: warning %v, info %v, progress %v: %v", warned, info, progress, m.notifications())
	}

	b, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	blocked := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		kinds = append(kinds, ev["event"].(string))
		if ev["event"] == "blocked" {
			blocked[ev["command"].(string)] = true
		}
		if ev["event"] == "exec" && ev["stdout"] != "hi" {
			t.Errorf("exec event: %v", ev)
		}
		if ev["event"] == "close" && ev["reason"] != "destroyed" {
			t.Errorf("close event: %v", ev)
		}
	}
	if strings.Join(kinds, ",") != "open,exec,blocked,blocked,blocked,close" || !blocked["rm -rf /tmp/x"] || !blocked["shutdown now"] {
		t.Errorf("audit events %v, blocked %v", kinds, blocked)
	}
}

// TestOriginalNotifications: the first log message of a command is one the
// original's clients read (session, transport, and the transcript as lines:
// the prompt, then the output); progress names the command and comes only
// with a token; a failure is a warning.
func TestOriginalNotifications(t *testing.T) {
	m := startRaw(t, nil)
	if caps, _ := m.init["result"].(map[string]any)["capabilities"].(map[string]any); caps["logging"] == nil {
		t.Errorf("no logging capability: %v", caps)
	}
	sid := m.create(map[string]any{"transport": "local"})
	first := func(notes []map[string]any, method string) map[string]any {
		for _, n := range notes {
			if n["method"] == method {
				p, _ := n["params"].(map[string]any)
				return p
			}
		}
		return nil
	}
	before := len(m.notifications())
	m.call("session_exec", map[string]any{"session_id": sid, "command": "echo hello"}, "tok-1")
	notes := m.notifications()[before:]
	msg := first(notes, "notifications/message")
	if msg == nil {
		t.Fatalf("no log message: %v", notes)
	}
	d, _ := msg["data"].(map[string]any)
	lines, isList := d["transcript"].([]any)
	var text []string
	for _, l := range lines {
		text = append(text, fmt.Sprint(l))
	}
	joined := strings.Join(text, "\n")
	if msg["level"] != "info" || d["session"] != sid || d["transport"] != "local" || !isList ||
		!strings.Contains(joined, "$ echo hello") || !strings.Contains(joined, "\nhello") {
		t.Errorf("first log message: %v", msg)
	}
	if p := first(notes, "notifications/progress"); p == nil || p["progressToken"] != "tok-1" || !strings.Contains(fmt.Sprint(p["message"]), "echo hello") {
		t.Errorf("first progress: %v", p)
	}
	before = len(m.notifications())
	m.call("session_exec", map[string]any{"session_id": sid, "command": "false"})
	notes = m.notifications()[before:]
	if msg := first(notes, "notifications/message"); msg == nil || msg["level"] != "warning" {
		t.Errorf("a failure's log message: %v", msg)
	}
	if p := first(notes, "notifications/progress"); p != nil {
		t.Errorf("progress without a token: %v", p)
	}
}

// TestOriginalAuditDir: EXECKIT_MCP_AUDIT_DIR has one file per session,
// <id>-<ms>.jsonl, with open, exec and close; retention removes old files
// at start.
func TestOriginalAuditDir(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "1-abcd_local-1000.jsonl")
	os.WriteFile(old, []byte("{}\n"), 0o600)
	past := time.Now().Add(-30 * 24 * time.Hour)
	os.Chtimes(old, past, past)
	m := startRaw(t, []string{"EXECKIT_MCP_AUDIT_DIR=" + dir, "EXECKIT_MCP_AUDIT_RETENTION_DAYS=7"})
	sid := m.create(map[string]any{"transport": "local"})
	m.call("session_exec", map[string]any{"session_id": sid, "command": "echo hello"})
	m.call("session_destroy", map[string]any{"session_id": sid})
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != 1 || !regexp.MustCompile(`^`+regexp.QuoteMeta(sid)+`-[0-9]+\.jsonl$`).MatchString(filepath.Base(files[0])) {
		t.Fatalf("audit files: %v (session %s)", files, sid)
	}
	b, _ := os.ReadFile(files[0])
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		json.Unmarshal([]byte(line), &ev)
		kinds = append(kinds, fmt.Sprint(ev["event"]))
		if ev["session"] != sid {
			t.Errorf("event of another session: %v", ev)
		}
	}
	if strings.Join(kinds, ",") != "open,exec,close" {
		t.Errorf("events: %v", kinds)
	}
}

// TestOriginalSettingsChecked: a bad setting stops the server with its
// name; an unknown EXECKIT_* variable is warned about; a second policy
// named elsewhere is refused rather than one silently dropped.
func TestOriginalSettingsChecked(t *testing.T) {
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"EXECKIT_MCP_MAX_SESSIONS=many"}, nil, "EXECKIT_MCP_MAX_SESSIONS"},
		{[]string{"EXECKIT_MCP_SESSION_TTL=-5"}, nil, "EXECKIT_MCP_SESSION_TTL"},
		{[]string{"EXECKIT_MCP_INSECURE_ACCEPT_ANY_HOSTKEY=maybe"}, nil, "EXECKIT_MCP_INSECURE_ACCEPT_ANY_HOSTKEY"},
		{[]string{"EXECKIT_MCP_POLICY_FILE=/nonexistent/policy.json"}, nil, "policy.json"},
		{[]string{"EXECKIT_MCP_POLICY_FILE=/a.json"}, []string{"--policy", "/b.json"}, "two policies"},
		{[]string{"EXECKIT_MCP_AUDIT=/nonexistent/dir/audit.jsonl"}, nil, "audit"},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"mcp", "--journal", filepath.Join(t.TempDir(), "j.db")}, c.args...)...)
		cmd.Env = append(append(os.Environ(), "EXECKIT_RUN_MAIN=1"), c.env...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%v %v: %v: %s", c.env, c.args, err, out)
		}
	}
	cmd := exec.Command(os.Args[0], "mcp", "--journal", filepath.Join(t.TempDir(), "j.db"))
	cmd.Env = append(append(os.Environ(), "EXECKIT_RUN_MAIN=1"), "EXECKIT_MCP_MAX_SESION=3")
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "EXECKIT_MCP_MAX_SESION is not a setting") {
		t.Errorf("a misspelt setting passed unnoticed: %s", out)
	}
}

// TestOriginalWatchWeb: EXECKIT_MCP_WATCH_WEB serves the live viewer on
// loopback at EXECKIT_MCP_WATCH_PORT.
func TestOriginalWatchWeb(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m := startRaw(t, []string{"EXECKIT_MCP_WATCH_WEB=1", fmt.Sprintf("EXECKIT_MCP_WATCH_PORT=%d", port)})
	m.create(map[string]any{"transport": "local"})
	url := regexp.MustCompile(`viewer at (http://127\.0\.0\.1:[0-9]+/[^/\s]+/)`).FindStringSubmatch(m.stderr.String())
	if url == nil || !strings.Contains(url[1], fmt.Sprintf(":%d/", port)) {
		t.Fatalf("no viewer on port %d: %s", port, m.stderr.String())
	}
	resp, err := http.Get(url[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("viewer: %s", resp.Status)
	}
}

// TestOriginalWatchWebClient: as the original's clients find the viewer —
// port 0 for any, the address in a log message (http://127.0.0.1:PORT/?t=
// TOKEN), sessions named in its short form (1_local), and the commands
// streamed as server-sent events at /events?t=TOKEN.
func TestOriginalWatchWebClient(t *testing.T) {
	m := startRaw(t, []string{"EXECKIT_MCP_WATCH_WEB=1", "EXECKIT_MCP_WATCH_PORT=0"})
	sid := m.create(map[string]any{"transport": "local"})
	if !strings.HasPrefix(sid, "1-") || !strings.HasSuffix(sid, "_local") {
		t.Fatalf("first session id %q", sid)
	}
	if r := m.call("session_exec", map[string]any{"session_id": "1_local", "command": "echo sse-demo"}); isErr(r) || resJSON(t, r)["stdout"] != "sse-demo" {
		t.Fatalf("exec by the short id: %s", resText(r))
	}
	var addr, viewerPage string
	for _, n := range m.notifications() {
		p, _ := n["params"].(map[string]any)
		if d, _ := p["data"].(map[string]any); n["method"] == "notifications/message" && d["url"] != nil {
			addr, viewerPage = fmt.Sprint(d["url"]), fmt.Sprint(d["viewer"])
		}
	}
	if tok := strings.TrimPrefix(addr[strings.Index(addr, "?t=")+1:], "t="); viewerPage != strings.Replace(addr, "/?t="+tok, "/"+tok+"/", 1) {
		t.Errorf("the page %q does not go with the address %q", viewerPage, addr)
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/\?t=[0-9a-f]+$`).MatchString(addr) {
		t.Fatalf("viewer address %q (notifications %v)", addr, m.notifications())
	}
	resp, err := http.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "<html") {
		t.Errorf("the address in the message: %s", resp.Status)
	}
	if resp, err := http.Get(strings.Replace(addr, "?t=", "?t=x", 1)); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("a wrong token: %s", resp.Status)
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err = client.Get(strings.Replace(addr, "/?t=", "/events?t=", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	found := false
	for i := 0; i < 1000 && !found && sc.Scan(); i++ {
		found = strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"command":"echo sse-demo"`)
	}
	if !found {
		t.Errorf("the command did not come as an event: %v", sc.Err())
	}
}

// TestOriginalTripwire: with no policy at all, the server refuses the
// original's destructive set (on the parsed command) and runs everyday
// commands. They run in a throwaway container, where even a command let
// through by mistake could harm nothing else.
func TestOriginalTripwire(t *testing.T) {
	ctr := dockertest.Container(t)
	m := startRaw(t, nil)
	sid := m.create(map[string]any{"transport": "docker", "container": ctr, "timeout_ms": 5000})
	for _, c := range safetytest.TripwireDestructive {
		r := m.call("session_exec", map[string]any{"session_id": sid, "command": c})
		if !isErr(r) || !strings.Contains(resText(r), "blocked by operator policy (tripwire:") {
			t.Errorf("%q was not refused by the tripwire: %.200s", c, resText(r))
		}
	}
	ran := 0
	for _, c := range safetytest.TripwireEveryday {
		r := m.call("session_exec", map[string]any{"session_id": sid, "command": c})
		if strings.Contains(resText(r), "blocked by operator policy") {
			t.Errorf("%q refused: %s", c, resText(r))
		} else if !isErr(r) {
			ran++
		}
	}
	t.Logf("%d destructive commands refused, %d of %d everyday ones ran", len(safetytest.TripwireDestructive), ran, len(safetytest.TripwireEveryday))
	if ran < 50 {
		t.Errorf("only %d everyday commands ran", ran)
	}
}

// TestMCPOperatorFingerprint: `mcp --host-key-mode fingerprint
// --fingerprint FP` lets agents reach the host with that key and no other.
func TestMCPOperatorFingerprint(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{KeyTypes: []string{"ed25519"}})
	var fp string
	for _, k := range srv.HostKeys {
		fp = xssh.FingerprintSHA256(k)
	}
	flags := []string{"--key-dir", srv.KeyDir, "--identity", srv.Identity, "--ssh-config", "none", "--no-agent", "--host-key-mode", "fingerprint"}
	m := startRaw(t, nil, append(flags, "--fingerprint", fp)...)
	sid := m.create(map[string]any{"transport": "ssh", "target": srv.Target()})
	if r := resJSON(t, m.call("session_exec", map[string]any{"session_id": sid, "command": "echo pinned"})); r["stdout"] != "pinned" {
		t.Errorf("exec: %v", r)
	}
	other := startRaw(t, nil, append(flags, "--fingerprint", "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")...)
	if r := other.call("session_create", map[string]any{"transport": "ssh", "target": srv.Target()}); !isErr(r) || !strings.Contains(resText(r), "host key") {
		t.Errorf("a host whose key is not the pinned one: %s", resText(r))
	}
}

// TestNotificationLevel: a client's logging/setLevel decides which log
// messages it gets.
func TestNotificationLevel(t *testing.T) {
	m := startRaw(t, nil)
	sid := m.create(map[string]any{"transport": "local"})
	m.send(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "logging/setLevel", "params": map[string]any{"level": "warning"}})
	m.recv(7)
	m.call("session_exec", map[string]any{"session_id": sid, "command": "echo quiet"})
	m.call("session_exec", map[string]any{"session_id": sid, "command": "echo loud; exit 3"})
	var got []string
	for _, n := range m.notifications() {
		if n["method"] == "notifications/message" {
			p := n["params"].(map[string]any)
			d, _ := p["data"].(map[string]any)
			got = append(got, fmt.Sprint(p["level"], " ", d["command"]))
		}
	}
	if len(got) != 1 || got[0] != "warning echo loud; exit 3" {
		t.Errorf("log messages at level warning: %q", got)
	}
}

// TestMCPDefaultJournals: servers started at once with the default
// journal each get their own file, and a fixed journal serves run after
// run.
func TestMCPDefaultJournals(t *testing.T) {
	state := t.TempDir()
	var servers []*exec.Cmd
	for i := 0; i < 3; i++ {
		cmd := exec.Command(os.Args[0], "mcp")
		cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1", "XDG_STATE_HOME="+state)
		cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n")
		servers = append(servers, cmd)
	}
	for _, c := range servers {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range servers {
		if err := c.Wait(); err != nil {
			t.Errorf("a server started beside others: %v", err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(state, "execkit", "mcp-*.db"))
	if len(files) != 3 {
		t.Errorf("journals: %v", files)
	}
	fixed := filepath.Join(t.TempDir(), "same.db")
	for i := 0; i < 3; i++ {
		m := startRaw(t, nil, "--journal", fixed)
		m.create(map[string]any{"transport": "local"})
		m.stop()
	}
	if err := journal.Read(fixed, func(r *journal.Reader) error {
		if rep := r.Verify(""); !rep.OK || rep.Runs != 3 {
			t.Errorf("verify after three runs: %+v", rep)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
