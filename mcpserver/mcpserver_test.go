package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	xssh "golang.org/x/crypto/ssh"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/session/sessiontest"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/target/targettest"
	"github.com/execkit/execkit/transport/ssh/sshtest"
)

// connect starts a client on its own in-memory connection to s.
func connect(tb testing.TB, s *Server) *mcp.ClientSession {
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.MCP().Connect(context.Background(), st, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cs.Close() })
	return cs
}

func tool(cs *mcp.ClientSession, name string, args map[string]any, out any) error {
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return err
	}
	if res.IsError {
		b, _ := json.Marshal(res.Content)
		return fmt.Errorf("%s: tool error %s", name, b)
	}
	if out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		return json.Unmarshal(b, out)
	}
	return nil
}

// hammer runs sessions × execs through one server, each session on its own
// connection, all at once, and returns the per-exec latencies and errors.
func hammer(tb testing.TB, sessions, execs int) ([]time.Duration, []error) {
	j, err := journal.Open(filepath.Join(tb.TempDir(), "j.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer j.Close()
	s := New(Settings{Env: target.Env{Journal: j}, MaxSessions: sessions, Defaults: journal.SessionSpec{Policy: &safety.Policy{Deny: []string{"rm"}}}})
	defer s.Close()
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	var wg sync.WaitGroup
	for i := 0; i < sessions; i++ {
		cs := connect(tb, s)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var info SessionInfo
			if err := tool(cs, "session_create", map[string]any{}, &info); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			for k := 0; k < execs; k++ {
				want := fmt.Sprintf("%d-%d\n", i, k)
				var r struct{ Stdout string }
				t0 := time.Now()
				err := tool(cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": fmt.Sprintf("echo %d-%d", i, k)}, &r)
				d := time.Since(t0)
				if err == nil && r.Stdout != want {
					err = fmt.Errorf("session %s: got %q, want %q", info.SessionID, r.Stdout, want)
				}
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
			if err := tool(cs, "session_destroy", map[string]any{"session_id": info.SessionID}, nil); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if n := len(s.sessions); n != 0 {
		errs = append(errs, fmt.Errorf("%d sessions left open", n))
	}
	var entries int
	j.View(func(r *journal.Reader) error {
		es, err := r.Entries(journal.Filter{})
		entries = len(es)
		return err
	})
	if entries != sessions*execs {
		errs = append(errs, fmt.Errorf("journal has %d entries, want %d", entries, sessions*execs))
	}
	return lat, errs
}

// TestConcurrentSessions: 20 sessions × 20 commands at once through one
// server, each on its own connection: every output where it belongs, every
// command journaled, nothing left open.
func TestConcurrentSessions(t *testing.T) {
	_, errs := hammer(t, 20, 20)
	for _, err := range errs {
		t.Error(err)
	}
}

// BenchmarkConcurrentSessions is the target run: 100 sessions × 100
// commands at once through one server, with the journal: zero errors, and
// the per-command p50/p99.
func BenchmarkConcurrentSessions(b *testing.B) {
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		lat, errs := hammer(b, 100, 100)
		total := time.Since(t0)
		if len(errs) > 0 {
			b.Fatalf("%d errors, first: %v", len(errs), errs[0])
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat))/total.Seconds(), "commands/s")
		b.ReportMetric(float64(len(errs)), "errors")
	}
}

// TestAgentNarrowsPolicy: an agent's allow and deny lists narrow the
// operator's policy and never widen it.
func TestAgentNarrowsPolicy(t *testing.T) {
	op := &safety.Policy{Allow: []string{"ls", "cat", "git"}, Deny: []string{"curl"}}
	s := New(Settings{Defaults: journal.SessionSpec{Policy: op}})
	defer s.Close()
	spec := func(s *Server, in createIn) journal.SessionSpec {
		t.Helper()
		sp, err := s.spec(in)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	p := spec(s, createIn{Allow: []string{"cat", "rm"}, Deny: []string{"git"}}).Policy
	for cmd, want := range map[string]bool{"cat x": true, "ls": false, "rm x": false, "git status": false, "curl x": false} {
		if got := p.Check(cmd).Allowed; got != want {
			t.Errorf("%q allowed = %v, want %v", cmd, got, want)
		}
	}
	open := New(Settings{})
	defer open.Close()
	if p := spec(open, createIn{}).Policy; !p.Empty() {
		t.Error("no policy at all should stay empty")
	}
	if p := spec(open, createIn{Allow: []string{"ls"}}).Policy; p.Check("cat x").Allowed {
		t.Error("the agent's allow list did not narrow an open policy")
	}
}

func TestLimitsAndTargets(t *testing.T) {
	s := New(Settings{MaxSessions: 1, Transports: []string{"local", "ssh"}, Targets: []string{"deploy@build*"}})
	defer s.Close()
	cs := connect(t, s)
	if err := tool(cs, "session_create", map[string]any{"transport": "docker", "target": "x"}, nil); err == nil {
		t.Error("a transport the operator did not allow was accepted")
	}
	if err := tool(cs, "session_create", map[string]any{"transport": "ssh", "target": "root@elsewhere"}, nil); err == nil {
		t.Error("a target the operator did not allow was accepted")
	}
	if err := tool(cs, "session_create", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tool(cs, "session_create", map[string]any{}, nil); err == nil {
		t.Error("more sessions than MaxSessions")
	}
	// A pattern with a user needs that user; one without takes any, with
	// the user given in the address or apart (host, user).
	p := New(Settings{Targets: []string{"deploy@build*", "web-*"}})
	defer p.Close()
	for addr, ok := range map[string]bool{"deploy@buildbox": true, "deploy@build-2:2222": true, "root@buildbox": false,
		"buildbox": false, "web-1": true, "ci@web-1": true, "ci@db-1": false} {
		if got := p.allowed("ssh", addr) == nil; got != ok {
			t.Errorf("target %s allowed = %v, want %v", addr, got, ok)
		}
	}
	sp, err := p.spec(createIn{Transport: "ssh", Host: "buildbox", User: "deploy", Port: 2200})
	if err != nil || sp.Address != "deploy@buildbox:2200" || p.allowed("ssh", sp.Address) != nil {
		t.Errorf("host, user and port: %q %v", sp.Address, err)
	}
}

// TestSSHAlias: an agent's session_create with an alias of the operator's
// SSH client config reaches the host the alias names, with its user, port
// and identity (MCP sessions used to ignore the config and fail).
func TestSSHAlias(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	_, set := targettest.SSH(t, srv)
	conf := filepath.Join(t.TempDir(), "config")
	alias := fmt.Sprintf("Host buildbox\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n", srv.Host, srv.Port, srv.User, set.Identities[0])
	if err := os.WriteFile(conf, []byte(alias), 0o600); err != nil {
		t.Fatal(err)
	}
	set.ConfigFile, set.Identities = conf, nil // the identity comes from the alias
	s := New(Settings{Env: target.Env{SSH: set}})
	defer s.Close()
	cs := connect(t, s)
	var info SessionInfo
	if err := tool(cs, "session_create", map[string]any{"transport": "ssh", "target": "buildbox"}, &info); err != nil {
		t.Fatal(err)
	}
	if info.Transport != "ssh" || info.Target != srv.Target() {
		t.Errorf("session through the alias: %+v, want ssh %s", info, srv.Target())
	}
	var r struct{ Stdout string }
	if err := tool(cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "echo over-ssh"}, &r); err != nil || r.Stdout != "over-ssh\n" {
		t.Errorf("exec through the alias: %q %v", r.Stdout, err)
	}
	if err := tool(cs, "session_create", map[string]any{"transport": "ssh", "target": "not-an-alias.invalid"}, nil); err == nil {
		t.Error("a host that resolves nowhere opened a session")
	}
}

// TestFrameBreakersThroughMCP: after each command that attacks the shell
// frame, the agent's next command in the same session succeeds at once,
// with the session's state.
func TestFrameBreakersThroughMCP(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	breakers := append(append([]string(nil), sessiontest.FrameBreakers...), sessiontest.FrameProbes...)
	s := New(Settings{Env: target.Env{Journal: j}, MaxSessions: len(breakers) + 1})
	defer s.Close()
	cs := connect(t, s)
	for _, breaker := range breakers {
		var info SessionInfo
		if err := tool(cs, "session_create", map[string]any{"shell": "bash"}, &info); err != nil {
			t.Fatal(err)
		}
		if err := tool(cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "export EK_M=kept"}, nil); err != nil {
			t.Fatal(err)
		}
		tool(cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": breaker, "timeout_ms": 5000}, nil)
		var out struct {
			Stdout   string `json:"stdout"`
			ExitCode int    `json:"exit_code"`
		}
		if err := tool(cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": `echo "$EK_M"`}, &out); err != nil || out.Stdout != "kept\n" || out.ExitCode != 0 {
			t.Errorf("after %q: %+v %v", breaker, out, err)
		}
	}
}

// TestSessionLifecycleLikeTheOriginal: ids are never given twice (not after
// a destroy), destroying twice answers destroyed=false, a session without a
// workspace lists no checkpoints, and empty lists are [] on the wire.
func TestSessionLifecycleLikeTheOriginal(t *testing.T) {
	s := New(Settings{})
	defer s.Close()
	cs := connect(t, s)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		var info SessionInfo
		if err := tool(cs, "session_create", map[string]any{}, &info); err != nil {
			t.Fatal(err)
		}
		if seen[info.SessionID] {
			t.Fatalf("session id %q given twice", info.SessionID)
		}
		seen[info.SessionID] = true
		var raw map[string]any
		if err := tool(cs, "session_checkpoints", map[string]any{"session_id": info.SessionID}, &raw); err != nil {
			t.Fatalf("session_checkpoints without a workspace: %v", err)
		}
		if list, ok := raw["checkpoints"].([]any); !ok || len(list) != 0 {
			t.Errorf("checkpoints without a workspace: %#v, want []", raw["checkpoints"])
		}
		for round, want := range []bool{true, false} {
			var out struct {
				Destroyed bool   `json:"destroyed"`
				SessionID string `json:"session_id"`
			}
			if err := tool(cs, "session_destroy", map[string]any{"session_id": info.SessionID}, &out); err != nil {
				t.Fatalf("destroy %d: %v", round, err)
			}
			if out.Destroyed != want || out.SessionID != info.SessionID {
				t.Errorf("destroy %d: %+v, want destroyed=%v", round, out, want)
			}
		}
	}
	var raw map[string]any
	if err := tool(cs, "session_list", map[string]any{}, &raw); err != nil {
		t.Fatal(err)
	}
	if list, ok := raw["sessions"].([]any); !ok || len(list) != 0 {
		t.Errorf("an empty session list is %#v, want []", raw["sessions"])
	}
	// Another server on the same journal gives other ids.
	other := New(Settings{})
	defer other.Close()
	var info SessionInfo
	if err := tool(connect(t, other), "session_create", map[string]any{}, &info); err != nil {
		t.Fatal(err)
	}
	if seen[info.SessionID] {
		t.Errorf("a second server gave id %q again", info.SessionID)
	}
}

// TestSSHSessionOptions: the original's per-session SSH options over a
// real sshd: a key_path inside the operator's key directory, a pinned
// fingerprint (the operator's known_hosts knows nothing of the host), a
// password that is used, redacted from output and never journaled.
func TestSSHSessionOptions(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Options{})
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	jpath := filepath.Join(t.TempDir(), "j.db")
	j, err := journal.Open(jpath, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Settings{Env: target.Env{Journal: j, SSH: target.SSHSettings{KeyDir: srv.KeyDir, KnownHosts: []string{empty}, NoAgent: true, ConfigFile: "none"}}})
	cs := connect(t, s)
	base := map[string]any{"host": srv.Host, "port": srv.Port, "user": srv.User, "key_path": filepath.Base(srv.Identity)}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if err := tool(cs, "session_create", base, nil); err == nil || !strings.Contains(err.Error(), "host key") {
		t.Errorf("a host known nowhere, with no pin: %v", err)
	}
	if err := tool(cs, "session_create", with(map[string]any{"fingerprint": "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"}), nil); err == nil || !strings.Contains(err.Error(), "host key") {
		t.Errorf("a wrong pin: %v", err)
	}
	var fps []string
	for _, k := range srv.HostKeys {
		fps = append(fps, xssh.FingerprintSHA256(k))
	}
	const pw = "hunter2-Pw-4f9a1c"
	var info SessionInfo
	for _, fp := range fps {
		if err = tool(cs, "session_create", with(map[string]any{"fingerprint": fp, "password": pw}), &info); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("pinned to the server's own key: %v", err)
	}
	if !strings.Contains(info.SessionID, "_ssh_"+srv.User+"@") {
		t.Errorf("session id %q does not say where it runs", info.SessionID)
	}
	var r struct{ Stdout string }
	if err := tool(cs, "session_exec", map[string]any{"session_id": info.SessionID, "command": "echo " + pw}, &r); err != nil || strings.Contains(r.Stdout, pw) {
		t.Errorf("the password in output: %q %v", r.Stdout, err)
	}
	tool(cs, "session_destroy", map[string]any{"session_id": info.SessionID}, nil)
	s.Close()
	j.Close()
	b, _ := os.ReadFile(jpath)
	if bytes.Contains(b, []byte(pw)) {
		t.Error("the password is in the journal")
	}
	if !bytes.Contains(b, []byte(`"end_reason":"destroyed"`)) {
		t.Error("the journal does not say the session was destroyed")
	}
	for _, bad := range []map[string]any{
		{"transport": "local", "password": pw},
		{"host": "h", "target": "u@h"},
		{"host": srv.Host, "password": pw, "password_env": "HOME"},
		{"host": srv.Host, "key_path": "../" + filepath.Base(srv.KeyDir) + "/" + filepath.Base(srv.Identity) + "/.."},
		{"host": srv.Host, "fingerprint": "MD5:aa:bb"},
		{"host": srv.Host, "port": 70000},
	} {
		s2 := New(Settings{Env: target.Env{SSH: target.SSHSettings{KeyDir: srv.KeyDir, NoAgent: true, ConfigFile: "none"}}})
		if err := tool(connect(t, s2), "session_create", bad, nil); err == nil {
			t.Errorf("%v was accepted", bad)
		}
		s2.Close()
	}
}

// TestToolMetadata: every tool has a title and hints, every schema type is
// one type (clients with single-type schema dialects take them), and the
// closed sets of values are enums.
func TestToolMetadata(t *testing.T) {
	s := New(Settings{})
	defer s.Close()
	res, err := connect(t, s).ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var multi []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["type"].([]any); ok {
				multi = append(multi, path)
			}
			for k, c := range x {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		}
	}
	readOnly := map[string]bool{"session_list": true, "session_checkpoints": true, "journal_log": true}
	for _, tl := range res.Tools {
		if tl.Title == "" || tl.Annotations == nil || tl.Annotations.ReadOnlyHint != readOnly[tl.Name] {
			t.Errorf("%s: title %q, annotations %+v", tl.Name, tl.Title, tl.Annotations)
		}
		if !readOnly[tl.Name] && tl.Name != "session_checkpoint" && tl.Name != "session_create" &&
			(tl.Annotations.DestructiveHint == nil || !*tl.Annotations.DestructiveHint) {
			t.Errorf("%s is not marked destructive", tl.Name)
		}
		b, _ := json.Marshal(map[string]any{"in": tl.InputSchema, "out": tl.OutputSchema})
		var v any
		json.Unmarshal(b, &v)
		walk(tl.Name, v)
		if tl.Name == "session_create" {
			var both struct {
				In struct {
					Properties map[string]struct{ Enum []string } `json:"properties"`
				} `json:"in"`
			}
			json.Unmarshal(b, &both)
			in := both.In
			if strings.Join(in.Properties["transport"].Enum, ",") != "local,ssh,docker" || len(in.Properties["checkpoint"].Enum) != 3 {
				t.Errorf("session_create enums: %+v", in.Properties)
			}
		}
	}
	if len(multi) > 0 {
		t.Errorf("schema types that are lists: %v", multi)
	}
}

// TestNotificationsWhileRunning, with the official Go SDK client: a long
// command's output reaches the client while it runs (the command waits
// for a file the client's handler makes when it sees the first line), then
// a warning for its failure, with progress notifications in order; at
// level warning the client gets no info message.
func TestNotificationsWhileRunning(t *testing.T) {
	s := New(Settings{})
	defer s.Close()
	flag := filepath.Join(t.TempDir(), "seen")
	var mu sync.Mutex
	var logs []*mcp.LoggingMessageParams
	var progress []*mcp.ProgressNotificationParams
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.MCP().Connect(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	client := mcp.NewClient(&mcp.Implementation{Name: "sdk-client"}, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
			mu.Lock()
			defer mu.Unlock()
			logs = append(logs, r.Params)
			if d, ok := r.Params.Data.(map[string]any); ok && strings.Contains(fmt.Sprint(d["output"]), "first-line") {
				os.WriteFile(flag, nil, 0o600)
			}
		},
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			progress = append(progress, r.Params)
		},
	})
	cs, err := client.Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var info SessionInfo
	if err := tool(cs, "session_create", map[string]any{}, &info); err != nil {
		t.Fatal(err)
	}
	cmd := `echo first-line; i=0; while [ ! -e ` + flag + ` ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; ` +
		`[ -e ` + flag + ` ] && echo seen-while-running; echo last-line >&2; exit 2`
	// The SDK's client speaks the 2026-07-28 protocol, where a call says
	// which log messages it wants in its _meta.
	params := &mcp.CallToolParams{Name: "session_exec", Arguments: map[string]any{"session_id": info.SessionID, "command": cmd},
		Meta: mcp.Meta{mcp.MetaKeyLogLevel: "info"}}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(context.Background(), params)
	if err != nil || res.IsError {
		t.Fatalf("exec: %v %v", err, res)
	}
	var out struct{ Stdout string }
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &out)
	if !strings.Contains(out.Stdout, "seen-while-running") {
		t.Errorf("the first line did not reach the client while the command ran: %q", out.Stdout)
	}
	// Notifications sent before the answer may still be on their way.
	for i := 0; i < 200; i++ {
		mu.Lock()
		n := len(progress)
		done := n > 0 && progress[n-1].Progress == progress[n-1].Total
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	var outputs, warnings int
	for _, l := range logs {
		d, _ := l.Data.(map[string]any)
		switch {
		case l.Level == "info" && d["output"] != nil:
			outputs++
		case l.Level == "warning" && d["exit_code"] == 2.0:
			warnings++
		}
	}
	if outputs < 2 || warnings != 1 {
		t.Errorf("%d output messages, %d warnings: %+v", outputs, warnings, logs)
	}
	for i, p := range progress {
		if p.ProgressToken != "tok-1" || i > 0 && p.Progress <= progress[i-1].Progress {
			t.Errorf("progress %d: %+v", i, p)
		}
	}
	if n := len(progress); n < 2 || progress[n-1].Total != progress[n-1].Progress {
		t.Errorf("progress: %+v", progress)
	}
	logs = nil
	mu.Unlock()

	for _, c := range []string{"echo quiet", "echo loud; exit 4"} {
		cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "session_exec",
			Arguments: map[string]any{"session_id": info.SessionID, "command": c}, Meta: mcp.Meta{mcp.MetaKeyLogLevel: "warning"}})
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, l := range logs {
		if l.Level != "warning" {
			t.Errorf("below the level set: %+v", l)
		}
	}
	if len(logs) != 1 {
		t.Errorf("at level warning: %+v", logs)
	}
}

// TestExecFenceThroughMCP: with the operator's policy denying rm, a
// session an agent opens has the exec fence on (session_create says so),
// a script's rm is refused at its start, the result lists the refusal and
// the canary stays.
func TestExecFenceThroughMCP(t *testing.T) {
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		t.Skip("no /proc")
	}
	s := New(Settings{Defaults: journal.SessionSpec{Policy: &safety.Policy{Deny: []string{"rm"}}}})
	defer s.Close()
	cs := connect(t, s)
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	os.WriteFile(canary, nil, 0o600)
	var info SessionInfo
	if err := tool(cs, "session_create", map[string]any{"cwd": dir}, &info); err != nil {
		t.Fatal(err)
	}
	if info.Enforce != "exec" {
		t.Skipf("the exec fence does not run here: enforce %q", info.Enforce)
	}
	var r session.Result
	if err := tool(cs, "session_exec", map[string]any{"session_id": info.SessionID,
		"command": `printf 'rm canary\n' > s.sh; sh s.sh; echo "went on $?"`}, &r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("the canary is gone: %+v", r)
	}
	if r.Stdout != "went on 126\n" || len(r.Fence) != 1 || r.Fence[0].Rule != "deny:rm" || r.Fence[0].Command != "rm canary" {
		t.Errorf("result %+v", r)
	}
}
