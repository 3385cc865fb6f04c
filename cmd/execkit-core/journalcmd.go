package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
)

// journalArg returns the journal path argument, and the rest.
func journalArg(c *cli.Context, rest int) (string, []string, error) {
	if c.NArg() != 1+rest {
		return "", nil, usagef("%s: usage: execkit %s %s [flags]", c.Command.Name, c.Command.Name, c.Command.ArgsUsage)
	}
	path := c.Args().First()
	if fi, err := os.Stat(path); err != nil {
		return "", nil, usagef("%s: no journal at %s (%v)", c.Command.Name, path, errors.Unwrap(err))
	} else if fi.IsDir() {
		return "", nil, usagef("%s: %s is a directory, not a journal", c.Command.Name, path)
	}
	return path, c.Args().Tail(), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func logCommand() *cli.Command {
	return &cli.Command{
		Name:      "log",
		Usage:     "list the commands a journal recorded",
		ArgsUsage: "JOURNAL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "session", Usage: "only this session"},
			&cli.StringFlag{Name: "status", Usage: "only this status: ok, failed, blocked, timed_out, canceled, interrupted, shell_ended"},
			&cli.StringFlag{Name: "grep", Usage: "only entries whose command or output contains this text"},
			&cli.BoolFlag{Name: "json", Usage: "print the entries as a JSON array (with --follow: one JSON object per line)"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing entries as they complete, while another process writes the journal; ends when it closes the journal, or on ^C"},
		},
		Action: func(c *cli.Context) error {
			path, _, err := journalArg(c, 0)
			if err != nil {
				return err
			}
			f := journal.Filter{Session: c.String("session"), Status: journal.Status(c.String("status")), Text: c.String("grep")}
			if c.Bool("follow") {
				return followLog(c, path, f)
			}
			return emptyIsNothing(c, journal.Read(path, func(r *journal.Reader) error {
				es, err := r.Entries(f)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					if es == nil {
						es = []journal.Entry{}
					}
					return printJSON(c.App.Writer, es)
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tSESSION\tSTATUS\tEXIT\tDURATION\tCWD\tCOMMAND")
				for _, e := range es {
					exit, dur, cwd := "-", "-", e.CwdBefore
					if cp := e.Completion; cp != nil {
						exit = strconv.Itoa(cp.ExitCode)
						dur = fmt.Sprintf("%.1fms", cp.DurationMS)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Session, e.Status, exit, dur, safety.Visible(cwd), oneLine(safety.Visible(e.Command), 70))
				}
				return tw.Flush()
			}))
		},
	}
}

// followLog prints the entries of the journal at path as they complete.
func followLog(c *cli.Context, path string, f journal.Filter) error {
	ctx, stop := signalContext()
	defer stop()
	w := c.App.Writer
	if !c.Bool("json") {
		fmt.Fprintf(w, "%-5s %-22s %-12s %-5s %-10s %s\n", "SEQ", "SESSION", "STATUS", "EXIT", "DURATION", "COMMAND")
	}
	enc := json.NewEncoder(w)
	err := journal.FollowFile(ctx, path, func(e journal.Entry) error {
		if e.Status == journal.StatusRunning || !f.Match(e) {
			return nil
		}
		if c.Bool("json") {
			return enc.Encode(e)
		}
		exit, dur := "-", "-"
		if cp := e.Completion; cp != nil {
			exit, dur = strconv.Itoa(cp.ExitCode), fmt.Sprintf("%.1fms", cp.DurationMS)
		}
		_, err := fmt.Fprintf(w, "%-5d %-22s %-12s %-5s %-10s %s\n", e.Seq, e.Session, e.Status, exit, dur, oneLine(safety.Visible(e.Command), 70))
		return err
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// oneLine shows a command on one line of at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ⏎ ")), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one recorded command with its output",
		ArgsUsage: "JOURNAL SEQ",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the entry as JSON"},
			&cli.BoolFlag{Name: "raw", Usage: "print recorded text as it is, escape sequences included (by default they are shown, not executed)"},
		},
		Action: func(c *cli.Context) error {
			path, rest, err := journalArg(c, 1)
			if err != nil {
				return err
			}
			seq, err := strconv.ParseUint(rest[0], 10, 64)
			if err != nil || seq == 0 {
				return usagef("show: %q is not an entry number", rest[0])
			}
			return journal.Read(path, func(r *journal.Reader) error {
				e, err := r.Entry(seq)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c.App.Writer, e)
				}
				w := c.App.Writer
				show := safety.Visible
				if c.Bool("raw") {
					show = func(s string) string { return s }
				}
				fmt.Fprintf(w, "entry    %d\nsession  %s\nstatus   %s\ntime     %s\ncwd      %s\ncommand  %s\n", e.Seq, e.Session, e.Status, e.Time.Format(time.RFC3339Nano), show(e.CwdBefore), show(e.Command))
				if cp := e.Completion; cp != nil {
					fmt.Fprintf(w, "exit     %d\nduration %.3fms\ncwd now  %s\n", cp.ExitCode, cp.DurationMS, show(cp.Cwd))
					fmt.Fprintf(w, "--- stdout (%d bytes, %d dropped)\n%s", cp.Stdout_.Bytes, cp.Stdout_.Dropped, show(cp.Stdout))
					fmt.Fprintf(w, "\n--- stderr (%d bytes, %d dropped)\n%s", cp.Stderr_.Bytes, cp.Stderr_.Dropped, show(cp.Stderr))
				}
				return nil
			})
		},
	}
}

// emptyIsNothing turns the error of a journal whose writer was stopped
// while creating it into a notice: it has no entries, and nothing in it
// is wrong.
func emptyIsNothing(c *cli.Context, err error) error {
	if errors.Is(err, journal.ErrEmpty) {
		fmt.Fprintf(c.App.ErrWriter, "execkit: %v\n", err)
		return nil
	}
	return err
}

// verifyFailed is a journal that did not pass verify.
type verifyFailed struct{ rep journal.Report }

func (v verifyFailed) Error() string {
	msg := fmt.Sprintf("verify: %d problem(s)", len(v.rep.Problems))
	if v.rep.FirstBad > 0 {
		msg += fmt.Sprintf(", first bad record %d", v.rep.FirstBad)
	}
	if v.rep.FirstBadEntry > 0 {
		msg += fmt.Sprintf(" (entry %d)", v.rep.FirstBadEntry)
	}
	return msg + ": " + strings.Join(v.rep.Problems, "; ")
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a journal's structure and hash chain",
		ArgsUsage: "JOURNAL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "head", Usage: "the chain head printed when the run was sealed, kept elsewhere"},
			&cli.StringFlag{Name: "anchor", Usage: "check the journal against the heads its writers appended to this `FILE` (--anchor of exec, shell, record, mcp)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: func(c *cli.Context) error {
			path, _, err := journalArg(c, 0)
			if err != nil {
				return err
			}
			var anchors []journal.Anchor
			if f := c.String("anchor"); f != "" {
				if anchors, err = journal.ReadAnchors(f); err != nil {
					return usagef("--anchor: %v", err)
				}
			}
			return emptyIsNothing(c, journal.Read(path, func(r *journal.Reader) error {
				rep := r.Verify(c.String("head"), anchors...)
				if c.Bool("json") {
					printJSON(c.App.Writer, rep)
				} else if rep.OK {
					sealed := "sealed"
					switch {
					case rep.Live:
						sealed = "live (being written; not sealed yet)"
					case !rep.Sealed:
						sealed = "NOT sealed"
					}
					anchored := ""
					if anchors != nil {
						anchored = fmt.Sprintf(", %d anchors match", rep.Anchored)
					}
					fmt.Fprintf(c.App.Writer, "ok: %d records, %d entries, %d runs, %s%s, head %s\n", rep.Records, rep.Entries, rep.Runs, sealed, anchored, rep.Head)
					if !rep.Sealed && !rep.Live {
						fmt.Fprintln(c.App.Writer, "not sealed: its last writer is still running, or was stopped before it ended its run. The records here are intact and in order, but records cut from the end cannot be told from records never written, without an anchor (--anchor) or a head kept elsewhere (--head).")
					}
				}
				if !rep.OK {
					return verifyFailed{rep}
				}
				return nil
			}))
		},
	}
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a journal as JSON lines, Markdown or an asciicast v2 recording",
		ArgsUsage: "JOURNAL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "jsonl", Usage: "jsonl, md or asciicast"},
			&cli.StringFlag{Name: "session", Usage: "only this session"},
		},
		Action: func(c *cli.Context) error {
			path, _, err := journalArg(c, 0)
			if err != nil {
				return err
			}
			format := c.String("format")
			switch format {
			case "jsonl", "md", "asciicast":
			default:
				return usagef("export: unknown format %q (jsonl, md or asciicast)", format)
			}
			return journal.Read(path, func(r *journal.Reader) error {
				es, err := r.Entries(journal.Filter{Session: c.String("session")})
				if err != nil {
					return err
				}
				run, err := r.Run()
				if err != nil {
					return err
				}
				w := c.App.Writer
				switch format {
				case "md":
					ss, err := r.Sessions()
					if err != nil {
						return err
					}
					return journal.ExportMarkdown(w, run, ss, es)
				case "asciicast":
					return journal.ExportAsciicast(w, run, es)
				}
				return journal.ExportJSONL(w, es)
			})
		},
	}
}
