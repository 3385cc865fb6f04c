package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/undo"
)

// sessionFlags are the options shared by exec and shell; each maps onto a
// session.Options field.
func sessionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cwd", Usage: "initial working directory"},
		&cli.DurationFlag{Name: "timeout", Value: session.DefaultTimeout, Usage: "per-command timeout"},
		&cli.StringFlag{Name: "shell", Usage: `shell to run: "bash", "sh" or a path (default: bash, else sh)`},
		&cli.BoolFlag{Name: "tty", Usage: "give commands a pseudo-terminal as stdin/stdout"},
		&cli.IntFlag{Name: "max-output", Value: session.DefaultMaxOutputBytes, Usage: "bytes of each stream to keep (first and last half)"},
		&cli.StringFlag{Name: "journal", Usage: "record every command in this journal file (created if missing)"},
		&cli.StringSliceFlag{Name: "secret", Usage: "NAME of an environment variable whose value is a secret to redact (repeatable; the value never goes on the command line)"},
		&cli.StringFlag{Name: "policy", Usage: "policy file (JSON: allow, deny, deny_patterns); see docs/security-model.md"},
		&cli.StringSliceFlag{Name: "deny", Usage: "program that may not run (repeatable)"},
		&cli.StringSliceFlag{Name: "allow", Usage: "program that may run; with any --allow, only those (repeatable)"},
		&cli.BoolFlag{Name: "raw", Usage: "keep terminal escape sequences and control characters in the output"},
		&cli.StringFlag{Name: "budget", Usage: "shape each stream: head, tail, head+tail or grep"},
		&cli.IntFlag{Name: "lines", Usage: "lines kept by --budget head/tail (each end for head+tail; default 50)"},
		&cli.StringFlag{Name: "grep", Usage: "with --budget grep: keep lines matching this regular expression"},
		&cli.IntFlag{Name: "context", Usage: "with --budget grep: lines kept around each match"},
		&cli.IntFlag{Name: "max-chars", Usage: "cap each stream at this many characters (start and end kept)"},
		&cli.BoolFlag{Name: "no-redact", Usage: "return and record output as printed, without secret redaction"},
	}
}

func sessionOptions(c *cli.Context) (session.Options, error) {
	o := session.Options{
		Dir:            c.String("cwd"),
		Timeout:        c.Duration("timeout"),
		Shell:          c.String("shell"),
		TTY:            c.Bool("tty"),
		MaxOutputBytes: c.Int("max-output"),
	}
	if o.Timeout <= 0 {
		return o, usagef("--timeout must be positive, got %s", o.Timeout)
	}
	o.NoRedact = c.Bool("no-redact")
	o.Raw = c.Bool("raw")
	o.Budget = safety.Budget{Mode: c.String("budget"), Lines: c.Int("lines"), Grep: c.String("grep"), Context: c.Int("context"), MaxChars: c.Int("max-chars")}
	if o.Budget.Mode == "" && o.Budget.Grep != "" {
		o.Budget.Mode = "grep"
	}
	if err := o.Budget.Check(); err != nil {
		return o, usageError{err.Error()}
	}
	var err error
	if o.Policy, o.Secrets, err = policyAndSecrets(c); err != nil {
		return o, err
	}
	if o.MaxOutputBytes <= 0 {
		return o, usagef("--max-output must be positive, got %d", o.MaxOutputBytes)
	}
	if o.Dir != "" && !remoteTarget(c) {
		if fi, err := os.Stat(o.Dir); err != nil || !fi.IsDir() {
			return o, usagef("--cwd %s: not a directory", o.Dir)
		}
	}
	return o, nil
}

// policyAndSecrets reads --policy, --deny, --allow and --secret.
func policyAndSecrets(c *cli.Context) (*safety.Policy, []safety.Secret, error) {
	pol := &safety.Policy{}
	if f := c.String("policy"); f != "" {
		p, err := safety.LoadPolicy(f)
		if err != nil {
			return nil, nil, usageError{err.Error()}
		}
		pol = p
	}
	pol.Deny = append(pol.Deny, c.StringSlice("deny")...)
	pol.Allow = append(pol.Allow, c.StringSlice("allow")...)
	if pol.Empty() {
		pol = nil
	}
	var secrets []safety.Secret
	for _, name := range c.StringSlice("secret") {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, nil, usagef("--secret %s: no such environment variable (name the variable, not the value)", name)
		}
		secrets = append(secrets, safety.Secret{Name: name, Value: v})
	}
	return pol, secrets, nil
}

// printResult prints a command's result as execkit exec does and returns
// its status to pass through.
func printResult(c *cli.Context, r session.Result) error {
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, r); err != nil {
			return execError{err}
		}
	} else {
		io.WriteString(c.App.Writer, r.Stdout)
		io.WriteString(c.App.ErrWriter, r.Stderr)
		notices(c.App.ErrWriter, r)
	}
	return resultStatus(r)
}

// withSession runs fn with the session the flags describe, under a context
// that SIGINT/SIGTERM cancel, and closes the session afterwards. A shell
// that exits ends the session: for exec the command has simply finished,
// for shell the person typed exit.
func withSession(c *cli.Context, fn func(context.Context, *session.Session) error) error {
	var j *journal.Journal
	if path := c.String("journal"); path != "" {
		var err error
		if j, err = journal.Open(path, &journal.Options{Run: journal.Run{Version: version, Command: os.Args}}); err != nil {
			return err
		}
		defer j.Close()
	}
	ctx, stop := signalContext()
	defer stop()
	s, _, _, release, err := openSession(ctx, c, j, true)
	if err != nil {
		return err
	}
	defer release()
	defer s.Close()
	return fn(ctx, s)
}

// openSession opens the session the flags describe (target, workspace,
// session options), journaled in j when it is not nil. release closes the
// transport, after the session.
func openSession(ctx context.Context, c *cli.Context, j *journal.Journal, noRespawn bool) (s *session.Session, kind, target string, release func(), err error) {
	opts, err := sessionOptions(c)
	if err != nil {
		return nil, "", "", nil, err
	}
	opts.NoRespawn = noRespawn
	opts.Journal = j
	tr, release, err := openTransport(ctx, c)
	if err != nil {
		return nil, "", "", nil, err
	}
	fail := func(err error) (*session.Session, string, string, func(), error) {
		release()
		return nil, "", "", nil, err
	}
	if ws := c.String("workspace"); ws != "" {
		store, err := openStore(ctx, c, tr, ws, c.String("checkpoint-dir"))
		if err != nil {
			if errors.Is(err, undo.ErrWorkspace) {
				return fail(usageError{err.Error()})
			}
			return fail(execError{err})
		}
		opts.Checkpoints = store
		opts.CheckpointMode = c.String("checkpoint")
	} else if c.IsSet("checkpoint") || c.IsSet("checkpoint-dir") || c.IsSet("exclude") {
		return fail(usagef("--checkpoint, --checkpoint-dir and --exclude need --workspace DIR"))
	}
	s, err = session.New(ctx, tr, opts)
	if err != nil {
		return fail(execError{err})
	}
	kind, target = "local", ""
	if d, ok := tr.(interface{ Describe() (string, string) }); ok {
		kind, target = d.Describe()
	}
	return s, kind, target, release, nil
}

// signalContext is cancelled by SIGINT/SIGTERM, so that an interrupted
// execkit interrupts the command and closes the session cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run one command in a fresh local session",
		ArgsUsage: "COMMAND...",
		Description: "Runs COMMAND (the arguments joined by spaces, parsed by the shell) and exits\n" +
			"with its exit status. --json prints the structured result instead.",
		Flags: append(append(append(sessionFlags(), targetFlags()...), workspaceFlags()...), &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}),
		Action: func(c *cli.Context) error {
			cmd, err := joinArgs(c)
			if err != nil {
				return err
			}
			if os.Getenv(envSocket) != "" && !remoteTarget(c) && c.String("journal") == "" && c.String("workspace") == "" {
				return execViaRecorder(c, cmd)
			}
			return withSession(c, func(ctx context.Context, s *session.Session) error {
				r, err := s.Exec(ctx, cmd, session.ExecOptions{})
				if errors.Is(err, session.ErrShellEnded) {
					r.ShellEnded, err = false, nil
				}
				if err != nil && !errors.Is(err, context.Canceled) {
					if errors.Is(err, session.ErrInvalidCommand) {
						return usageError{err.Error()}
					}
					return execError{err}
				}
				return printResult(c, r)
			})
		},
	}
}

// resultStatus turns a result into the exit status to pass through.
func resultStatus(r session.Result) error {
	switch {
	case r.Blocked:
		return exitStatus{ExitBlocked}
	case r.TimedOut:
		return exitStatus{ExitTimeout}
	case r.ExitCode != 0:
		return exitStatus{r.ExitCode}
	}
	return nil
}

// notices tells a person what the result does not show by itself.
func notices(w io.Writer, r session.Result) {
	for _, s := range []struct {
		name string
		info session.StreamInfo
	}{{"stdout", r.StdoutInfo}, {"stderr", r.StderrInfo}} {
		if s.info.Dropped > 0 {
			fmt.Fprintf(w, "execkit: %s truncated: %d of %d bytes dropped at offset %d\n", s.name, s.info.Dropped, s.info.Bytes, s.info.DroppedAt)
		}
	}
	if r.Blocked && r.Decision != nil {
		fmt.Fprintf(w, "execkit: blocked by policy (%s): %s\n", r.Decision.Rule, r.Decision.Reason)
	}
	if r.TimedOut {
		fmt.Fprintf(w, "execkit: timed out after %s\n", r.Duration.Round(time.Millisecond))
	}
	if r.ShellEnded {
		what := "a new shell was started with the working directory and exported variables"
		if !r.Respawned {
			what = "the session is closed"
		}
		fmt.Fprintf(w, "execkit: the shell ended (status %d); %s\n", r.ExitCode, what)
	}
}

func shellCommand() *cli.Command {
	return &cli.Command{
		Name:  "shell",
		Usage: "an interactive prompt: each line is one framed command",
		Description: "Reads command lines from stdin and runs each in one persistent session,\n" +
			"showing its output and then its exit code and duration. Ends at end of input,\n" +
			"or when the shell itself exits (exit, exec, set -e), with that status.",
		Flags: append(append(sessionFlags(), targetFlags()...), workspaceFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("shell takes no arguments")
			}
			return withSession(c, func(ctx context.Context, s *session.Session) error {
				return shellLoop(ctx, c, s)
			})
		},
	}
}

func shellLoop(ctx context.Context, c *cli.Context, s *session.Session) error {
	in := bufio.NewReader(c.App.Reader)
	out, errw := c.App.Writer, c.App.ErrWriter
	interactive := false
	if f, ok := c.App.Reader.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		interactive = true
	}
	last := 0
	for {
		if interactive {
			fmt.Fprintf(errw, "%s $ ", s.Cwd())
		}
		line, err := in.ReadString('\n')
		cmd := strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(cmd) != "" {
			r, xerr := s.Exec(ctx, cmd, session.ExecOptions{})
			switch {
			case errors.Is(xerr, session.ErrShellEnded):
				io.WriteString(out, r.Stdout)
				io.WriteString(errw, r.Stderr)
				return exitStatus{r.ExitCode}
			case errors.Is(xerr, context.Canceled):
				return exitStatus{130}
			case errors.Is(xerr, session.ErrInvalidCommand):
				fmt.Fprintln(errw, "execkit:", xerr)
				continue
			case xerr != nil:
				return execError{xerr}
			}
			io.WriteString(out, r.Stdout)
			io.WriteString(errw, r.Stderr)
			notices(errw, r)
			last = r.ExitCode
			fmt.Fprintf(errw, "[exit %d · %s · %s]\n", r.ExitCode, r.Duration.Round(10*time.Microsecond), r.Cwd)
		}
		if err != nil {
			if interactive {
				fmt.Fprintln(errw)
			}
			if last != 0 {
				return exitStatus{last}
			}
			return nil
		}
	}
}
