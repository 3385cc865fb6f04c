package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/execkit/execkit/journal"
)

// mcpClient starts `execkit mcp` (this test binary) with args and connects
// the Go SDK's client to it over stdio.
func mcpClient(t *testing.T, args ...string) *mcp.ClientSession {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"mcp"}, args...)...)
	cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
	cmd.Stderr = os.Stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "execkit-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return cs
}

// call calls a tool and decodes its structured result into out.
func call(t *testing.T, cs *mcp.ClientSession, tool string, args any, out any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if out != nil && !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: decode %s: %v", tool, b, err)
		}
	}
	return res
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestMCPEndToEnd drives `execkit mcp` over stdio with the Go SDK's client.
func TestMCPEndToEnd(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "mcp.db")
	ws := filepath.Join(dir, "ws")
	os.Mkdir(ws, 0o755)
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	cs := mcpClient(t, "--journal", jpath, "--deny", "rm")

	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
		if tl.Description == "" || tl.InputSchema == nil {
			t.Errorf("tool %s has no description or schema", tl.Name)
		}
	}
	sort.Strings(names)
	if got := strings.Join(names, " "); got != "journal_log session_checkpoint session_checkpoints session_create session_destroy session_exec session_list session_restore" {
		t.Errorf("tools: %s", got)
	}

	var info struct {
		SessionID string `json:"session_id"`
		Workspace string `json:"workspace"`
	}
	call(t, cs, "session_create", map[string]any{"transport": "local", "workspace": ws, "cwd": ws}, &info)
	if info.SessionID == "" || info.Workspace == "" {
		t.Fatalf("session_create: %+v", info)
	}
	type result struct {
		Stdout, Stderr string
		ExitCode       int    `json:"exit_code"`
		Cwd            string `json:"cwd"`
		Entry          uint64 `json:"entry"`
		Checkpoint     string `json:"checkpoint"`
	}
	exec := func(cmd string) (result, *mcp.CallToolResult) {
		var r result
		res := call(t, cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": cmd}, &r)
		return r, res
	}
	tmp, _ := filepath.EvalSymlinks(os.TempDir())
	exec("cd " + tmp)
	if r, res := exec("pwd"); r.Stdout != tmp+"\n" || res.IsError || !strings.Contains(text(res), tmp) {
		t.Errorf("pwd after cd: %+v %q", r, text(res))
	}
	if r, res := exec("echo out; echo err >&2; exit 3"); r.Stdout != "out\n" || r.Stderr != "err\n" || r.ExitCode != 3 || res.IsError {
		t.Errorf("split streams and exit code: %+v (error %v)", r, res.IsError)
	}
	if _, res := exec("rm -rf " + ws); !res.IsError || !strings.Contains(text(res), "blocked by operator policy") {
		t.Errorf("blocked command: error %v, %q", res.IsError, text(res))
	}
	if _, err := os.Stat(ws); err != nil {
		t.Fatal("the blocked command ran")
	}

	// Checkpoint and restore.
	exec("cd " + ws + " && echo v1 > f.txt")
	var cp struct{ ID string }
	call(t, cs, "session_checkpoint", map[string]any{"session_id": info.SessionID, "label": "v1"}, &cp)
	r, _ := exec("echo v2 > f.txt; echo new > g.txt")
	if r.Checkpoint == "" {
		t.Error("a command that writes took no checkpoint")
	}
	var restored struct {
		Changes []struct{ Path, Kind string }
		Entry   uint64
	}
	if res := call(t, cs, "session_restore", map[string]any{"session_id": info.SessionID, "checkpoint": cp.ID}, &restored); res.IsError {
		t.Fatalf("restore: %s", text(res))
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "f.txt")); string(b) != "v1\n" {
		t.Errorf("after restore f.txt = %q", b)
	}
	if _, err := os.Stat(filepath.Join(ws, "g.txt")); err == nil {
		t.Error("after restore g.txt is still there")
	}
	if len(restored.Changes) != 2 || restored.Entry == 0 {
		t.Errorf("restore: %+v", restored)
	}
	var cps struct{ Checkpoints []struct{ ID string } }
	call(t, cs, "session_checkpoints", map[string]any{"session_id": info.SessionID}, &cps)
	if len(cps.Checkpoints) < 2 {
		t.Errorf("checkpoints: %+v", cps)
	}
	var list struct {
		Sessions []struct {
			SessionID string `json:"session_id"`
		}
	}
	call(t, cs, "session_list", map[string]any{}, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].SessionID != info.SessionID {
		t.Errorf("session_list: %+v", list)
	}
	var log struct {
		Entries []struct{ Command, Status string }
	}
	call(t, cs, "journal_log", map[string]any{"limit": 50}, &log)
	call(t, cs, "session_destroy", map[string]any{"session_id": info.SessionID}, nil)
	if res := call(t, cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "true"}, nil); !res.IsError {
		t.Error("exec in a destroyed session succeeded")
	}
	if res := call(t, cs, "session_create", map[string]any{"transport": "telnet"}, nil); !res.IsError {
		t.Error("an unknown transport was accepted")
	}
	cs.Close()

	// The journal has every step, sealed.
	want := []string{"cd " + tmp, "pwd", "echo out; echo err >&2; exit 3", "rm -rf " + ws, "echo v2 > f.txt; echo new > g.txt", "restore " + cp.ID}
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := journal.Read(jpath, func(r *journal.Reader) error {
			es, err := r.Entries(journal.Filter{})
			got = got[:0]
			for _, e := range es {
				got = append(got, e.Command)
			}
			if _, sealed := r.Seal(); !sealed {
				return os.ErrNotExist
			}
			return err
		})
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("journal: %v", err)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("journal lacks %q; has:\n%s", w, joined)
		}
	}
	if len(log.Entries) < len(want)-1 {
		t.Errorf("journal_log returned %d entries", len(log.Entries))
	}
}

// TestMCPInsideRecord: an MCP agent started inside execkit record reaches
// the recorder's sessions and journal through `execkit mcp`, and the
// sessions it opens there get record's settings (they used to get none of
// --timeout, --max-output, --budget or the policy).
func TestMCPInsideRecord(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "rec.db")
	sockFile := filepath.Join(dir, "sock")
	rec := exec.Command(os.Args[0], "record", "--journal", jpath, "--cwd", dir,
		"--timeout", "1s", "--max-output", "100", "--deny", "rm", "--budget", "tail", "--lines", "3", "--",
		"sh", "-c", `printf '%s' "$EXECKIT_SOCKET" > `+sockFile+`; while [ ! -e `+filepath.Join(dir, "stop")+` ]; do sleep 0.05; done`)
	rec.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
	recErr := &syncBuffer{}
	rec.Stderr = recErr
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	// Bounded in time, generously: on a loaded machine two starts of this
	// (race-built) binary come first, record's and its capture helper's.
	var sock []byte
	for deadline := time.Now().Add(time.Minute); len(sock) == 0 && time.Now().Before(deadline); {
		sock, _ = os.ReadFile(sockFile)
		time.Sleep(25 * time.Millisecond)
	}
	if len(sock) == 0 {
		t.Fatalf("the agent never started: %s", recErr.String())
	}
	if st, err := os.Stat(string(sock)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v %v", st.Mode(), err)
	}
	t.Setenv("EXECKIT_SOCKET", string(sock))
	cs := mcpClient(t)
	var r struct {
		Stdout string
		Entry  uint64
	}
	call(t, cs, "session_exec", map[string]any{"session_id": "default", "command": "cd / && pwd"}, &r)
	call(t, cs, "session_exec", map[string]any{"session_id": "default", "command": "pwd"}, &r)
	if r.Stdout != "/\n" || r.Entry != 2 {
		t.Errorf("through the recorder: %+v", r)
	}
	// A session the agent opens has record's settings.
	var info struct {
		SessionID string `json:"session_id"`
	}
	call(t, cs, "session_create", map[string]any{}, &info)
	var slow struct {
		TimedOut bool `json:"timed_out"`
	}
	call(t, cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "sleep 30; echo late"}, &slow)
	if !slow.TimedOut {
		t.Error("record's --timeout 1s did not apply to a session the agent opened")
	}
	if res := call(t, cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "rm -f x"}, nil); !res.IsError || !strings.Contains(text(res), "deny:rm") {
		t.Errorf("record's --deny rm did not apply: %s", text(res))
	}
	var flood struct {
		Stdout     string
		StdoutInfo struct {
			Bytes, Kept int64
		} `json:"stdout_info"`
	}
	call(t, cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "seq 1 1000"}, &flood)
	if flood.StdoutInfo.Bytes != 3893 || flood.StdoutInfo.Kept > 100 || !strings.HasSuffix(flood.Stdout, "999\n1000\n") {
		t.Errorf("record's --max-output 100 and --budget tail: %+v", flood)
	}
	cs.Close()
	os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644)
	if err := rec.Wait(); err != nil {
		t.Fatalf("record: %v: %s", err, recErr.String())
	}
	if !strings.Contains(recErr.String(), "recorded 5 commands") {
		t.Errorf("summary: %s", recErr.String())
	}
	err := journal.Read(jpath, func(r *journal.Reader) error {
		es, err := r.Entries(journal.Filter{})
		if len(es) != 5 || es[0].Command != "cd / && pwd" {
			t.Errorf("journal entries: %+v", es)
		}
		ss, _ := r.Sessions()
		for _, s := range ss {
			if sp := s.Spec; sp.Timeout() != time.Second || sp.MaxOutputBytes != 100 || sp.Budget.Mode != "tail" || sp.Policy == nil || sp.Policy.Check("rm x").Allowed {
				t.Errorf("session %s recorded as %+v", s.ID, sp)
			}
		}
		if _, sealed := r.Seal(); !sealed {
			t.Error("journal not sealed")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bearer adds a token to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPOverHTTP: Streamable HTTP on loopback, with the bearer token on
// every request; without it, 401.
func TestMCPOverHTTP(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(os.Args[0], "mcp", "--journal", filepath.Join(dir, "j.db"), "--http", addr, "--token-env", "EK_TOKEN")
	srv.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1", "EK_TOKEN=s3cret-token")
	var stderr strings.Builder
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		if strings.Contains(stderr.String(), "s3cret-token") {
			t.Error("the token from --token-env was printed")
		}
		// An address already taken fails before any journal is made.
		taken := filepath.Join(dir, "taken.db")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		bad := exec.Command(os.Args[0], "mcp", "--journal", taken, "--http", ln.Addr().String())
		bad.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
		if out, err := bad.CombinedOutput(); err == nil {
			t.Errorf("a taken address: %s", out)
		}
		if _, err := os.Stat(taken); err == nil {
			t.Error("a failed --http left a journal behind")
		}
	}()
	url := "http://" + addr + "/"
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatalf("%v (server: %s)", err, stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("without the token: %s, WWW-Authenticate %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	// The client is wired as `execkit setup --url` says: its address, and
	// the header with the token from the environment variable.
	setupOut, _, err := execkitOut(t, "setup", "--url", url, "--token-env", "EK_TOKEN", "claude")
	if err != nil {
		t.Fatalf("setup --url: %v", err)
	}
	var wired struct {
		MCPServers map[string]struct {
			Type    string            `json:"type"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(setupOut), &wired); err != nil {
		t.Fatalf("setup --url: %v %s", err, setupOut)
	}
	entry := wired.MCPServers["execkit"]
	auth, ok := strings.CutPrefix(entry.Headers["Authorization"], "Bearer ")
	if entry.Type != "http" || entry.URL != url || !ok || os.Expand(auth, func(string) string { return "" }) != "" {
		t.Fatalf("setup --url: %+v", entry)
	}
	token := os.Expand(auth, func(v string) string { return map[string]string{"EK_TOKEN": "s3cret-token"}[v] })
	client := mcp.NewClient(&mcp.Implementation{Name: "http-test"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: entry.URL,
		HTTPClient: &http.Client{Transport: bearer{token}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("connect: %v (server: %s)", err, stderr.String())
	}
	defer cs.Close()
	var info struct {
		SessionID string `json:"session_id"`
	}
	call(t, cs, "session_create", map[string]any{}, &info)
	var r struct{ Stdout string }
	call(t, cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "echo over-http"}, &r)
	if r.Stdout != "over-http\n" {
		t.Errorf("exec over HTTP: %q", r.Stdout)
	}
	// Only loopback addresses are served.
	var out, errb bytes.Buffer
	if code := run([]string{"execkit", "mcp", "--journal", filepath.Join(dir, "k.db"), "--http", "0.0.0.0:0"}, strings.NewReader(""), &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "only loopback") {
		t.Errorf("non-loopback address: %d %s", code, errb.String())
	}
}
