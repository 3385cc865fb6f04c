//go:build !windows

package safety

import (
	"os"
	"path/filepath"
	"testing"
)

// execStart is a start of file, named name, with argv.
type execStart struct {
	name, file string
	argv       []string
}

func start(name, file string, argv ...string) execStart { return execStart{name, file, argv} }

func TestExecGuard(t *testing.T) {
	rm, err := filepath.EvalSymlinks("/bin/rm")
	if err != nil {
		t.Skip("no /bin/rm")
	}
	dir := t.TempDir()
	copyOf := func(src, name string, extra []byte) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, append(b, extra...), 0o755); err != nil {
			t.Fatal(err)
		}
		return f
	}
	tidy := copyOf(rm, "tidy", nil)
	changed := copyOf(rm, "changed", []byte{0})
	link := filepath.Join(dir, "hard")
	os.Link(rm, link) // may fail across file systems: then it is a copy test too
	if _, err := os.Stat(link); err != nil {
		link = copyOf(rm, "hard", nil)
	}
	script := filepath.Join(dir, "run.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	deny, _ := NewPolicy(nil, []string{"rm"}, []string{`--force-push`})
	deny.Tripwire = true
	allow, _ := NewPolicy([]string{"make", "git"}, nil, nil)
	tripwire := TripwirePolicy()
	for _, c := range []struct {
		name   string
		p      *Policy
		e      execStart
		denied string // the rule, or "" when allowed
	}{
		{"by name", deny, start(rm, rm, "rm", "x"), "deny:rm"},
		{"by argv0", deny, start("/opt/x/tool", "/opt/x/tool", "rm"), ""}, // no such file: the kernel fails it
		{"copy under another name", deny, start(tidy, tidy, "tidy", "x"), "deny:rm"},
		{"hard link or copy", deny, start(link, link, "hard", "x"), "deny:rm"},
		{"symbolic link", deny, start(filepath.Join(dir, "sym"), rm, "sym", "x"), "deny:rm"},
		{"modified copy", deny, start(changed, changed, "changed", "x"), ""},
		{"busybox applet", deny, start(tidy, tidy, "busybox", "rm", "x"), "deny:rm"},
		{"pattern on argv", deny, start(script, script, "run.sh", "--force-push"), "pattern:--force-push"},
		{"tripwire", tripwire, start(script, script, "rm", "-rf", "/"), "tripwire"},
		{"tripwire allows the everyday", tripwire, start(script, script, "rm", "-rf", "build"), ""},
		{"allowed program", deny, start(script, script, "run.sh", "--help"), ""},
		{"missing file", deny, start("/nonexistent/rm", "/nonexistent/rm", "rm"), ""},
		{"not in the allow list", allow, start(script, script, "run.sh"), "allow-list"},
		{"shell under an allow list", allow, start("/bin/sh", "/bin/sh", "sh", "-c", "make"), ""},
		{"wrapper under an allow list", allow, start("/usr/bin/env", "/usr/bin/env", "env", "make"), ""},
		{"no policy", nil, start(rm, rm, "rm", "x"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.e.file); err != nil && c.denied != "" {
				t.Skipf("%s is not here", c.e.file)
			}
			d := c.p.ExecGuard("/usr/local/bin:/usr/bin:/bin").Check(c.e.name, c.e.file, c.e.file, c.e.argv)
			switch {
			case c.denied == "" && !d.Allowed:
				t.Errorf("refused: %+v", d)
			case c.denied != "" && d.Allowed:
				t.Errorf("allowed, want %s", c.denied)
			case c.denied != "" && len(d.Rule) < len(c.denied) || c.denied != "" && d.Rule[:len(c.denied)] != c.denied:
				t.Errorf("rule %q, want %s: %s", d.Rule, c.denied, d.Reason)
			}
		})
	}
}
