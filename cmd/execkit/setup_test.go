package main

import (
	"encoding/json"
	"os"
	"os/exec"
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
