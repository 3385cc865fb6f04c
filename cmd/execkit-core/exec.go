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
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
)

// printResult prints a command's result as execkit exec does and returns
// its status to pass through.
func printResult(c *cli.Context, r session.Result) error {
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, r); err != nil {
			return err
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
// for shell the person typed exit. Every flag is checked before the
// journal is opened or created.
func withSession(c *cli.Context, fn func(context.Context, *session.Session) error) (err error) {
	sp, env, err := sessionSetup(c)
	if err != nil {
		return err
	}
	sp.NoRespawn = true
	if path := c.String("journal"); path != "" {
		j, jerr := openRunJournal(c, path, nil)
		if jerr != nil {
			return jerr
		}
		defer func() { // err is the result: a failed seal is reported
			if ferr := j.finish(); err == nil {
				err = ferr
			}
		}()
		env.Journal = j.Journal
	}
	ctx, stop := signalContext()
	defer stop()
	o, err := openTarget(ctx, c, sp, &env)
	if err != nil {
		return err
	}
	defer o.Close()
	return fn(ctx, o.Session)
}

// openTarget opens the session sp describes for a command of the command
// line, and says on stderr when the policy cannot hold at program starts
// there (--enforce exec was not asked for, so it fell back to the text).
func openTarget(ctx context.Context, c *cli.Context, sp journal.SessionSpec, env *target.Env) (*target.Opened, error) {
	o, err := target.Open(ctx, sp, env, "")
	if err != nil {
		return nil, err
	}
	if mode, note := o.Session.Enforcement(); mode == session.EnforceText && note != "" {
		fmt.Fprintf(c.App.ErrWriter, "execkit: the policy is checked on each command's text only, not at program starts: %s\n", note)
	}
	return o, nil
}

// sessionSetup reads and checks the session flags and the operator's
// settings.
func sessionSetup(c *cli.Context) (journal.SessionSpec, target.Env, error) {
	sp, err := specFromFlags(c)
	if err != nil {
		return sp, target.Env{}, err
	}
	env, err := envFromFlags(c)
	return sp, env, err
}

// runJournal is the journal one execkit run writes: opened (created when
// missing, a new run after a sealed one) by openRunJournal, ended by
// finish.
type runJournal struct {
	*journal.Journal
	path, anchor string
	notes        io.Writer
}

// openRunJournal opens the journal at path for this execkit run; the
// command's --anchor names the anchor file, if any.
func openRunJournal(c *cli.Context, path string, settings map[string]string) (*runJournal, error) {
	if a := c.String("anchor"); a != "" {
		// Found out now, not after the run: the anchor file can be written.
		f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, usagef("--anchor: %v", err)
		}
		f.Close()
	}
	j, err := journal.Open(path, &journal.Options{Run: journal.Run{Version: execkitVersion(), Command: os.Args, Settings: settings}})
	if err != nil {
		return nil, err
	}
	return &runJournal{Journal: j, path: path, anchor: c.String("anchor"), notes: c.App.ErrWriter}, nil
}

// finish ends the run cleanly: seals it, says its head (and appends it to
// the anchor file) and closes the journal.
func (j *runJournal) finish() error {
	s, err := j.Seal()
	if err == nil {
		fmt.Fprintf(j.notes, "execkit: journal %s sealed: %d records, head %s\n", j.path, s.Records, s.Head)
		if j.anchor != "" {
			err = journal.AppendAnchor(j.anchor, journal.AnchorOf(s))
		}
	} else if errors.Is(err, journal.ErrSealed) {
		err = nil // sealed already
	}
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	return err
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
		Flags: flagsOf(sessionFlags(), targetFlags(), sshFlags(), workspaceFlags(), []cli.Flag{
			journalFlag("record every command in this journal file (created if missing)"),
			anchorFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		}),
		Action: func(c *cli.Context) error {
			cmd, err := joinArgs(c)
			if err != nil {
				return err
			}
			_, served := c.App.Metadata[inRecorder].(recorderRun)
			if (served || os.Getenv(envSocket) != "") && !remoteTarget(c) && c.String("journal") == "" && c.String("workspace") == "" {
				return execViaRecorder(c, cmd)
			}
			if served {
				return errDelegate
			}
			return withSession(c, func(ctx context.Context, s *session.Session) error {
				r, err := s.Exec(ctx, cmd, session.ExecOptions{})
				if errors.Is(err, session.ErrShellEnded) {
					r.ShellEnded, err = false, nil
				}
				if err != nil && !errors.Is(err, context.Canceled) {
					return err
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
	if r.FrameBroken {
		fmt.Fprintln(w, "execkit: the shell's frame was broken during or before this command; its exit code, directory and output may be forged")
	}
}

func shellCommand() *cli.Command {
	return &cli.Command{
		Name:  "shell",
		Usage: "an interactive prompt: each line is one framed command",
		Description: "Reads command lines from stdin and runs each in one persistent session,\n" +
			"showing its output and then its exit code and duration. Ends at end of input,\n" +
			"or when the shell itself exits (exit, exec, set -e), with that status.",
		Flags: flagsOf(sessionFlags(), targetFlags(), sshFlags(), workspaceFlags(), []cli.Flag{
			journalFlag("record every command in this journal file (created if missing)"),
			anchorFlag(),
		}),
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
			case errors.Is(xerr, session.ErrCheckpoint):
				// Refused, and journaled as such; the session goes on.
				fmt.Fprintln(errw, "execkit:", xerr)
				last = ExitBlocked
				continue
			case xerr != nil:
				return xerr
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
