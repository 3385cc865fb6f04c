package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/execkit/execkit/internal/testreq"
)

// TestInspectorStrict runs the official MCP Inspector's CLI against
// `execkit mcp` with --strict, which reports every tool-schema
// portability problem (a schema some clients cannot read): there must be
// none, and every tool must be listed. .ci/install-inspector installs it
// (with the Node.js it needs) under testdata/artifacts/inspector.
func TestInspectorStrict(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "artifacts", "inspector", "node_modules"))
	node := filepath.Join(dir, "execkit-node", "bin", "node")
	cli := filepath.Join(dir, ".bin", "mcp-inspector")
	for _, f := range []string{node, cli} {
		if _, err := os.Stat(f); err != nil {
			testreq.Missing(t, "inspector", "not installed (sh .ci/install-inspector): "+err.Error())
		}
	}
	cmd := exec.Command(node, cli, "--cli", "--strict", "-e", "EXECKIT_RUN_MAIN=1",
		os.Args[0], "mcp", "--journal", filepath.Join(t.TempDir(), "j.db"), "--method", "tools/list")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("inspector: %v\n%s", err, errb.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "execkit: ") {
			t.Errorf("inspector reports: %s", l)
		}
	}
	var list struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal([]byte(out.String()), &list); err != nil {
		t.Fatalf("tools/list: %v\n%s", err, out.String())
	}
	if len(list.Tools) < 8 { // session_create … journal_log
		t.Errorf("%d tools listed", len(list.Tools))
	}
}
