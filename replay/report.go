package replay

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// WriteText writes a readable report: one line per entry, the unified
// diffs of diverging ones, and a summary. With color, ANSI colours mark
// outcomes and diff lines.
func (r *Report) WriteText(w io.Writer, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	mark := map[string]string{Match: paint("32", "✓"), Diverge: paint("31", "✗"), Skipped: paint("33", "-"), Failed: paint("31;1", "!")}
	for _, e := range r.Entries {
		seq := fmt.Sprint(e.Seq)
		if e.Seq == 0 {
			seq = fmt.Sprintf("(%d)", e.ReplaySeq)
		}
		line := fmt.Sprintf("%s %4s  %s", mark[e.Outcome], seq, oneLine(e.Command))
		if e.Reason != "" {
			line += "  — " + e.Reason
		}
		fmt.Fprintln(w, line)
		for _, d := range e.Diffs {
			if d.Diff == "" {
				fmt.Fprintf(w, "       %s: recorded %q, replayed %q\n", d.Field, d.Recorded, d.Replayed)
				continue
			}
			for _, l := range strings.SplitAfter(strings.TrimSuffix(d.Diff, "\n"), "\n") {
				l = strings.TrimSuffix(l, "\n")
				switch {
				case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
					l = paint("32", l)
				case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
					l = paint("31", l)
				case strings.HasPrefix(l, "@@"):
					l = paint("36", l)
				}
				fmt.Fprintln(w, "       "+l)
			}
		}
	}
	verdict := paint("32", "all match")
	if !r.OK() {
		verdict = paint("31", fmt.Sprintf("first divergence at entry %d", r.FirstDiverge))
		if r.Diverged == 0 {
			verdict = paint("31", "errors")
		}
	}
	_, err := fmt.Fprintf(w, "%d entries: %d matched, %d diverged, %d errors, %d skipped%s — %s\n",
		len(r.Entries), r.Matched, r.Diverged, r.Errors, r.Skipped, map[bool]string{true: " (stopped at the first divergence)"}[r.Stopped], verdict)
	return err
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "⏎")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// WriteJSON writes the report as JSON (schema in docs/replay.md).
func (r *Report) WriteJSON(w io.Writer) error {
	if r.Entries == nil {
		r.Entries = []EntryResult{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit XML, as CI systems read it: one test case per entry.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr"`
	Skipped int          `xml:"skipped,attr"`
	Time    string       `xml:"time,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name    string      `xml:"name,attr"`
	Tests   int         `xml:"tests,attr"`
	Fails   int         `xml:"failures,attr"`
	Errors  int         `xml:"errors,attr"`
	Skipped int         `xml:"skipped,attr"`
	Time    string      `xml:"time,attr"`
	Cases   []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a test suite per recorded
// session, a test case per entry.
func (r *Report) WriteJUnit(w io.Writer) error {
	secs := func(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }
	top := junitSuites{Name: "execkit replay " + r.Journal, Tests: len(r.Entries), Fails: r.Diverged, Errors: r.Errors, Skipped: r.Skipped, Time: secs(r.DurationMS)}
	index := map[string]int{}
	for _, e := range r.Entries {
		i, ok := index[e.Session]
		if !ok {
			i = len(top.Suites)
			index[e.Session] = i
			top.Suites = append(top.Suites, junitSuite{Name: "session " + e.Session})
		}
		s := &top.Suites[i]
		c := junitCase{Name: fmt.Sprintf("%d: %s", e.Seq, oneLine(e.Command)), Classname: "execkit.session." + e.Session, Time: secs(e.DurationMS)}
		switch e.Outcome {
		case Diverge:
			var body strings.Builder
			var fields []string
			for _, d := range e.Diffs {
				fields = append(fields, d.Field)
				if d.Diff != "" {
					body.WriteString(d.Diff)
				} else {
					fmt.Fprintf(&body, "%s: recorded %q, replayed %q\n", d.Field, d.Recorded, d.Replayed)
				}
			}
			msg := e.Reason
			if msg == "" {
				msg = strings.Join(fields, ", ") + " differ"
			}
			c.Failure = &junitMessage{Message: msg, Body: body.String()}
			s.Fails++
		case Failed:
			c.Error = &junitMessage{Message: e.Reason}
			s.Errors++
		case Skipped:
			c.Skipped = &junitMessage{Message: e.Reason}
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	for i := range top.Suites {
		var ms float64
		for _, e := range r.Entries {
			if "session "+e.Session == top.Suites[i].Name {
				ms += e.DurationMS
			}
		}
		top.Suites[i].Time = secs(ms)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(top); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
