package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/internal/inrecord"
	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/mcpserver"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/undo"
)

// Inside `execkit record`, these tell execkit exec and execkit mcp where the
// recorder is.
const (
	envSocket  = inrecord.EnvSocket
	envSession = inrecord.EnvSession
)

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:      "record",
		Usage:     "record a whole agent run: serve it sessions, journal every step, seal the journal at the end",
		ArgsUsage: "[-- AGENT ARGS...]",
		Description: "Opens the journal and a session (the target and workspace flags apply), serves sessions on a\n" +
			"private unix socket, and runs AGENT with EXECKIT_SOCKET set: inside it, `execkit exec CMD` runs\n" +
			"CMD in that one session (cd persists between calls) and `execkit mcp` serves the same sessions\n" +
			"to an MCP agent. When AGENT exits the journal is sealed and a summary printed; execkit record\n" +
			"exits with AGENT's status. With no AGENT, an interactive recorded shell.",
		Flags: flagsOf(sessionFlags(), targetFlags(), sshFlags(), workspaceFlags(), []cli.Flag{
			journalFlag("journal file (default: a new one per run under $XDG_STATE_HOME/execkit/)"),
			anchorFlag(),
			viewFlag(),
			&cli.BoolFlag{Name: "no-capture", Usage: "do not record the shell commands the agent starts by itself (bash -c …), only what it sends through execkit"},
		}),
		Action: func(c *cli.Context) error {
			start := time.Now()
			sp, env, err := sessionSetup(c)
			if err != nil {
				return err
			}
			if addr := c.String("view"); addr != "" {
				if err := checkLoopback(addr); err != nil {
					return err
				}
			}
			path := c.String("journal")
			if path == "" {
				if path, err = defaultJournal(); err != nil {
					return fmt.Errorf("journal: %w", err)
				}
				path = strings.Replace(path, "mcp-", "record-", 1)
			}
			j, err := openRunJournal(c, path, nil)
			if err != nil {
				return err
			}
			env.Journal = j.Journal
			o, err := openTarget(context.Background(), c, sp, &env)
			if err != nil {
				j.Close()
				return err
			}
			_, stopView, err := startLiveView(c, j.Journal, false)
			if err != nil {
				o.Close()
				j.Close()
				return err
			}
			defer stopView()
			// Sessions the agent opens (execkit mcp inside the run) get the
			// same settings as the default one, but their own target and
			// workspace.
			defaults := sp
			defaults.Endpoint, defaults.Workspace, defaults.CheckpointDir, defaults.CheckpointMode, defaults.Exclude = journal.Endpoint{}, "", "", "", nil
			srv := mcpserver.New(mcpserver.Settings{Defaults: defaults, Env: env, Version: execkitVersion()})
			srv.Adopt("default", o)
			var runErr error
			if args := c.Args().Slice(); len(args) == 0 {
				sctx, stop := signalContext()
				runErr = shellLoop(sctx, c, o.Session)
				stop()
			} else {
				ac := agentCapture{j: j.Journal, policy: sp.Policy, secrets: env.Secrets}
				if o.Kind == "local" && o.Session.Checkpoints() != nil && o.Session.Spec().CheckpointMode == session.CheckpointAuto {
					ac.store, ac.ws = o.Session.Checkpoints(), o.Session.Spec()
				}
				runErr = runAgent(c, srv, args, ac)
			}
			srv.Close()
			summary(c.App.ErrWriter, j.Journal, path, time.Since(start))
			if err := j.finish(); err != nil && runErr == nil {
				runErr = fmt.Errorf("seal the journal: %w", err)
			}
			return runErr
		},
	}
}

// agentCapture is what recording the agent's own shell commands needs:
// the journal, the policy, the secrets, and the default session's local
// workspace store and spec when it keeps checkpoints.
type agentCapture struct {
	j       *journal.Journal
	policy  *safety.Policy
	secrets []safety.Secret
	store   undo.Store
	ws      journal.SessionSpec
}

// runAgent serves the socket and runs the agent until it exits; the shell
// commands the agent starts by itself are recorded where capture can run
// (record says at start whether it does).
func runAgent(c *cli.Context, srv *mcpserver.Server, args []string, ac agentCapture) error {
	dir, err := os.MkdirTemp("", "execkit-record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "socket")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := os.Chmod(sock, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				serveRecorderConn(ctx, srv, conn)
			}()
		}
	}()
	cmd := exec.Command(args[0], args[1:]...)
	started := func(int) {}
	if c.Bool("no-capture") {
		fmt.Fprintln(c.App.ErrWriter, "execkit: the shell commands the agent starts by itself are not recorded (--no-capture)")
	} else if cc, begin, stop, err := startCapture(ac, args, c.App.ErrWriter); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "execkit: the shell commands the agent starts by itself are not recorded: %v\n", err)
	} else {
		cmd, started = cc, begin
		defer stop()
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, envSocket+"="+sock, envSession+"=default")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.App.Reader, c.App.Writer, c.App.ErrWriter
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the agent: %w", err)
	}
	started(cmd.Process.Pid)
	// The agent decides what an interrupt means; it is passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s)
		case err := <-done:
			if cmd.ProcessState == nil {
				return err
			}
			if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
				fmt.Fprintf(c.App.ErrWriter, "execkit: the agent was killed by signal %d\n", int(st.Signal()))
				return exitStatus{128 + int(st.Signal())}
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				return exitStatus{code}
			}
			return nil
		}
	}
}

// summary prints what the run recorded.
func summary(w io.Writer, j *journal.Journal, path string, d time.Duration) {
	var n, failed, blocked, timedOut int
	cps := map[string]bool{}
	j.View(func(r *journal.Reader) error {
		es, err := r.Entries(journal.Filter{})
		for _, e := range es {
			n++
			switch e.Status {
			case journal.StatusFailed, journal.StatusShellEnded, journal.StatusInterrupted:
				failed++
			case journal.StatusBlocked:
				blocked++
			case journal.StatusTimedOut, journal.StatusCanceled:
				timedOut++
			}
			if e.Checkpoint != "" {
				cps[e.Checkpoint] = true
			}
		}
		return err
	})
	fmt.Fprintf(w, "execkit: recorded %d commands (%d failed, %d blocked, %d timed out or canceled), %d checkpoints, in %s; journal %s\n",
		n, failed, blocked, timedOut, len(cps), d.Round(time.Millisecond), path)
}

// clientCall connects to the recorder's socket and calls one tool.
func clientCall(ctx context.Context, sock, tool string, args map[string]any) (*mcp.CallToolResult, error) {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("the recorder at %s: %w", sock, err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "execkit-exec", Version: execkitVersion()}, nil)
	cs, err := client.Connect(ctx, &mcp.IOTransport{Reader: conn, Writer: conn}, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("the recorder: %w", err)
	}
	defer cs.Close()
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
}

// execViaRecorder runs cmd in the recorder's session (inside execkit
// record) and prints the result as execkit exec does.
func execViaRecorder(c *cli.Context, cmd string) error {
	ctx, stop := signalContext()
	defer stop()
	id := os.Getenv(envSession)
	in, served := c.App.Metadata[inRecorder].(recorderRun)
	if served {
		// Run in the recorder itself, for the execkit program in front
		// (serveRecorderConn): its caller's session, ended when it hangs
		// up.
		ctx, id = in.ctx, in.session
	}
	if id == "" {
		id = "default"
	}
	var res *mcp.CallToolResult
	var err error
	if served {
		res, err = in.srv.Exec(ctx, id, cmd, c.Duration("timeout"))
	} else {
		args := map[string]any{"session_id": id, "command": cmd}
		if c.IsSet("timeout") {
			args["timeout_ms"] = c.Duration("timeout").Milliseconds()
		}
		res, err = clientCall(ctx, os.Getenv(envSocket), "session_exec", args)
	}
	if err != nil {
		return err
	}
	var r session.Result
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		json.Unmarshal(b, &r)
	}
	if res.IsError && !r.Blocked {
		var msg strings.Builder
		for _, ct := range res.Content {
			if t, ok := ct.(*mcp.TextContent); ok {
				msg.WriteString(t.Text)
			}
		}
		return errors.New(msg.String())
	}
	return printResult(c, r)
}

// proxyToRecorder connects stdio to the recorder's socket: an MCP agent
// started inside execkit record reaches the recorder's sessions.
func proxyToRecorder(c *cli.Context) error {
	conn, err := net.Dial("unix", os.Getenv(envSocket))
	if err != nil {
		return fmt.Errorf("the recorder at %s: %w", os.Getenv(envSocket), err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(conn, c.App.Reader); conn.(*net.UnixConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c.App.Writer, conn); done <- struct{}{} }()
	<-done
	return nil
}

// inRecorder is the app metadata key of a command line the recorder runs
// for the execkit program in front (recorderRun).
const inRecorder = "execkit-in-recorder"

// recorderRun is where such a command line runs: the recorder's server,
// the caller's session, and a context that ends when the caller hangs up.
type recorderRun struct {
	ctx     context.Context
	srv     *mcpserver.Server
	session string
}

// errDelegate says a command line the recorder was asked to run must be
// run by execkit-core in the caller's process (it opens a session of its
// own: another target, a journal, a workspace).
var errDelegate = errors.New("run it in the caller")

// serveRecorderConn serves one connection to the recorder's socket: MCP,
// or, when its first line is a runRequest, `execkit exec` run here for the
// execkit program in front, which then need not start execkit-core.
func serveRecorderConn(ctx context.Context, srv *mcpserver.Server, conn net.Conn) {
	rd := bufio.NewReader(conn)
	if head, _ := rd.Peek(len(inrecord.Prefix)); string(head) != inrecord.Prefix {
		srv.ServeConn(ctx, struct {
			io.Reader
			io.WriteCloser
		}{rd, conn})
		return
	}
	line, err := rd.ReadBytes('\n')
	var req inrecord.Request
	if err != nil || json.Unmarshal(line, &req) != nil || len(req.Run) == 0 || req.Run[0] != "exec" {
		json.NewEncoder(conn).Encode(inrecord.Reply{Delegate: true})
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The caller hanging up (killed, interrupted) cancels the command.
		rd.ReadByte()
		cancel()
	}()
	var out, errb strings.Builder
	app := newApp(strings.NewReader(""), &out, &errb)
	app.Metadata = map[string]any{inRecorder: recorderRun{ctx: rctx, srv: srv, session: req.Session}}
	argv := append([]string{"execkit"}, req.Run...)
	err = app.Run(flagsFirst(app, argv))
	if errors.Is(err, errDelegate) {
		json.NewEncoder(conn).Encode(inrecord.Reply{Delegate: true})
		return
	}
	code := exitCode(req.Run[0], err, &errb)
	json.NewEncoder(conn).Encode(inrecord.Reply{Stdout: out.String(), Stderr: errb.String(), Code: code})
}
