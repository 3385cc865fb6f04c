package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/execkit/execkit/internal/fsprobe"
	"github.com/execkit/execkit/internal/inrecord"
	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
	"github.com/execkit/execkit/transport"
)

// binaryPath is this execkit's absolute path, for configuration snippets:
// the execkit program in front when it started this one (it says where it
// is in EXECKIT_FRONT), else this program.
func binaryPath() string {
	if p := os.Getenv(inrecord.EnvFront); filepath.IsAbs(p) {
		return p
	}
	p, err := os.Executable()
	if err != nil {
		return "execkit"
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return p
}

// setupClients are the agents setup knows, each with where its
// configuration lives and the format it reads.
var setupClients = []struct {
	name, where string
	render      func(bin string, args []string, timeout time.Duration) ([]byte, error)
	// remote is the client's entry for a server it reaches over HTTP at
	// url, with the bearer token in the environment variable tokenEnv;
	// nil where the client's file cannot name one.
	remote func(url, tokenEnv string) ([]byte, error)
}{
	{"claude", "Claude Code: the project's .mcp.json (or run the claude mcp add line below)", mcpServersJSON, remoteJSON("mcpServers", "url", map[string]any{"type": "http"}, "${%s}")},
	{"claude-desktop", "Claude Desktop: claude_desktop_config.json (~/Library/Application Support/Claude/ on macOS, %APPDATA%\\Claude\\ on Windows, ~/.config/Claude/ on Linux)", mcpServersJSON, nil},
	{"cursor", "Cursor: ~/.cursor/mcp.json (all projects) or .cursor/mcp.json (this project)", mcpServersJSON, remoteJSON("mcpServers", "url", nil, "${env:%s}")},
	{"windsurf", "Windsurf: ~/.codeium/windsurf/mcp_config.json", mcpServersJSON, remoteJSON("mcpServers", "serverUrl", nil, "${env:%s}")},
	{"gemini", "Gemini CLI: ~/.gemini/settings.json (or .gemini/settings.json in the project)", geminiJSON, remoteJSON("mcpServers", "httpUrl", nil, "${%s}")},
	{"vscode", "VS Code: .vscode/mcp.json in the workspace (or the user's mcp.json: MCP: Open User Configuration)", vscodeJSON, remoteJSON("servers", "url", map[string]any{"type": "http"}, "${env:%s}")},
	{"zed", "Zed: merge into settings.json (~/.config/zed/settings.json)", zedJSON, nil},
	{"codex", "Codex: ~/.codex/config.toml", codexTOML, codexRemoteTOML},
}

// remoteJSON is an entry of servers under key naming the server's address
// with urlKey, fixed fields, and an Authorization header whose token the
// client reads from the environment (ref spells the reference to the
// variable in the client's own syntax).
func remoteJSON(key, urlKey string, fixed map[string]any, ref string) func(url, tokenEnv string) ([]byte, error) {
	return func(url, tokenEnv string) ([]byte, error) {
		entry := map[string]any{urlKey: url, "headers": map[string]string{"Authorization": "Bearer " + fmt.Sprintf(ref, tokenEnv)}}
		for k, v := range fixed {
			entry[k] = v
		}
		return indentJSON(map[string]any{key: map[string]any{"execkit": entry}})
	}
}

// codexRemoteTOML is Codex's entry for a Streamable HTTP server, the token
// read from an environment variable (Codex takes no token in the file).
func codexRemoteTOML(url, tokenEnv string) ([]byte, error) {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return []byte(fmt.Sprintf("[mcp_servers.execkit]\nurl = %s\nbearer_token_env_var = %s\n", q(url), q(tokenEnv))), nil
}

func setupNames() string {
	var names []string
	for _, c := range setupClients {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

func setupCommand() *cli.Command {
	return &cli.Command{
		Name:      "setup",
		Usage:     "print the configuration that wires execkit's MCP server into an agent",
		ArgsUsage: "CLIENT [-- MCP FLAGS...]",
		Description: "CLIENT is one of " + setupNames() + ". Prints the client's configuration\n" +
			"for this binary on stdout (JSON, or TOML for codex: `setup cursor > mcp.json` is a valid file) and\n" +
			"where it goes on stderr. Flags after -- are passed to `execkit mcp` (e.g. -- --deny rm); the\n" +
			"client's tool timeout, where it has one, is set above the command timeout (--timeout, 10m).\n" +
			"With --write (before CLIENT) the configuration is merged into the client's file instead, after a\n" +
			"backup of it: the execkit server is added or replaced, everything else is kept. With --url and\n" +
			"--token-env the entry names a server started with `execkit mcp --http` instead.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "write", Usage: "merge the configuration into the client's file (a backup is made first)"},
			&cli.StringFlag{Name: "file", Usage: "with --write: this `FILE` instead of the client's usual one"},
			&cli.StringFlag{Name: "url", Usage: "a server started with execkit mcp --http: its `URL` (http://127.0.0.1:PORT/), instead of starting one on stdio"},
			&cli.StringFlag{Name: "token-env", Usage: "with --url: the `NAME` of the environment variable the client reads the bearer token from (the server's --token-env)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("setup: name a client: %s", setupNames())
			}
			name := c.Args().First()
			args := append([]string{"mcp"}, c.Args().Tail()...)
			if len(args) > 1 && args[1] == "--" {
				args = append([]string{"mcp"}, args[2:]...)
			}
			timeout := session.DefaultTimeout
			for i, a := range args {
				v, ok := strings.CutPrefix(a, "--timeout=")
				if !ok && a == "--timeout" && i+1 < len(args) {
					v, ok = args[i+1], true
				}
				if ok {
					d, err := time.ParseDuration(v)
					if err != nil || d <= 0 {
						return usagef("setup: --timeout %q: a duration with a unit, like 10m or 90s", v)
					}
					timeout = d
				}
				if a == "--http" || strings.HasPrefix(a, "--http=") {
					return usagef("setup: a configuration that starts execkit mcp runs it on stdio; for a server you start with --http, give its address: setup --url http://ADDR/ --token-env NAME CLIENT")
				}
			}
			url, tokenEnv := c.String("url"), c.String("token-env")
			switch {
			case url != "" && tokenEnv == "":
				return usagef("setup --url needs --token-env NAME: the variable the client reads the bearer token from (the server's --token-env)")
			case url == "" && tokenEnv != "":
				return usagef("setup: --token-env goes with --url")
			case url != "" && len(args) > 1:
				return usagef("setup --url: the server's flags are given where it is started, not here")
			case url != "" && !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://"):
				return usagef("setup --url %s: want http://HOST:PORT/ or https://…", url)
			}
			for _, cl := range setupClients {
				if cl.name != name {
					continue
				}
				bin := binaryPath()
				var out []byte
				var err error
				if url != "" {
					if cl.remote == nil {
						return usagef("setup: %s's configuration file cannot name a server over HTTP; configure it on stdio (setup %s) or in the client itself", name, name)
					}
					out, err = cl.remote(url, tokenEnv)
				} else {
					out, err = cl.render(bin, args, timeout)
				}
				if err != nil {
					return err
				}
				if c.Bool("write") {
					file := c.String("file")
					if file == "" {
						file = setupFile(name)
					}
					backup, err := writeSetup(file, out, name == "codex")
					if err != nil {
						return fmt.Errorf("setup --write: %w", err)
					}
					fmt.Fprintf(c.App.ErrWriter, "execkit: added the execkit server to %s", file)
					if backup != "" {
						fmt.Fprintf(c.App.ErrWriter, " (the file as it was: %s)", backup)
					}
					fmt.Fprintln(c.App.ErrWriter)
					return nil
				}
				if c.IsSet("file") {
					return usagef("setup: --file goes with --write")
				}
				fmt.Fprintf(c.App.ErrWriter, "# %s\n", cl.where)
				switch {
				case name == "claude" && url != "":
				case name == "claude":
					fmt.Fprintf(c.App.ErrWriter, "# or: claude mcp add execkit -- %s   (add --scope user for every project)\n", transport.ShellJoin(append([]string{bin}, args...)))
				}
				if url != "" {
					fmt.Fprintf(c.App.ErrWriter, "# the client reads the token from $%s: set it where the client starts\n", tokenEnv)
				}
				_, err = c.App.Writer.Write(out)
				return err
			}
			return usagef("setup: unknown client %q (%s)", name, setupNames())
		},
	}
}

func indentJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// mcpServersJSON is the mcpServers format of Claude, Cursor and Windsurf.
func mcpServersJSON(bin string, args []string, _ time.Duration) ([]byte, error) {
	return indentJSON(map[string]any{"mcpServers": map[string]any{"execkit": map[string]any{"command": bin, "args": args}}})
}

// geminiJSON is Gemini CLI's: mcpServers with a timeout in milliseconds.
func geminiJSON(bin string, args []string, timeout time.Duration) ([]byte, error) {
	return indentJSON(map[string]any{"mcpServers": map[string]any{"execkit": map[string]any{
		"command": bin, "args": args, "timeout": (timeout + time.Minute).Milliseconds()}}})
}

// vscodeJSON is VS Code's mcp.json: servers, with their type.
func vscodeJSON(bin string, args []string, _ time.Duration) ([]byte, error) {
	return indentJSON(map[string]any{"servers": map[string]any{"execkit": map[string]any{"type": "stdio", "command": bin, "args": args}}})
}

// zedJSON is Zed's settings: context_servers.
func zedJSON(bin string, args []string, _ time.Duration) ([]byte, error) {
	return indentJSON(map[string]any{"context_servers": map[string]any{"execkit": map[string]any{"command": bin, "args": args, "env": map[string]string{}}}})
}

// codexTOML is Codex's config.toml table, its tool timeout above the
// command timeout (Codex's own default, 60 s, would cut commands short).
func codexTOML(bin string, args []string, timeout time.Duration) ([]byte, error) {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // a JSON string is a TOML basic string
	var quoted []string
	for _, a := range args {
		quoted = append(quoted, q(a))
	}
	return []byte(fmt.Sprintf("[mcp_servers.execkit]\ncommand = %s\nargs = [%s]\ntool_timeout_sec = %d\nstartup_timeout_sec = 30\n",
		q(bin), strings.Join(quoted, ", "), int((timeout + time.Minute).Seconds()))), nil
}

// check is one line of doctor's report.
type check struct {
	name, detail string
	level        int // 0 ok, 1 warning (something optional is missing), 2 failure
}

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check what execkit needs here: bash, git, SSH settings, the Docker engine, the journal directory",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "key-dir", EnvVars: []string{"EXECKIT_KEY_DIR"}, Usage: "SSH key directory (default ~/.ssh)"},
			&cli.StringSliceFlag{Name: "known-hosts", EnvVars: []string{"EXECKIT_KNOWN_HOSTS"}, Usage: "known_hosts file (default ~/.ssh/known_hosts)"},
			&cli.StringFlag{Name: "audit", Usage: "the MCP server's audit FILE or DIR/, to check"},
		}, policyFlags()...),
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "execkit %s\n", execkitVersion())
			// The MCP server's settings from the environment, as mcp reads them.
			_, cleanup, err := originalEnv(c)
			cleanup()
			if err != nil {
				return err
			}
			checks := append([]check{policyCheck(c), enforceCheck(c), auditCheck(c.String("audit"))}, doctor(c)...)
			worst := 0
			for _, ch := range checks {
				mark := map[int]string{0: "ok  ", 1: "warn", 2: "FAIL"}[ch.level]
				fmt.Fprintf(c.App.Writer, "%s  %-12s %s\n", mark, ch.name, ch.detail)
				if ch.level > worst {
					worst = ch.level
				}
			}
			if worst == 2 {
				return exitStatus{ExitFailure}
			}
			return nil
		},
	}
}

// policyCheck says which policy commands would pass: the file, the lists
// and patterns, or none.
// auditCheck says where the MCP audit stream goes and whether it can be
// written there, creating nothing.
func auditCheck(path string) check {
	if path == "" {
		return check{"audit", "off (the journal records everything; --audit or EXECKIT_MCP_AUDIT/_AUDIT_DIR add a JSONL stream)", 0}
	}
	dir, what := filepath.Dir(path), "audit file "+path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() || strings.HasSuffix(path, "/") {
		dir, what = path, "audit dir "+path
		if _, err := os.Stat(path); err != nil {
			dir = filepath.Dir(strings.TrimSuffix(path, "/"))
		}
	}
	if !writableDir(dir) {
		return check{"audit", what + ": not writable (" + dir + ")", 2}
	}
	return check{"audit", what + ": writable", 0}
}

func policyCheck(c *cli.Context) check {
	p, err := policyFromFlags(c)
	switch {
	case err != nil:
		return check{"policy", err.Error(), 2}
	case p == nil:
		return check{"policy", "none: every command runs, even rm -rf / (--policy none or --no-tripwire)", 1}
	}
	from := "from the flags"
	if f := c.String("policy"); f != "" {
		from = f
	}
	if p.Allow == nil && p.Deny == nil && p.DenyPatterns == nil {
		return check{"policy", "the default tripwire only: destructive commands (rm -rf /, mkfs, dd onto a disk, shutdown, curl | sh) are refused", 0}
	}
	trip := ", and the default tripwire"
	if !p.Tripwire {
		trip = ", without the tripwire"
	}
	return check{"policy", fmt.Sprintf("%s: %d allowed, %d denied, %d denied patterns%s", from, len(p.Allow), len(p.Deny), len(p.DenyPatterns), trip), 0}
}

// enforceCheck says where the policy holds, trying the exec fence on a
// local shell.
func enforceCheck(c *cli.Context) check {
	switch mode := c.String("enforce"); mode {
	case session.EnforceText:
		return check{"enforce", "text: each command's text is checked, not the programs it starts (--enforce text)", 0}
	case "", session.EnforceExec:
		// A local session, opened as any is, says where its policy holds.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sp := journal.SessionSpec{Version: journal.SpecVersion, Endpoint: journal.Endpoint{Transport: "local"}, Policy: safety.TripwirePolicy()}
		o, err := target.Open(ctx, sp, &target.Env{}, "")
		if err == nil {
			mode, note := o.Session.Enforcement()
			o.Close()
			if mode != session.EnforceExec {
				err = errors.New(note)
			}
		}
		if err != nil {
			level := 1
			if mode == session.EnforceExec {
				level = 2 // asked for, and sessions will not start
			}
			return check{"enforce", "text only here, the exec fence cannot run: " + err.Error(), level}
		}
		return check{"enforce", "exec: local commands' text and every program they start are checked (seccomp user notification); SSH and Docker sessions: the text", 0}
	default:
		return check{"enforce", fmt.Sprintf("--enforce %s: want exec or text", mode), 2}
	}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func doctor(c *cli.Context) []check {
	var out []check
	home, _ := os.UserHomeDir()
	if p, err := exec.LookPath("bash"); err != nil {
		if _, err := exec.LookPath("sh"); err != nil {
			out = append(out, check{"shell", "neither bash nor sh on PATH: no local session can start", 2})
		} else {
			out = append(out, check{"shell", "no bash; sessions use sh (fewer guarantees, see docs/architecture.md)", 1})
		}
	} else {
		v, _ := exec.Command(p, "--version").Output()
		out = append(out, check{"bash", p + ": " + firstLine(v), 0})
	}
	if p, err := exec.LookPath("git"); err != nil {
		out = append(out, check{"git", "not installed: local checkpoints still work; remote ones need git on the target", 1})
	} else {
		v, _ := exec.Command(p, "--version").Output()
		out = append(out, check{"git", p + ": " + firstLine(v), 0})
	}
	keyDir := c.String("key-dir")
	if keyDir == "" {
		keyDir = filepath.Join(home, ".ssh")
	}
	if st, err := os.Stat(keyDir); err != nil {
		out = append(out, check{"ssh keys", keyDir + ": " + err.Error() + " (needed only for --ssh)", 1})
	} else if st.Mode().Perm()&0o077 != 0 {
		out = append(out, check{"ssh keys", fmt.Sprintf("%s is readable by others (%v): chmod 700 it", keyDir, st.Mode().Perm()), 1})
	} else {
		n := 0
		for _, f := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if _, err := os.Stat(filepath.Join(keyDir, f)); err == nil {
				n++
			}
		}
		out = append(out, check{"ssh keys", fmt.Sprintf("%s: %d default identities", keyDir, n), 0})
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.DialTimeout("unix", sock, 2*time.Second); err != nil {
			out = append(out, check{"ssh-agent", "SSH_AUTH_SOCK set but not reachable: " + err.Error(), 1})
		} else {
			conn.Close()
			out = append(out, check{"ssh-agent", sock, 0})
		}
	}
	known := c.StringSlice("known-hosts")
	if len(known) == 0 {
		known = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	for _, k := range known {
		if _, err := os.Stat(k); err != nil {
			out = append(out, check{"known_hosts", k + ": none yet (strict mode refuses unknown hosts; accept-new pins them)", 1})
		} else if _, err := knownhosts.New(k); err != nil {
			out = append(out, check{"known_hosts", k + ": " + err.Error(), 2})
		} else {
			out = append(out, check{"known_hosts", k + ": readable", 0})
		}
	}
	if b, err := os.ReadFile(filepath.Join(home, ".ssh", "config")); err == nil {
		out = append(out, check{"ssh config", fmt.Sprintf("%s: %d lines (Host, HostName, User, Port, IdentityFile are used)",
			filepath.Join(home, ".ssh", "config"), strings.Count(string(b), "\n")), 0})
	}
	if cli, err := client.New(client.FromEnv); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{}); err != nil {
			out = append(out, check{"docker", "no engine at " + cli.DaemonHost() + " (needed only for --docker)", 1})
		} else {
			out = append(out, check{"docker", fmt.Sprintf("engine %s (API %s) at %s", v.Version, v.APIVersion, cli.DaemonHost()), 0})
		}
		cancel()
		cli.Close()
	}
	if p, err := defaultJournal(); err != nil {
		out = append(out, check{"journal dir", err.Error(), 2})
	} else {
		dir := filepath.Dir(p)
		if err := fsprobe.Create(dir); err != nil {
			out = append(out, check{"journal dir", dir + ": not writable: " + err.Error(), 2})
		} else {
			out = append(out, check{"journal dir", dir + ": writable", 0})
		}
	}
	return out
}
