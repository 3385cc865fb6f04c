package replay

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

func sampleReport() Report {
	var r Report
	r.Journal = "run.db"
	r.add(EntryResult{Seq: 1, Session: "s1", Command: "echo <ok> & \"quoted\"", Outcome: Match, DurationMS: 1.5})
	r.add(EntryResult{Seq: 2, Session: "s1", Command: "cat f", Outcome: Diverge,
		Diffs: []FieldDiff{{Field: "stdout", Recorded: "a\n", Replayed: "b\x1b[0m\n", Diff: Unified("a\n", "b\x1b[0m\n", "r", "p")}}})
	r.add(EntryResult{Seq: 3, Session: "s2", Command: "sleep 1", Outcome: Skipped, Reason: "no recorded result"})
	r.add(EntryResult{Seq: 4, Session: "s2", Command: "x", Outcome: Failed, Reason: "session closed"})
	return r
}

// TestJUnitWellFormed parses the JUnit output back and checks the counts.
func TestJUnitWellFormed(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	if err := r.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests, Failures, Errors, Skipped int `xml:",attr"`
		Suites                           []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, buf.String())
	}
	var tests, fails, errs, skips int
	for _, s := range doc.Suites {
		tests += s.Tests
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				fails++
				if c.Failure.Message != "stdout differ" || !strings.Contains(c.Failure.Body, "+b") {
					t.Errorf("failure: %+v", c.Failure)
				}
			case c.Error != nil:
				errs++
			case c.Skipped != nil:
				skips++
			}
		}
	}
	if len(doc.Suites) != 2 || tests != 4 || fails != 1 || errs != 1 || skips != 1 {
		t.Errorf("suites %d tests %d failures %d errors %d skipped %d\n%s", len(doc.Suites), tests, fails, errs, skips, buf.String())
	}
	if !strings.Contains(buf.String(), `tests="4" failures="1" errors="1" skipped="1"`) {
		t.Errorf("top-level counts:\n%s", buf.String())
	}
}

// TestJSONShape pins the field names docs/replay.md documents.
func TestJSONShape(t *testing.T) {
	r := sampleReport()
	var buf bytes.Buffer
	r.WriteJSON(&buf)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"journal", "against", "normalizers", "compared", "entries", "matched", "diverged", "errors", "skipped", "first_diverge", "duration_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report has no %q", k)
		}
	}
	e := m["entries"].([]any)[1].(map[string]any)
	for _, k := range []string{"seq", "session", "command", "outcome", "diffs", "duration_ms"} {
		if _, ok := e[k]; !ok {
			t.Errorf("entry has no %q", k)
		}
	}
	d := e["diffs"].([]any)[0].(map[string]any)
	for _, k := range []string{"field", "recorded", "replayed", "diff"} {
		if _, ok := d[k]; !ok {
			t.Errorf("diff has no %q", k)
		}
	}
	if m["first_diverge"].(float64) != 2 || m["matched"].(float64) != 1 {
		t.Errorf("counts: %v", m)
	}
}
