package journal

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/execkit/execkit/safety"
)

// ExportJSONL writes the entries as JSON lines, one entry per line.
func ExportJSONL(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// ExportMarkdown writes a readable transcript: the run, then each session's
// commands with their status and output in fenced blocks.
func ExportMarkdown(w io.Writer, run Run, sessions []Session, entries []Entry) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# execkit run %s\n\n", run.ID)
	fmt.Fprintf(b, "- host: %s\n- started: %s\n- execkit: %s\n", run.Host, run.Started.Format(time.RFC3339), run.Version)
	for _, s := range sessions {
		fmt.Fprintf(b, "\n## Session %s (%s %s)\n", s.ID, s.Transport, s.Target)
		for _, e := range entries {
			if e.Session != s.ID {
				continue
			}
			fmt.Fprintf(b, "\n### %d · %s\n\n", e.Seq, e.Status)
			fence(b, "sh", e.CwdBefore+" $ "+e.Command)
			if c := e.Completion; c != nil {
				fmt.Fprintf(b, "exit %d · %.1f ms · cwd %s\n", c.ExitCode, c.DurationMS, c.Cwd)
				if c.Stdout != "" {
					b.WriteString("\nstdout:\n")
					fence(b, "", c.Stdout)
				}
				if c.Stderr != "" {
					b.WriteString("\nstderr:\n")
					fence(b, "", c.Stderr)
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fence writes text in a code fence longer than any run of backticks in it,
// with escape sequences and invisible characters shown, not kept.
func fence(b *strings.Builder, lang, text string) {
	text = safety.Visible(text)
	n, run := 3, 0
	for _, r := range text {
		if r == '`' {
			run++
			if run >= n {
				n = run + 1
			}
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", n)
	b.WriteString(f + lang + "\n" + strings.TrimSuffix(text, "\n") + "\n" + f + "\n")
}

// ExportAsciicast writes the entries as an asciicast v2 recording that
// asciinema plays: a prompt with the working directory and the command,
// then the output (stderr in red) and the exit code, at the recorded times.
func ExportAsciicast(w io.Writer, run Run, entries []Entry) error {
	start := run.Started
	if len(entries) > 0 && (start.IsZero() || entries[0].Time.Before(start)) {
		start = entries[0].Time
	}
	header := map[string]any{
		"version": 2, "width": 120, "height": 40, "timestamp": start.Unix(),
		"title": "execkit run " + run.ID, "env": map[string]string{"SHELL": "/bin/bash", "TERM": "xterm-256color"},
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return err
	}
	last := 0.0
	event := func(at time.Time, text string) error {
		t := at.Sub(start).Seconds()
		if t < last {
			t = last // times must not go back
		}
		last = t
		return enc.Encode([]any{round6(t), "o", text})
	}
	for _, e := range entries {
		prompt := "\x1b[1;34m" + e.CwdBefore + "\x1b[0m $ " + crlf(e.Command) + "\r\n"
		if err := event(e.Time, prompt); err != nil {
			return err
		}
		c := e.Completion
		if c == nil {
			if err := event(e.Time, "\x1b[33m["+string(e.Status)+"]\x1b[0m\r\n"); err != nil {
				return err
			}
			continue
		}
		out := crlf(c.Stdout)
		if c.Stderr != "" {
			out += "\x1b[31m" + crlf(c.Stderr) + "\x1b[0m"
		}
		if out != "" && !strings.HasSuffix(out, "\n") && !strings.HasSuffix(out, "\x1b[0m") {
			out += "\r\n"
		}
		out += fmt.Sprintf("\x1b[2m[exit %d · %.1f ms]\x1b[0m\r\n", c.ExitCode, c.DurationMS)
		if err := event(c.Time, out); err != nil {
			return err
		}
	}
	return nil
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func round6(f float64) float64 { return float64(int64(f*1e6+0.5)) / 1e6 }
