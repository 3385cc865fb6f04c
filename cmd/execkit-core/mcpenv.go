package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/internal/inrecord"
)

// The original execkit-mcp was configured by EXECKIT_MCP_* environment
// variables; `execkit mcp` honours each of them, under its own flags and
// variables (a flag given, or this project's variable, wins). docs/mcp.md
// has the table.

// knownEnv are the EXECKIT_* variables execkit reads; others are reported
// at start (a misspelt setting must not pass for a setting in force).
var knownEnv = map[string]bool{
	"EXECKIT_JOURNAL": true, "EXECKIT_POLICY": true, "EXECKIT_ANCHOR": true,
	"EXECKIT_KEY_DIR": true, "EXECKIT_KNOWN_HOSTS": true, "EXECKIT_HOST_KEY_MODE": true,
	envSocket: true, envSession: true, "EXECKIT_NO_REAPER": true, "EXECKIT_BIN": true, inrecord.EnvFront: true,
	"EXECKIT_MCP_MAX_SESSIONS": true, "EXECKIT_MCP_SESSION_TTL": true,
	"EXECKIT_MCP_KEY_DIR": true, "EXECKIT_MCP_KNOWN_HOSTS": true, "EXECKIT_MCP_INSECURE_ACCEPT_ANY_HOSTKEY": true,
	"EXECKIT_MCP_POLICY_FILE": true, "EXECKIT_MCP_AUDIT": true, "EXECKIT_MCP_AUDIT_DIR": true,
	"EXECKIT_MCP_AUDIT_RETENTION_DAYS": true, "EXECKIT_MCP_WATCH_WEB": true, "EXECKIT_MCP_WATCH_PORT": true,
	"EXECKIT_MCP_WATCH_OPEN": true,
}

// unknownEnv lists the EXECKIT_* variables of env execkit does not read
// (those of its own tests aside).
func unknownEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "EXECKIT_") && !knownEnv[name] && !strings.HasPrefix(name, "EXECKIT_TEST_") &&
			name != "EXECKIT_LOCAL_REAPER" && name != "EXECKIT_UPDATE_FIXTURES" && name != "EXECKIT_RUN_MAIN" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// originalEnv maps the original's variables onto mcp's flags. It returns
// the settings read for the journal's run record, and the function that
// cleans up what it made (a throwaway known_hosts).
func originalEnv(c *cli.Context) (map[string]string, func(), error) {
	warn := func(format string, a ...any) { fmt.Fprintf(c.App.ErrWriter, "execkit: "+format+"\n", a...) }
	for _, name := range unknownEnv(os.Environ()) {
		warn("warning: %s is not a setting execkit knows; it is ignored (docs/mcp.md lists them)", name)
	}
	used := map[string]string{}
	cleanup := func() {}
	get := func(name string) (string, bool) {
		v, ok := os.LookupEnv(name)
		if ok {
			used[name] = v
		}
		return v, ok && v != ""
	}
	// set gives a flag the variable's value unless the flag (or its own
	// variable) is set; a different value there is said.
	set := func(flag, name, v string) error {
		if !has(c, flag) {
			return nil // a setting this command has no use for
		}
		if c.IsSet(flag) {
			if cur := c.String(flag); cur != v && !strings.Contains(fmt.Sprint(c.StringSlice(flag)), v) {
				warn("%s=%s is overridden by --%s %s", name, v, flag, cur)
			}
			return nil
		}
		return c.Set(flag, v)
	}
	count := func(name string) (int, bool, error) {
		v, ok := get(name)
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return 0, false, usagef("%s=%q: want a whole number, 0 or more", name, v)
		}
		return n, true, nil
	}
	truthy := func(name string) (bool, error) {
		v, ok := get(name)
		if !ok {
			return false, nil
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "true", "yes", "on":
			return true, nil
		case "0", "false", "no", "off":
			return false, nil
		}
		return false, usagef("%s=%q: want 1/true/yes or 0/false/no", name, v)
	}
	if n, ok, err := count("EXECKIT_MCP_MAX_SESSIONS"); err != nil {
		return nil, cleanup, err
	} else if ok {
		if err := set("max-sessions", "EXECKIT_MCP_MAX_SESSIONS", strconv.Itoa(n)); err != nil {
			return nil, cleanup, err
		}
	}
	if n, ok, err := count("EXECKIT_MCP_SESSION_TTL"); err != nil {
		return nil, cleanup, err
	} else if ok {
		if err := set("idle-ttl", "EXECKIT_MCP_SESSION_TTL", strconv.Itoa(n)+"s"); err != nil {
			return nil, cleanup, err
		}
	}
	for _, m := range [][2]string{{"key-dir", "EXECKIT_MCP_KEY_DIR"}, {"known-hosts", "EXECKIT_MCP_KNOWN_HOSTS"}} {
		if v, ok := get(m[1]); ok {
			if err := set(m[0], m[1], v); err != nil {
				return nil, cleanup, err
			}
		}
	}
	if v, ok := get("EXECKIT_MCP_POLICY_FILE"); ok && has(c, "policy") {
		// Two policies named in two places: refuse rather than pick one,
		// since the one left out might be the one meant.
		if c.IsSet("policy") && c.String("policy") != v {
			return nil, cleanup, usagef("EXECKIT_MCP_POLICY_FILE=%s and --policy %s name two policies; keep one", v, c.String("policy"))
		}
		if err := c.Set("policy", v); err != nil {
			return nil, cleanup, err
		}
	}
	if dir, ok := get("EXECKIT_MCP_AUDIT_DIR"); ok {
		if err := set("audit", "EXECKIT_MCP_AUDIT_DIR", strings.TrimSuffix(dir, "/")+"/"); err != nil {
			return nil, cleanup, err
		}
	} else if file, ok := get("EXECKIT_MCP_AUDIT"); ok {
		if err := set("audit", "EXECKIT_MCP_AUDIT", file); err != nil {
			return nil, cleanup, err
		}
	}
	if n, ok, err := count("EXECKIT_MCP_AUDIT_RETENTION_DAYS"); err != nil {
		return nil, cleanup, err
	} else if ok {
		if err := set("audit-retention-days", "EXECKIT_MCP_AUDIT_RETENTION_DAYS", strconv.Itoa(n)); err != nil {
			return nil, cleanup, err
		}
	}
	insecure, err := truthy("EXECKIT_MCP_INSECURE_ACCEPT_ANY_HOSTKEY")
	if err != nil {
		return nil, cleanup, err
	}
	if insecure && has(c, "host-key-mode") {
		// Any host key is taken on first sight, into a known_hosts of this
		// run only: a key that changes during the run is still refused.
		if c.IsSet("host-key-mode") && c.String("host-key-mode") != "accept-new" {
			return nil, cleanup, usagef("EXECKIT_MCP_INSECURE_ACCEPT_ANY_HOSTKEY and --host-key-mode %s disagree; keep one", c.String("host-key-mode"))
		}
		dir, err := os.MkdirTemp("", "execkit-hosts-")
		if err != nil {
			return nil, cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		if !c.IsSet("known-hosts") {
			if err := c.Set("known-hosts", filepath.Join(dir, "known_hosts")); err != nil {
				return nil, cleanup, err
			}
		}
		if err := c.Set("host-key-mode", "accept-new"); err != nil {
			return nil, cleanup, err
		}
		warn("WARNING: EXECKIT_MCP_INSECURE_ACCEPT_ANY_HOSTKEY is set: SSH host keys are NOT verified; each host's key is accepted on first sight for this run only. Use it for throwaway test hosts only.")
	}
	web, err := truthy("EXECKIT_MCP_WATCH_WEB")
	if err != nil {
		return nil, cleanup, err
	}
	if web && has(c, "view") && !c.IsSet("view") {
		port := 7878
		if n, ok, err := count("EXECKIT_MCP_WATCH_PORT"); err != nil || ok && n > 65535 {
			return nil, cleanup, usagef("EXECKIT_MCP_WATCH_PORT: want a TCP port (0: any free one)")
		} else if ok {
			port = n
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if port != 0 {
			if ln, err := net.Listen("tcp", addr); err != nil {
				warn("EXECKIT_MCP_WATCH_PORT %d is taken: the viewer takes another port", port)
				addr = "127.0.0.1:0"
			} else {
				ln.Close()
			}
		}
		if err := c.Set("view", addr); err != nil {
			return nil, cleanup, err
		}
	}
	if open, err := truthy("EXECKIT_MCP_WATCH_OPEN"); err != nil {
		return nil, cleanup, err
	} else if open && has(c, "open") && !c.IsSet("open") {
		c.Set("open", "true")
	}
	return used, cleanup, nil
}
