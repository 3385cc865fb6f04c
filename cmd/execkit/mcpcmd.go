package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/mcpserver"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/transport/ssh"
)

// defaultJournal is where an MCP server run journals when not told: one
// file per run under the user's state directory.
func defaultJournal() (string, error) {
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		state = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(state, "execkit")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, "mcp-"+time.Now().UTC().Format("20060102T150405Z")+".db"), nil
}

func mcpCommand() *cli.Command {
	return &cli.Command{
		Name:  "mcp",
		Usage: "serve execkit's tools to an agent over the Model Context Protocol (stdio by default)",
		Description: "Every setting here is the operator's: tool arguments cannot loosen them. See docs/mcp.md.\n" +
			"Environment: EXECKIT_JOURNAL, EXECKIT_POLICY, EXECKIT_KEY_DIR, EXECKIT_KNOWN_HOSTS, EXECKIT_HOST_KEY_MODE.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "journal", EnvVars: []string{"EXECKIT_JOURNAL"}, Usage: "journal file (default: a new one per run under $XDG_STATE_HOME/execkit/)"},
			&cli.StringFlag{Name: "policy", EnvVars: []string{"EXECKIT_POLICY"}, Usage: "policy file (JSON: allow, deny, deny_patterns)"},
			&cli.StringSliceFlag{Name: "deny", Usage: "program that may not run (repeatable)"},
			&cli.StringSliceFlag{Name: "allow", Usage: "with any --allow, only these programs may run (repeatable)"},
			&cli.StringSliceFlag{Name: "secret", Usage: "NAME of an environment variable whose value is a secret to redact (repeatable)"},
			&cli.StringFlag{Name: "key-dir", EnvVars: []string{"EXECKIT_KEY_DIR"}, Usage: "directory SSH identity files must be in (default ~/.ssh)"},
			&cli.StringSliceFlag{Name: "known-hosts", EnvVars: []string{"EXECKIT_KNOWN_HOSTS"}, Usage: "known_hosts file for ssh sessions (repeatable)"},
			&cli.StringFlag{Name: "host-key-mode", EnvVars: []string{"EXECKIT_HOST_KEY_MODE"}, Value: string(ssh.Strict), Usage: "strict, accept-new or fingerprint (insecure is refused here)"},
			&cli.IntFlag{Name: "max-sessions", Value: 32, Usage: "sessions open at once"},
			&cli.DurationFlag{Name: "idle-ttl", Value: 30 * time.Minute, Usage: "close sessions idle this long"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "default per-command timeout"},
			&cli.StringFlag{Name: "budget", Usage: "default output budget: head, tail, head+tail or grep"},
			&cli.IntFlag{Name: "lines", Usage: "lines kept by --budget"},
			&cli.IntFlag{Name: "max-chars", Usage: "cap each stream at this many characters"},
			&cli.StringSliceFlag{Name: "transport", Usage: "allowed transports: local, ssh, docker (repeatable; default all)"},
			&cli.StringSliceFlag{Name: "target", Usage: "allowed SSH targets / containers, as patterns (repeatable; default any)"},
			&cli.StringFlag{Name: "http", Usage: "serve Streamable HTTP on this loopback address (127.0.0.1:PORT) instead of stdio"},
			&cli.StringFlag{Name: "token-env", Usage: "with --http: NAME of the environment variable holding the bearer token (default: a random one, printed on stderr)"},
			viewFlag(),
		},
		Action: func(c *cli.Context) error {
			if os.Getenv(envSocket) != "" && c.String("http") == "" {
				// Inside execkit record: the recorder's sessions and journal.
				return proxyToRecorder(c)
			}
			set, closeAll, err := mcpSettings(c)
			if err != nil {
				return err
			}
			defer closeAll()
			stopView, err := startLiveView(c, set.Journal)
			if err != nil {
				return err
			}
			defer stopView()
			srv := mcpserver.New(set)
			defer srv.Close()
			ctx, stop := signalContext()
			defer stop()
			if addr := c.String("http"); addr != "" {
				return serveHTTP(ctx, c, srv, addr)
			}
			if err := srv.MCP().Run(ctx, &mcp.StdioTransport{}); err != nil && !errors.Is(err, context.Canceled) {
				return execError{err}
			}
			return nil
		},
	}
}

// mcpSettings reads the operator's settings from the flags.
func mcpSettings(c *cli.Context) (mcpserver.Settings, func(), error) {
	set := mcpserver.Settings{
		MaxSessions: c.Int("max-sessions"), IdleTTL: c.Duration("idle-ttl"), Timeout: c.Duration("timeout"),
		Transports: c.StringSlice("transport"), Targets: c.StringSlice("target"),
		KeyDir: c.String("key-dir"), KnownHosts: c.StringSlice("known-hosts"), HostKeyMode: ssh.HostKeyMode(c.String("host-key-mode")),
		Budget:  safety.Budget{Mode: c.String("budget"), Lines: c.Int("lines"), MaxChars: c.Int("max-chars")},
		Version: version,
	}
	if set.HostKeyMode == ssh.Insecure {
		return set, nil, usagef("--host-key-mode insecure is not offered to agents")
	}
	if _, err := ssh.ParseHostKeyMode(string(set.HostKeyMode)); err != nil {
		return set, nil, usageError{err.Error()}
	}
	for _, t := range set.Transports {
		if t != "local" && t != "ssh" && t != "docker" {
			return set, nil, usagef("--transport %q: want local, ssh or docker", t)
		}
	}
	if err := set.Budget.Check(); err != nil {
		return set, nil, usageError{err.Error()}
	}
	var err error
	if set.Policy, set.Secrets, err = policyAndSecrets(c); err != nil {
		return set, nil, err
	}
	path := c.String("journal")
	if path == "" {
		if path, err = defaultJournal(); err != nil {
			return set, nil, execError{fmt.Errorf("journal: %w", err)}
		}
	}
	settings := map[string]string{"max_sessions": fmt.Sprint(set.MaxSessions), "transports": strings.Join(set.Transports, ","),
		"targets": strings.Join(set.Targets, ","), "host_key_mode": string(set.HostKeyMode)}
	j, err := journal.Open(path, &journal.Options{Run: journal.Run{Version: version, Command: os.Args, Settings: settings}})
	if err != nil {
		return set, nil, execError{err}
	}
	set.Journal = j
	return set, func() { j.Seal(); j.Close() }, nil
}

// serveHTTP serves Streamable HTTP on a loopback address, every request
// carrying the bearer token.
func serveHTTP(ctx context.Context, c *cli.Context, srv *mcpserver.Server, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--http %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("--http %q: only loopback addresses are served", addr)
	}
	token := ""
	if name := c.String("token-env"); name != "" {
		if token = os.Getenv(name); token == "" {
			return usagef("--token-env %s: no such environment variable", name)
		}
	} else {
		b := make([]byte, 24)
		rand.Read(b)
		token = hex.EncodeToString(b)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return execError{err}
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv.MCP() }, nil)
	want := []byte("Bearer " + token)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(c.App.ErrWriter, "execkit: MCP over Streamable HTTP at http://%s/ (Authorization: Bearer %s)\n", ln.Addr(), token)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return execError{err}
	}
	return nil
}
