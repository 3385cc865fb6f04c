package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/session"
	"github.com/execkit/execkit/target"
)

func undoCommand() *cli.Command {
	return &cli.Command{
		Name:      "undo",
		Usage:     "restore a workspace to its state just before a journal entry ran",
		ArgsUsage: "SEQ",
		Description: "Restores the workspace recorded with the entry's session: files modified or deleted since\n" +
			"are restored, files created since are removed; excluded paths are not touched. The undo is\n" +
			"itself journaled with a checkpoint of the state it replaced, so it can be undone in turn.",
		Flags: flagsOf([]cli.Flag{
			journalFlag("the journal FILE (required)"),
			anchorFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would change, change nothing"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "more patterns to leave alone, besides those the session was recorded with"},
		}, targetFlags(), sshFlags()),
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
			env, err := envFromFlags(c)
			if err != nil {
				return err
			}
			override, err := endpointFromFlags(c)
			if err != nil {
				return err
			}
			j, err := openRunJournal(c, path, nil)
			if err != nil {
				return err
			}
			defer j.finish()
			st, err := undoTarget(j.Journal, seq)
			if err != nil {
				return err
			}
			if st.Checkpoint == "" {
				fmt.Fprintf(c.App.Writer, "nothing to undo: no file changed since entry %d\n", seq)
				return nil
			}
			// The workspace as recorded, excludes included; target flags
			// say where it is now when it moved.
			sp := st.Session.Spec
			if override.Transport != "local" {
				sp.Endpoint = override
			}
			sp.Exclude = append(sp.Exclude, c.StringSlice("exclude")...)
			ctx, stop := signalContext()
			defer stop()
			store, err := target.OpenStore(ctx, sp, &env)
			if err != nil {
				return err
			}
			defer store.Close()
			sid := ""
			if !c.Bool("dry-run") {
				rec := journal.Session{ID: "undo-" + strconv.FormatUint(seq, 10) + "-" + st.Session.ID, Transport: st.Session.Transport,
					Target: st.Session.Target, Spec: sp}
				if err := j.AddSession(rec); err != nil {
					return err
				}
				sid = rec.ID
			}
			label := fmt.Sprintf("execkit undo %d", seq)
			res, err := session.RestoreJournaled(ctx, j.Journal, sid, sp.Workspace, store, st.Checkpoint, label, c.Bool("dry-run"))
			verb := "restored"
			if res.DryRun {
				verb = "would restore"
			}
			for _, ch := range res.Changes {
				fmt.Fprintln(c.App.Writer, ch.String())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "execkit: %s %s to its state before entry %d: %d file(s)", verb, sp.Workspace, seq, len(res.Changes))
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
