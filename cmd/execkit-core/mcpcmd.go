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

	"github.com/execkit/execkit/mcpserver"
	"github.com/execkit/execkit/target"
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
	// Unique below the second: servers started together (several clients,
	// or one restarting) each get their own file.
	b := make([]byte, 3)
	rand.Read(b)
	name := fmt.Sprintf("mcp-%s-%d-%s.db", time.Now().UTC().Format("20060102T150405.000Z"), os.Getpid(), hex.EncodeToString(b))
	return filepath.Join(dir, name), nil
}

func mcpCommand() *cli.Command {
	return &cli.Command{
		Name:  "mcp",
		Usage: "serve execkit's tools to an agent over the Model Context Protocol (stdio by default)",
		Description: "Every setting here is the operator's: tool arguments cannot loosen them. See docs/mcp.md.\n" +
			"Environment: EXECKIT_JOURNAL, EXECKIT_POLICY, EXECKIT_KEY_DIR, EXECKIT_KNOWN_HOSTS, EXECKIT_HOST_KEY_MODE,\n" +
			"and the original execkit-mcp's EXECKIT_MCP_MAX_SESSIONS, _SESSION_TTL, _KEY_DIR, _KNOWN_HOSTS,\n" +
			"_INSECURE_ACCEPT_ANY_HOSTKEY, _POLICY_FILE, _AUDIT, _AUDIT_DIR, _AUDIT_RETENTION_DAYS, _WATCH_WEB,\n" +
			"_WATCH_PORT, _WATCH_OPEN (a flag given wins over them).",
		Flags: flagsOf(sessionFlags(), sshFlags(), []cli.Flag{
			journalFlag("journal file (default: a new one per run under $XDG_STATE_HOME/execkit/)", "EXECKIT_JOURNAL"),
			anchorFlag(),
			&cli.IntFlag{Name: "max-sessions", Value: 32, Usage: "sessions open at once (0: none may open)"},
			&cli.DurationFlag{Name: "idle-ttl", Value: 30 * time.Minute, Usage: "close sessions idle this long (0: never)"},
			&cli.StringFlag{Name: "audit", Usage: "also write a JSONL audit stream, as the original execkit-mcp did: to this `PATH`: a file, or a directory (existing, or ending in /) for one file per session"},
			&cli.IntFlag{Name: "audit-retention-days", Value: 14, Usage: "with --audit DIR/: delete session files older than this many days at start (0: keep all)"},
			&cli.BoolFlag{Name: "readable-text", Usage: "tools answer with short readable text as their text content instead of their result's JSON (the structured content is the same)"},
			&cli.BoolFlag{Name: "open", Usage: "with --view: open the viewer in a browser"},
			&cli.StringSliceFlag{Name: "transport", Usage: "allowed transports: local, ssh, docker (repeatable; default all)"},
			&cli.StringSliceFlag{Name: "target", Usage: "allowed SSH targets / containers, as patterns (repeatable; default any)"},
			&cli.StringFlag{Name: "http", Usage: "serve Streamable HTTP on this loopback address (127.0.0.1:PORT) instead of stdio"},
			&cli.StringFlag{Name: "token-env", Usage: "with --http: NAME of the environment variable holding the bearer token (default: a random one, printed on stderr)"},
			viewFlag(),
		}),
		Action: func(c *cli.Context) error {
			if os.Getenv(envSocket) != "" && c.String("http") == "" {
				// Inside execkit record: the recorder's sessions and journal.
				return proxyToRecorder(c)
			}
			for _, addr := range []string{c.String("http"), c.String("view")} {
				if addr != "" {
					if err := checkLoopback(addr); err != nil {
						return err
					}
				}
			}
			// The HTTP address and its token are checked before the journal
			// is made: a bad one leaves no journal behind.
			var ln net.Listener
			var token string
			if addr := c.String("http"); addr != "" {
				var err error
				if token, err = bearerToken(c); err != nil {
					return err
				}
				if ln, err = listenLoopback(addr); err != nil {
					return err
				}
				defer ln.Close()
			}
			set, closeAll, err := mcpSettings(c)
			if err != nil {
				return err
			}
			defer closeAll()
			viewURL, stopView, err := startLiveView(c, set.Env.Journal, c.Bool("open"))
			if err != nil {
				return err
			}
			defer stopView()
			set.ViewerURL = viewURL
			srv := mcpserver.New(set)
			defer srv.Close()
			ctx, stop := signalContext()
			defer stop()
			if ln != nil {
				return serveHTTP(ctx, c, srv, ln, token)
			}
			return srv.Serve(ctx, os.Stdin, os.Stdout)
		},
	}
}

// mcpSettings reads the operator's settings from the flags: the same
// session flags as exec and shell give every session's defaults. Every
// flag is checked before the journal is created.
func mcpSettings(c *cli.Context) (mcpserver.Settings, func(), error) {
	original, cleanup, err := originalEnv(c)
	if err != nil {
		cleanup()
		return mcpserver.Settings{}, nil, err
	}
	fail := func(err error) (mcpserver.Settings, func(), error) {
		cleanup()
		return mcpserver.Settings{}, nil, err
	}
	sp, env, err := sessionSetup(c)
	if err != nil {
		return fail(err)
	}
	if env.SSH.Insecure() {
		return fail(usagef("--host-key-mode insecure is not offered to agents"))
	}
	set := mcpserver.Settings{
		Defaults: sp, Env: env, MaxSessions: c.Int("max-sessions"), IdleTTL: c.Duration("idle-ttl"),
		Transports: c.StringSlice("transport"), Targets: c.StringSlice("target"), Version: execkitVersion(),
		ReadableText: c.Bool("readable-text"),
	}
	switch {
	case set.MaxSessions < 0:
		return fail(usagef("--max-sessions must be 0 or more, got %d", set.MaxSessions))
	case set.MaxSessions == 0:
		set.MaxSessions = mcpserver.NoSessions
	}
	switch {
	case set.IdleTTL < 0:
		return fail(usagef("--idle-ttl must be 0 or more, got %s", set.IdleTTL))
	case set.IdleTTL == 0:
		set.IdleTTL = mcpserver.NoIdleTTL
	}
	if a := c.String("audit"); a != "" {
		if set.Audit, err = mcpserver.OpenAudit(a, false, c.Int("audit-retention-days"), c.App.ErrWriter); err != nil {
			return fail(usagef("--audit: %v", err))
		}
	}
	reg := target.Default()
	for _, t := range set.Transports {
		if _, err := reg.Lookup(t); err != nil {
			return fail(fmt.Errorf("--transport: %w", err))
		}
	}
	path := c.String("journal")
	if path == "" {
		if path, err = defaultJournal(); err != nil {
			return fail(fmt.Errorf("journal: %w", err))
		}
	}
	settings := map[string]string{"max_sessions": fmt.Sprint(c.Int("max-sessions")), "idle_ttl": c.Duration("idle-ttl").String(),
		"transports": strings.Join(set.Transports, ","), "targets": strings.Join(set.Targets, ","),
		"host_key_mode": env.SSH.HostKeyMode, "audit": c.String("audit")}
	for k, v := range original {
		settings[k] = v
	}
	j, err := openRunJournal(c, path, settings)
	if err != nil {
		return fail(err)
	}
	set.Env.Journal = j.Journal
	return set, func() { j.finish(); cleanup() }, nil
}

// bearerToken is the token HTTP clients must send: from --token-env, or a
// random one.
func bearerToken(c *cli.Context) (string, error) {
	if name := c.String("token-env"); name != "" {
		token := os.Getenv(name)
		if token == "" {
			return "", usagef("--token-env %s: no such environment variable", name)
		}
		return token, nil
	}
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b), nil
}

// serveHTTP serves Streamable HTTP on ln, a loopback listener, every
// request carrying the bearer token. A request without it gets 401 with
// WWW-Authenticate naming the Bearer scheme (not an OAuth flow: the token
// is given by the operator). The token is printed only when it was made
// here; one from --token-env stays where it was.
func serveHTTP(ctx context.Context, c *cli.Context, srv *mcpserver.Server, ln net.Listener, token string) error {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv.MCP() }, nil)
	want := []byte("Bearer " + token)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="execkit"`)
			http.Error(w, "a bearer token is required (Authorization: Bearer TOKEN, the token execkit mcp was given)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	if c.String("token-env") != "" {
		fmt.Fprintf(c.App.ErrWriter, "execkit: MCP over Streamable HTTP at http://%s/ (Authorization: Bearer $%s)\n", ln.Addr(), c.String("token-env"))
	} else {
		fmt.Fprintf(c.App.ErrWriter, "execkit: MCP over Streamable HTTP at http://%s/ (Authorization: Bearer %s)\n", ln.Addr(), token)
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
