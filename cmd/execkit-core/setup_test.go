package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestSetupFormats: each client's configuration, parsed by a parser of
// its format, has the shape that client documents, names this binary and
// passes the flags on; a path with a space stays one argument.
func TestSetupFormats(t *testing.T) {
	run := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], append([]string{"setup"}, args...)...)
		cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("setup %v: %v %s", args, err, errb.String())
		}
		return out.String(), errb.String()
	}
	flags := []string{"--", "--deny", "rm", "--known-hosts", "/tmp/my hosts"}
	wantArgs := []string{"mcp", "--deny", "rm", "--known-hosts", "/tmp/my hosts"}
	type server struct {
		Type    string            `json:"type"`
		Command string            `json:"command"`
		Args    []string          `json:"args"`
		Env     map[string]string `json:"env"`
		Timeout int64             `json:"timeout"`
	}
	check := func(name string, s server) {
		t.Helper()
		if s.Command == "" || !strings.HasPrefix(s.Command, "/") || strings.Join(s.Args, "|") != strings.Join(wantArgs, "|") {
			t.Errorf("%s: %+v", name, s)
		}
	}
	for _, name := range []string{"claude", "claude-desktop", "cursor", "windsurf", "gemini"} {
		out, _ := run(append([]string{name}, flags...)...)
		var cfg struct {
			MCPServers map[string]server `json:"mcpServers"`
		}
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", name, err, out)
		}
		check(name, cfg.MCPServers["execkit"])
		if name == "gemini" && cfg.MCPServers["execkit"].Timeout != 660000 {
			t.Errorf("gemini timeout %d ms", cfg.MCPServers["execkit"].Timeout)
		}
	}
	out, _ := run(append([]string{"vscode"}, flags...)...)
	var vs struct {
		Servers map[string]server `json:"servers"`
	}
	if err := json.Unmarshal([]byte(out), &vs); err != nil || vs.Servers["execkit"].Type != "stdio" {
		t.Errorf("vscode: %v %s", err, out)
	}
	check("vscode", vs.Servers["execkit"])
	out, _ = run(append([]string{"zed"}, flags...)...)
	var zed struct {
		ContextServers map[string]server `json:"context_servers"`
	}
	if err := json.Unmarshal([]byte(out), &zed); err != nil {
		t.Errorf("zed: %v %s", err, out)
	}
	check("zed", zed.ContextServers["execkit"])
	out, _ = run(append([]string{"codex"}, flags...)...)
	var codex struct {
		MCPServers map[string]struct {
			Command           string   `toml:"command"`
			Args              []string `toml:"args"`
			ToolTimeoutSec    int      `toml:"tool_timeout_sec"`
			StartupTimeoutSec int      `toml:"startup_timeout_sec"`
		} `toml:"mcp_servers"`
	}
	if _, err := toml.Decode(out, &codex); err != nil {
		t.Fatalf("codex: not TOML: %v\n%s", err, out)
	}
	cx := codex.MCPServers["execkit"]
	check("codex", server{Command: cx.Command, Args: cx.Args})
	if cx.ToolTimeoutSec <= 600 {
		t.Errorf("codex tool_timeout_sec %d is not above the command timeout", cx.ToolTimeoutSec)
	}
	// The claude mcp add line, run by a shell, gives the same words.
	_, hint := run(append([]string{"claude"}, flags...)...)
	line := hint[strings.Index(hint, "claude mcp add execkit -- ")+len("claude mcp add execkit -- "):]
	line = line[:strings.Index(line, "   (")]
	words, err := exec.Command("bash", "-c", `for w in `+line+`; do printf '%s\n' "$w"; done`).Output()
	if got := strings.Split(strings.TrimSpace(string(words)), "\n"); err != nil || strings.Join(got[1:], "|") != strings.Join(wantArgs, "|") {
		t.Errorf("the claude mcp add line splits into %q (%v)", got, err)
	}
}

// TestSetupRemote: with --url and --token-env, each client that can name
// a server over HTTP gets its address and an Authorization header whose
// token it reads from the environment, in its own syntax; the token never
// appears; clients that cannot, and bad flags, are usage errors.
func TestSetupRemote(t *testing.T) {
	run := func(args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], append([]string{"setup"}, args...)...)
		cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1", "EK_TOK=never-printed")
		out, err := cmd.Output()
		return string(out), err
	}
	url := "http://127.0.0.1:8765/"
	for _, c := range []struct{ client, key, urlKey, ref string }{
		{"claude", "mcpServers", "url", "${EK_TOK}"}, {"cursor", "mcpServers", "url", "${env:EK_TOK}"},
		{"windsurf", "mcpServers", "serverUrl", "${env:EK_TOK}"}, {"gemini", "mcpServers", "httpUrl", "${EK_TOK}"},
		{"vscode", "servers", "url", "${env:EK_TOK}"},
	} {
		out, err := run("--url", url, "--token-env", "EK_TOK", c.client)
		if err != nil {
			t.Fatalf("%s: %v", c.client, err)
		}
		var cfg map[string]map[string]map[string]any
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			t.Fatalf("%s: %v %s", c.client, err, out)
		}
		e := cfg[c.key]["execkit"]
		h, _ := e["headers"].(map[string]any)
		if e[c.urlKey] != url || h["Authorization"] != "Bearer "+c.ref || strings.Contains(out, "never-printed") {
			t.Errorf("%s: %s", c.client, out)
		}
	}
	out, err := run("--url", url, "--token-env", "EK_TOK", "codex")
	var codex struct {
		MCPServers map[string]struct {
			URL   string `toml:"url"`
			Token string `toml:"bearer_token_env_var"`
		} `toml:"mcp_servers"`
	}
	if _, derr := toml.Decode(out, &codex); err != nil || derr != nil || codex.MCPServers["execkit"].URL != url || codex.MCPServers["execkit"].Token != "EK_TOK" {
		t.Errorf("codex: %v %v %s", err, derr, out)
	}
	for _, bad := range [][]string{
		{"--url", url, "zed"}, {"--url", url, "--token-env", "T", "zed"}, {"--url", url, "--token-env", "T", "claude-desktop"},
		{"--token-env", "T", "claude"}, {"--url", "127.0.0.1:1", "--token-env", "T", "claude"},
		{"--url", url, "--token-env", "T", "claude", "--", "--deny", "rm"}, {"claude", "--", "--http", "127.0.0.1:1"},
	} {
		if _, err := run(bad...); err == nil {
			t.Errorf("setup %v: no error", bad)
		} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 64 {
			t.Errorf("setup %v: %v, want exit 64", bad, err)
		}
	}
}

// TestSetupWrite: --write merges the server into each client's file,
// keeping every other setting and server (and, in TOML, comments), in
// order; a backup holds the file as it was; a second run replaces the
// entry rather than adding one; a file with comments is left alone.
func TestSetupWrite(t *testing.T) {
	dir := t.TempDir()
	write := func(args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], append([]string{"setup", "--write"}, args...)...)
		cmd.Env = append(os.Environ(), "EXECKIT_RUN_MAIN=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, c := range []struct{ client, key string }{{"claude", "mcpServers"}, {"cursor", "mcpServers"}, {"gemini", "mcpServers"}, {"vscode", "servers"}, {"zed", "context_servers"}} {
		f := filepath.Join(dir, c.client+".json")
		before := `{"theme": "dark", "` + c.key + `": {"other": {"command": "x"}}, "z": [1, 2]}`
		os.WriteFile(f, []byte(before), 0o640)
		for i := 0; i < 2; i++ {
			if out, err := write("--file", f, c.client, "--", "--deny", "rm"); err != nil {
				t.Fatalf("%s: %v %s", c.client, err, out)
			}
		}
		b, _ := os.ReadFile(f)
		var got map[string]map[string]any
		var loose map[string]any
		if err := json.Unmarshal(b, &loose); err != nil {
			t.Fatalf("%s: %v\n%s", c.client, err, b)
		}
		json.Unmarshal(b, &got)
		servers := loose[c.key].(map[string]any)
		if loose["theme"] != "dark" || servers["other"] == nil || servers["execkit"] == nil || len(servers) != 2 {
			t.Errorf("%s: %s", c.client, b)
		}
		if strings.Index(string(b), `"theme"`) > strings.Index(string(b), `"z"`) {
			t.Errorf("%s: the order changed: %s", c.client, b)
		}
		args := servers["execkit"].(map[string]any)["args"].([]any)
		if len(args) != 3 || args[1] != "--deny" {
			t.Errorf("%s: %v", c.client, args)
		}
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v", c.client, fi.Mode())
		}
		// The second run changed nothing: one backup, of the file as it was.
		backups, _ := filepath.Glob(f + ".bak-*")
		if len(backups) != 1 {
			t.Fatalf("%s: backups %v", c.client, backups)
		}
		if b, _ := os.ReadFile(backups[0]); string(b) != before {
			t.Errorf("%s: backup %q", c.client, b)
		}
	}
	// Codex: TOML, comments and other tables kept, the old table replaced.
	f := filepath.Join(dir, "config.toml")
	os.WriteFile(f, []byte("# mine\nmodel = \"o3\"\n\n[mcp_servers.execkit]\ncommand = \"old\"\n[mcp_servers.execkit.env]\nA = \"1\"\n\n[mcp_servers.other]\ncommand = \"y\"\n"), 0o600)
	if out, err := write("--file", f, "codex"); err != nil {
		t.Fatalf("codex: %v %s", err, out)
	}
	b, _ := os.ReadFile(f)
	var codex struct {
		Model      string `toml:"model"`
		MCPServers map[string]struct {
			Command string            `toml:"command"`
			Env     map[string]string `toml:"env"`
		} `toml:"mcp_servers"`
	}
	if _, err := toml.Decode(string(b), &codex); err != nil {
		t.Fatalf("codex: %v\n%s", err, b)
	}
	if codex.Model != "o3" || codex.MCPServers["other"].Command != "y" || codex.MCPServers["execkit"].Command == "old" ||
		codex.MCPServers["execkit"].Env != nil || !strings.HasPrefix(string(b), "# mine\n") {
		t.Errorf("codex: %+v\n%s", codex, b)
	}
	// Changes within one second keep every earlier state.
	g := filepath.Join(dir, "twice.json")
	os.WriteFile(g, []byte(`{"a": 1}`), 0o600)
	for _, deny := range []string{"rm", "curl"} {
		if out, err := write("--file", g, "cursor", "--", "--deny", deny); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	if backups, _ := filepath.Glob(g + ".bak-*"); len(backups) != 2 {
		t.Errorf("two changes, backups %v", backups)
	}
	// A new file is made, with its directory.
	nf := filepath.Join(dir, "new", "dir", "mcp.json")
	if out, err := write("--file", nf, "cursor"); err != nil {
		t.Fatalf("new file: %v %s", err, out)
	}
	if b, _ := os.ReadFile(nf); !json.Valid(b) {
		t.Errorf("new file: %s", b)
	}
	// JSON with comments is not merged, and not touched.
	cf := filepath.Join(dir, "commented.json")
	os.WriteFile(cf, []byte("// settings\n{\"a\": 1}\n"), 0o600)
	out, err := write("--file", cf, "zed")
	if err == nil || !strings.Contains(out, "nothing was changed") {
		t.Errorf("commented file: %v %s", err, out)
	}
	if b, _ := os.ReadFile(cf); string(b) != "// settings\n{\"a\": 1}\n" {
		t.Errorf("commented file changed: %s", b)
	}
	if backups, _ := filepath.Glob(cf + ".bak-*"); len(backups) != 0 {
		t.Errorf("a backup of a file left alone: %v", backups)
	}
}
