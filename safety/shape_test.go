package safety

import (
	"strings"
	"testing"
)

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain\n":               "plain\n",
		"\x1b[31mred\x1b[0m":    "red",
		"\x1b]0;title\x07after": "after",
		"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\": "link",
		"\x1bP+q544e\x1b\\x":                       "x",
		"a\x1b(Bb":                                 "ab",
		"\xc2\x9b31mred":                           "red",
		"\xc2\x9d0;t\xc2\x9cok":                    "ok",
		"bell\x07 nul\x00 del\x7f":                 "bell nul del",
		"10%\r20%\r100%\n":                         "100%\n",
		"win\r\nline\r\n":                          "win\nline\n",
		"abcdef\rXY\n":                             "XYcdef\n",
		"bad \xff\xfe utf8":                        "bad \ufffd\ufffd utf8",
		"tab\tkept":                                "tab\tkept",
		"unterminated \x1b[31":                     "unterminated ",
		"\x1b[?1049h\x1b[2J\x1b[Hscreen":           "screen",
		"é日本🙂":                                     "é日本🙂",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBudget(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		b.WriteString("line " + itoa(i) + "\n")
	}
	text := b.String()
	cases := []struct {
		budget Budget
		kept   int
		has    []string
		hasnt  []string
	}{
		{Budget{}, 100, []string{"line 1\n", "line 100\n"}, nil},
		{Budget{Mode: "head", Lines: 3}, 3, []string{"line 1\n", "line 3\n", "[… 97 lines omitted …]"}, []string{"line 4\n"}},
		{Budget{Mode: "tail", Lines: 2}, 2, []string{"[… 98 lines omitted …]\nline 99\nline 100\n"}, []string{"line 98\n"}},
		{Budget{Mode: "head+tail", Lines: 2}, 4, []string{"line 1\nline 2\n[… 96 lines omitted …]\nline 99\n"}, nil},
		{Budget{Mode: "grep", Grep: `^line 5\d$`, Context: 1}, 12, []string{"line 49\n", "line 50\n", "line 60\n", "[… 48 lines omitted …]"}, []string{"line 61\n"}},
		// The steps combine: grep, then the first or last of what is left.
		{Budget{Grep: `^line 5\d$`}, 10, []string{"line 50\n", "line 59\n"}, []string{"line 49\n", "line 60\n"}},
		{Budget{Mode: "tail", Lines: 3, Grep: `^line 5\d$`}, 3, []string{"[… 56 lines omitted …]\nline 57\nline 58\nline 59\n[… 41 lines omitted …]"}, []string{"line 56\n"}},
		{Budget{Mode: "head", Lines: 2, Grep: `^line [1-3]$`, Context: 1}, 2, []string{"line 1\nline 2\n[… 98 lines omitted …]"}, []string{"line 3\n"}},
		{Budget{Mode: "head+tail", Head: 1, Tail: 3}, 4, []string{"line 1\n[… 96 lines omitted …]\nline 98\nline 99\nline 100\n"}, []string{"line 2\n", "line 97\n"}},
	}
	for _, c := range cases {
		out, sh := c.budget.Apply(text)
		if sh.LinesTotal != 100 || sh.LinesKept != c.kept {
			t.Errorf("%+v: %+v", c.budget, sh)
		}
		for _, h := range c.has {
			if !strings.Contains(out, h) {
				t.Errorf("%+v: output lacks %q:\n%s", c.budget, h, out)
			}
		}
		for _, h := range c.hasnt {
			if strings.Contains(out, h) {
				t.Errorf("%+v: output has %q", c.budget, h)
			}
		}
	}
	out, sh := Budget{MaxChars: 20}.Apply(text)
	if !strings.HasPrefix(out, "line 1\nlin") || !strings.HasSuffix(out, "line 100\n") || !strings.Contains(out, "characters omitted") || sh.BytesDropped == 0 {
		t.Errorf("max chars: %q %+v", out, sh)
	}
	if _, sh := (Budget{Mode: "tail", Lines: 3, Grep: "5"}).Apply(text); sh.Mode != "grep+tail" {
		t.Errorf("combined mode reported as %q", sh.Mode)
	}
	if err := (Budget{Mode: "tail", Grep: "("}).Check(); err == nil || !strings.Contains(err.Error(), "invalid grep pattern") {
		t.Errorf("a bad pattern with a keep mode: %v", err)
	}
	for _, bad := range []Budget{{Mode: "middle"}, {Mode: "grep"}, {Mode: "grep", Grep: "("}, {Grep: "["}, {Lines: -1}, {Mode: "head+tail", Head: -2}} {
		if bad.Check() == nil {
			t.Errorf("Check accepted %+v", bad)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestBidiShownVisibly(t *testing.T) {
	in := "invoice\u202Egnp.exe and \u2066x\u2069 zero\u200Bwidth\ufeff"
	want := "invoice<U+202E>gnp.exe and <U+2066>x<U+2069> zero<U+200B>width<U+FEFF>"
	if got := Sanitize(in); got != want {
		t.Errorf("Sanitize = %q, want %q", got, want)
	}
	if got := Visible(in); got != want {
		t.Errorf("Visible = %q, want %q", got, want)
	}
	// Joiners are part of scripts and emoji, and stay.
	if got := Sanitize("a\u200Db\u200Cc"); got != "a\u200Db\u200Cc" {
		t.Errorf("joiners: %q", got)
	}
}

func TestVisible(t *testing.T) {
	cases := map[string]string{
		"plain text\n\twith tabs":            "plain text\n\twith tabs",
		"\x1b]0;pwned\x07\x1b[31mred\x1b[0m": `\x1b]0;pwned\x07\x1b[31mred\x1b[0m`,
		"bell\a back\b cr\r del\x7f":         `bell\x07 back\x08 cr\x0d del\x7f`,
		"c1 \u009b2J and bad \xff\xfe":       `c1 \u009b2J and bad \xff\xfe`,
		"héllo 世界 🙂":                         "héllo 世界 🙂",
	}
	for in, want := range cases {
		if got := Visible(in); got != want {
			t.Errorf("Visible(%q) = %q, want %q", in, got, want)
		}
	}
}
