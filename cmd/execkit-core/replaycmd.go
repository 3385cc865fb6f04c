package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/replay"
)

// replayExit is how replay and diff end: 0 all match, 1 divergence, 2 an
// error (with its message).
type replayExit struct {
	code int
	err  error
}

func (e replayExit) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("replay: exit %d", e.code)
}

func replayFail(err error) error {
	if err == nil {
		return nil
	}
	return replayExit{code: 2, err: err}
}

// compareFlags are shared by replay and diff.
func compareFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "session", Usage: "only this recorded session"},
		&cli.Uint64Flag{Name: "from", Usage: "first entry (SEQ) to take"},
		&cli.Uint64Flag{Name: "to", Usage: "last entry (SEQ) to take"},
		&cli.BoolFlag{Name: "stop-on-diverge", Usage: "stop at the first entry that differs"},
		&cli.StringFlag{Name: "compare", Value: "exit,stdout,stderr,cwd", Usage: "fields to compare"},
		&cli.StringFlag{Name: "normalize", Value: "all", Usage: "normalizers: all, none, or a list of durations,timestamps,pids,tmp,hex,ansi,space and @RULES-FILE"},
		&cli.StringFlag{Name: "format", Value: "text", Usage: "report format: text, json or junit"},
		&cli.StringFlag{Name: "output", Usage: "write the report to this file instead of standard output"},
	}
}

func compareOptions(c *cli.Context) (replay.Options, error) {
	o := replay.Options{Session: c.String("session"), From: c.Uint64("from"), To: c.Uint64("to"), StopOnDiverge: c.Bool("stop-on-diverge")}
	var err error
	if o.Compare, err = replay.ParseFields(c.String("compare")); err != nil {
		return o, err
	}
	if o.Normalizer, err = replay.ParseNormalize(c.String("normalize")); err != nil {
		return o, err
	}
	switch c.String("format") {
	case "text", "json", "junit":
	default:
		return o, fmt.Errorf("--format %q: want text, json or junit", c.String("format"))
	}
	return o, nil
}

// writeReport prints the report and turns its verdict into the exit code.
func writeReport(c *cli.Context, rep *replay.Report) error {
	w := c.App.Writer
	color := false
	if f := c.String("output"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return replayFail(err)
		}
		defer out.Close()
		w = out
	} else if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" {
		color = true
	}
	var err error
	switch c.String("format") {
	case "json":
		err = rep.WriteJSON(w)
	case "junit":
		err = rep.WriteJUnit(w)
	default:
		err = rep.WriteText(w, color)
	}
	if err != nil {
		return replayFail(err)
	}
	switch {
	case rep.Errors > 0:
		return replayExit{code: 2}
	case rep.Diverged > 0:
		return replayExit{code: 1}
	}
	return nil
}

func loadPlan(path string, o replay.Options) (replay.Plan, error) {
	if _, err := os.Stat(path); err != nil {
		return replay.Plan{}, err
	}
	var p replay.Plan
	err := journal.Read(path, func(r *journal.Reader) error {
		var err error
		p, err = replay.Load(r, path, o)
		return err
	})
	return p, err
}

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:      "replay",
		Usage:     "re-run a journal's commands in fresh sessions and compare the results",
		ArgsUsage: "JOURNAL",
		Description: "Each recorded session is replayed in one fresh session on the target (--local by default,\n" +
			"--ssh, --docker or --docker-image), with the recorded shell, policy and timeout. Blocked entries\n" +
			"are checked to be blocked still, never run. ${secret:NAME} placeholders are filled from the\n" +
			"environment variable NAME. Exit status: 0 all match, 1 a divergence, 2 an error.",
		Flags: flagsOf(append(compareFlags(),
			&cli.BoolFlag{Name: "local", Usage: "replay on this machine (the default)"},
			&cli.StringFlag{Name: "record", Usage: "journal the replayed commands in this new journal file"},
			anchorFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "list the entries that would run, run nothing"},
		), targetFlags(), sshFlags()),
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { return replayFail(err) },
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return replayFail(fmt.Errorf("replay takes one journal, got %d arguments", c.NArg()))
			}
			if c.Bool("local") && remoteTarget(c) {
				return replayFail(fmt.Errorf("--local and a remote target exclude each other"))
			}
			path := c.Args().First()
			o, err := compareOptions(c)
			if err != nil {
				return replayFail(err)
			}
			o.DryRun = c.Bool("dry-run")
			plan, err := loadPlan(path, o)
			if err != nil {
				return replayFail(err)
			}
			o.Secrets = map[string]string{}
			for _, name := range replay.Placeholders(plan.Entries) {
				if v, ok := os.LookupEnv(name); ok {
					o.Secrets[name] = v
				}
			}
			if o.Target, err = endpointFromFlags(c); err != nil {
				return replayFail(err)
			}
			if o.Env, err = envFromFlags(c); err != nil {
				return replayFail(err)
			}
			if out := c.String("record"); out != "" && !o.DryRun {
				if _, err := os.Stat(out); err == nil {
					return replayFail(fmt.Errorf("--record %s: the file exists; name a new journal", out))
				}
				j, err := openRunJournal(c, out, nil)
				if err != nil {
					return replayFail(err)
				}
				defer j.finish()
				o.Record = j.Journal
			}
			if f, ok := c.App.ErrWriter.(*os.File); ok && term.IsTerminal(int(f.Fd())) && c.String("format") == "text" {
				o.Progress = progressBar(f)
			}
			ctx, stop := signalContext()
			defer stop()
			rep, err := replay.Run(ctx, plan, o)
			if o.Progress != nil {
				fmt.Fprint(c.App.ErrWriter, "\r\x1b[K")
			}
			if err != nil {
				return replayFail(err)
			}
			return writeReport(c, &rep)
		},
	}
}

// progressBar draws "[=====     ] 12/40" on a terminal.
func progressBar(w io.Writer) func(done, total int) {
	return func(done, total int) {
		const width = 30
		n := width * done / total
		fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total)
	}
}

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two journals entry by entry without running anything",
		ArgsUsage: "A.db B.db",
		Description: "Sessions are paired in order, and their entries in order (a recorded run against its\n" +
			"replay --record, say). Exit status: 0 all match, 1 a divergence, 2 an error.",
		Flags:        compareFlags(),
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { return replayFail(err) },
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return replayFail(fmt.Errorf("diff takes two journals, got %d arguments", c.NArg()))
			}
			o, err := compareOptions(c)
			if err != nil {
				return replayFail(err)
			}
			a, err := loadPlan(c.Args().Get(0), o)
			if err != nil {
				return replayFail(err)
			}
			bo := o
			bo.Session, bo.From, bo.To = "", 0, 0 // pairs follow A's selection
			b, err := loadPlan(c.Args().Get(1), bo)
			if err != nil {
				return replayFail(err)
			}
			rep := replay.Diff(a, b, o)
			return writeReport(c, &rep)
		},
	}
}
