package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/undo"
)

// workspaceFlags turn on workspace checkpoints for exec and shell.
func workspaceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workspace", Usage: "keep checkpoints of this directory (on the target) so that `execkit undo` can restore it"},
		&cli.StringFlag{Name: "checkpoint", Usage: "with --workspace: auto (before each command that may change files), manual or off", Value: session.CheckpointAuto},
		&cli.StringFlag{Name: "checkpoint-dir", Usage: "with --workspace: the checkpoint repository (default under $XDG_STATE_HOME/execkit/checkpoints)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "with --workspace: a path pattern left out of checkpoints and never restored (repeatable; .git, node_modules, .ssh … always are)"},
	}
}

// storeOptions are the checkpoint store options the flags give.
func storeOptions(c *cli.Context, workspace, dir string) undo.Options {
	return undo.Options{Workspace: workspace, Dir: dir, Exclude: c.StringSlice("exclude")}
}

// openStore opens the checkpoint store of a workspace on the target the
// transport reaches.
func openStore(ctx context.Context, c *cli.Context, tr any, workspace, dir string) (undo.Store, error) {
	opts := storeOptions(c, workspace, dir)
	if r, ok := remoteRunner(tr); ok {
		return undo.OpenRemote(ctx, r, opts)
	}
	return undo.OpenLocal(opts)
}

func undoCommand() *cli.Command {
	return &cli.Command{
		Name:      "undo",
		Usage:     "restore a workspace to its state just before a journal entry ran",
		ArgsUsage: "SEQ",
		Description: "Restores the workspace recorded with the entry's session: files modified or deleted since\n" +
			"are restored, files created since are removed; excluded paths are not touched. The undo is\n" +
			"itself journaled with a checkpoint of the state it replaced, so it can be undone in turn.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "journal", Usage: "the journal FILE (required)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would change, change nothing"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "extra excluded patterns, as given when recording"},
		}, targetFlags()...),
		Action: func(c *cli.Context) error {
			path := c.String("journal")
			if path == "" {
				return usagef("undo needs --journal FILE")
			}
			if c.NArg() != 1 {
				return usagef("undo takes one entry number, got %d arguments", c.NArg())
			}
			seq, err := strconv.ParseUint(c.Args().First(), 10, 64)
			if err != nil || seq == 0 {
				return usagef("undo: %q is not an entry number", c.Args().First())
			}
			if _, err := os.Stat(path); err != nil {
				return usagef("undo: %v", err)
			}
			j, err := journal.Open(path, &journal.Options{Run: journal.Run{Version: version, Command: os.Args}})
			if err != nil {
				return err
			}
			defer j.Close()
			target, err := undoTarget(j, seq)
			if err != nil {
				return err
			}
			if target.Checkpoint == "" {
				fmt.Fprintf(c.App.Writer, "nothing to undo: no file changed since entry %d\n", seq)
				return nil
			}
			ctx, stop := signalContext()
			defer stop()
			tr, release, err := openRecordedTransport(ctx, c, target.Session)
			if err != nil {
				return err
			}
			defer release()
			store, err := openStore(ctx, c, tr, target.Options.Workspace, target.Options.CheckpointDir)
			if err != nil {
				return execError{err}
			}
			sid := ""
			if !c.Bool("dry-run") {
				rec := journal.Session{ID: "undo-" + strconv.FormatUint(seq, 10) + "-" + target.Session.ID, Transport: target.Session.Transport,
					Target: target.Session.Target, Options: target.Session.Options}
				if err := j.AddSession(rec); err != nil {
					return execError{err}
				}
				sid = rec.ID
			}
			label := fmt.Sprintf("execkit undo %d", seq)
			res, err := session.RestoreJournaled(ctx, j, sid, target.Options.Workspace, store, target.Checkpoint, label, c.Bool("dry-run"))
			verb := "restored"
			if res.DryRun {
				verb = "would restore"
			}
			for _, ch := range res.Changes {
				fmt.Fprintln(c.App.Writer, ch.String())
			}
			if err != nil {
				return execError{err}
			}
			fmt.Fprintf(c.App.ErrWriter, "execkit: %s %s to its state before entry %d: %d file(s)", verb, target.Options.Workspace, seq, len(res.Changes))
			if res.Entry != 0 {
				fmt.Fprintf(c.App.ErrWriter, "; recorded as entry %d (undo it with: execkit undo %d --journal %s)", res.Entry, res.Entry, path)
			}
			fmt.Fprintln(c.App.ErrWriter)
			return nil
		},
	}
}

// undoTarget reads where entry seq's workspace state is kept.
func undoTarget(j *journal.Journal, seq uint64) (session.EntryState, error) {
	var st session.EntryState
	err := j.View(func(r *journal.Reader) error {
		var err error
		st, err = session.StateBefore(r, seq)
		return err
	})
	if err != nil {
		if errors.Is(err, session.ErrNoCheckpoints) {
			return st, usagef("undo: %v (record with --workspace DIR)", err)
		}
		return st, usagef("undo: %v", err)
	}
	return st, nil
}
