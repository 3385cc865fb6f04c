package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleEntries() (Run, []Session, []Entry) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	run := Run{ID: "r1", Host: "h", Started: t0, Version: "test"}
	ss := []Session{{ID: "s1", Transport: "local", Target: "h", Started: t0}}
	es := []Entry{
		{Seq: 1, Status: StatusOK, Intent: Intent{Session: "s1", Command: "echo hi", CwdBefore: "/w", Time: t0.Add(time.Second)},
			Completion: &Completion{Status: StatusOK, Stdout: "hi\n", Cwd: "/w", DurationMS: 1.5, Time: t0.Add(1500 * time.Millisecond)}},
		{Seq: 2, Status: StatusFailed, Intent: Intent{Session: "s1", Command: "printf '```'; ls nope", CwdBefore: "/w", Time: t0.Add(2 * time.Second)},
			Completion: &Completion{Status: StatusFailed, Stdout: "```", Stderr: "ls: nope\n", ExitCode: 2, Cwd: "/w", Time: t0.Add(3 * time.Second)}},
		{Seq: 3, Status: StatusInterrupted, Intent: Intent{Session: "s1", Command: "sleep 9", CwdBefore: "/w", Time: t0.Add(4 * time.Second)}},
	}
	return run, ss, es
}

func TestExportJSONL(t *testing.T) {
	_, _, es := sampleEntries()
	var b bytes.Buffer
	if err := ExportJSONL(&b, es); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	var e Entry
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Completion.Stderr != "ls: nope\n" {
		t.Errorf("line 2: %v %+v", err, e)
	}
}

func TestExportMarkdown(t *testing.T) {
	run, ss, es := sampleEntries()
	var b bytes.Buffer
	ExportMarkdown(&b, run, ss, es)
	md := b.String()
	for _, want := range []string{"# execkit run r1", "## Session s1 (local h)", "### 2 · failed", "/w $ echo hi", "exit 2 · ", "stderr:\n```\nls: nope\n```", "````\n```\n````", "### 3 · interrupted"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestExportAsciicast(t *testing.T) {
	run, _, es := sampleEntries()
	var b bytes.Buffer
	if err := ExportAsciicast(&b, run, es); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&b)
	sc.Scan()
	var h map[string]any
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h["version"] != float64(2) || h["width"] == nil {
		t.Fatalf("header %q: %v", sc.Text(), err)
	}
	last := -1.0
	var text strings.Builder
	n := 0
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 || ev[1] != "o" {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		at := ev[0].(float64)
		if at < last {
			t.Errorf("time goes back: %v after %v", at, last)
		}
		last = at
		text.WriteString(ev[2].(string))
		n++
	}
	if n != 6 || last != 4 {
		t.Errorf("%d events, last at %v", n, last)
	}
	for _, want := range []string{"$ echo hi\r\n", "hi\r\n", "\x1b[31mls: nope\r\n", "[exit 2 · ", "[interrupted]"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("recording lacks %q", want)
		}
	}
}
