package safety

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Sanitize makes text safe to show to an agent or put in a terminal: it
// decodes UTF-8 (invalid bytes become U+FFFD), removes escape sequences
// (CSI, OSC, DCS, SOS, PM, APC and two-byte ESC sequences, in their 7-bit
// and 8-bit forms) and other control characters but \n and \t, and resolves
// carriage returns the way a terminal shows them: "\r\n" is a newline, and
// text after a bare "\r" overwrites the start of its line.
func Sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	line := []rune{} // the current line, with overwrites applied
	col := 0
	flush := func() {
		b.WriteString(string(line))
		line, col = line[:0], 0
	}
	put := func(r rune) {
		if col < len(line) {
			line[col] = r
		} else {
			line = append(line, r)
		}
		col++
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\n':
			flush()
			b.WriteByte('\n')
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				continue // \r\n: the \n ends the line
			}
			col = 0 // what follows overwrites the line
		case r == '\t':
			put(r)
		case r == 0x1b: // ESC
			i = skipEscape(s, i)
		case r == 0x9b: // 8-bit CSI
			i = skipCSI(s, i)
		case r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f || r == 0x9d: // 8-bit DCS SOS PM APC OSC
			i = skipString(s, i)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			// other C0 and C1 controls: dropped
		case isBidiOrInvisible(r):
			for _, c := range codePoint(r) {
				put(c)
			}
		default:
			put(r) // RuneError for invalid bytes shows as U+FFFD
		}
	}
	flush()
	return b.String()
}

// isBidiOrInvisible reports whether r reorders or hides text: the
// bidirectional controls (a right-to-left override makes "gnp.exe" read
// "exe.png") and the zero-width characters that are not joiners.
func isBidiOrInvisible(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200b, r >= 0x2060 && r <= 0x2064, r == 0xfeff:
		return true
	}
	return false
}

// codePoint is how an invisible character is shown: <U+202E>.
func codePoint(r rune) string { return fmt.Sprintf("<U+%04X>", r) }

// Visible makes recorded text safe to print for a person, in a terminal, a
// Markdown file or a page, without losing what it held: newlines and tabs
// stay; escape sequences and every other control character are shown as
// Go-style escapes (\x1b[31m), never executed; bidirectional controls and
// zero-width characters are shown as <U+202E>; bytes that are not UTF-8 as
// \xff.
func Visible(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 || isBidiOrInvisible(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, "\\u%04x", r)
		case isBidiOrInvisible(r):
			b.WriteString(codePoint(r))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// skipEscape skips what follows an ESC at s[i-1].
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipString(s, i+1)
	}
	// Two-byte sequence, possibly with intermediate bytes (ESC ( B).
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) {
		i++
	}
	return i
}

// skipCSI skips parameters and intermediates up to the final byte.
func skipCSI(s string, i int) int {
	for i < len(s) {
		c := s[i]
		i++
		if c >= 0x40 && c <= 0x7e {
			break
		}
		if c < 0x20 && c != 0x1b {
			continue
		}
	}
	return i
}

// skipString skips a control string up to BEL, ESC \ or ST (U+009C).
func skipString(s string, i int) int {
	for i < len(s) {
		if s[i] == 0x07 {
			return i + 1
		}
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
			return i + 2
		}
		if r, n := utf8.DecodeRuneInString(s[i:]); r == 0x9c {
			return i + n
		}
		i++
	}
	return i
}

// Budget shapes a stream's text after redaction and sanitising. The zero
// Budget keeps everything. The steps combine, in this order: Grep keeps the
// matching lines (with Context around each), then Mode keeps the first or
// last lines of what is left, then MaxChars caps the characters.
type Budget struct {
	// Mode: "" or "all", "head", "tail", "head+tail", "grep" (grep alone,
	// the same as "" with Grep set).
	Mode string `json:"mode,omitempty" jsonschema:"head, tail, head+tail or grep; empty or all keeps every line (after grep, when grep is given)"`
	// Lines to keep: the first N (head), the last N (tail), or N at each
	// end (head+tail). Zero means 50.
	Lines int `json:"lines,omitempty" jsonschema:"lines kept by head/tail (each end for head+tail; default 50)"`
	// Head and Tail, for head+tail, set each end on its own (zero: Lines).
	Head int `json:"head,omitempty" jsonschema:"head+tail: lines kept at the start (default lines)"`
	Tail int `json:"tail,omitempty" jsonschema:"head+tail: lines kept at the end (default lines)"`
	// Grep keeps lines matching this regular expression, with Context
	// lines around each, before Mode applies.
	Grep    string `json:"grep,omitempty" jsonschema:"keep lines matching this regular expression (then mode applies to them)"`
	Context int    `json:"context,omitempty" jsonschema:"with grep: lines kept around each match"`
	// MaxChars caps the text at this many characters (0: no cap), keeping
	// the start and the end.
	MaxChars int `json:"max_chars,omitempty" jsonschema:"cap each stream at this many characters, keeping start and end"`
}

// Shape is what a Budget did to one stream.
type Shape struct {
	Mode         string `json:"mode"`
	LinesTotal   int    `json:"lines_total"`
	LinesKept    int    `json:"lines_kept"`
	BytesDropped int64  `json:"bytes_dropped"`
}

// Check reports a budget that cannot be applied.
func (b Budget) Check() error {
	switch b.Mode {
	case "", "all", "head", "tail", "head+tail":
	case "grep":
		if b.Grep == "" {
			return fmt.Errorf("budget: mode grep needs a pattern")
		}
	default:
		return fmt.Errorf("budget: unknown mode %q (head, tail, head+tail, grep)", b.Mode)
	}
	if b.Grep != "" {
		if _, err := regexp.Compile(b.Grep); err != nil {
			return fmt.Errorf("budget: invalid grep pattern %q: %v", b.Grep, err)
		}
	}
	if b.Lines < 0 || b.Head < 0 || b.Tail < 0 || b.Context < 0 || b.MaxChars < 0 {
		return fmt.Errorf("budget: negative size")
	}
	return nil
}

// IsZero reports whether b keeps everything.
func (b Budget) IsZero() bool {
	return (b.Mode == "" || b.Mode == "all") && b.Grep == "" && b.MaxChars == 0
}

// Apply shapes text. Lines left out are replaced by one line saying how
// many, so that the agent knows there was more.
func (b Budget) Apply(text string) (string, Shape) {
	mode := b.Mode
	if mode == "" || mode == "grep" {
		mode = "all"
	}
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	sh := Shape{Mode: mode, LinesTotal: len(lines)}
	// cand are the lines grep leaves (all of them without grep), in order.
	cand := make([]int, 0, len(lines))
	if b.Grep != "" {
		sh.Mode = "grep"
		if mode != "all" {
			sh.Mode = "grep+" + mode
		}
		re, err := regexp.Compile(b.Grep)
		hit := make([]bool, len(lines))
		if err == nil {
			for i, l := range lines {
				if re.MatchString(strings.TrimSuffix(l, "\n")) {
					for j := max(0, i-b.Context); j <= i+b.Context && j < len(lines); j++ {
						hit[j] = true
					}
				}
			}
		}
		for i, h := range hit {
			if h {
				cand = append(cand, i)
			}
		}
	} else {
		for i := range lines {
			cand = append(cand, i)
		}
	}
	n := b.Lines
	if n <= 0 {
		n = 50
	}
	head, tail := 0, 0
	switch mode {
	case "head":
		head = n
	case "tail":
		tail = n
	case "head+tail":
		head, tail = n, n
		if b.Head > 0 {
			head = b.Head
		}
		if b.Tail > 0 {
			tail = b.Tail
		}
	default:
		head = len(cand)
	}
	keep := make([]bool, len(lines))
	for k, i := range cand {
		keep[i] = k < head || k >= len(cand)-tail
	}
	var out strings.Builder
	skipped := 0
	note := func() {
		if skipped > 0 {
			fmt.Fprintf(&out, "[… %d lines omitted …]\n", skipped)
			skipped = 0
		}
	}
	for i, l := range lines {
		if keep[i] {
			note()
			out.WriteString(l)
			sh.LinesKept++
		} else {
			skipped++
			sh.BytesDropped += int64(len(l))
		}
	}
	note()
	res := out.String()
	if sh.Mode == "all" {
		res = text
	}
	if b.MaxChars > 0 && utf8.RuneCountInString(res) > b.MaxChars {
		r := []rune(res)
		h := b.MaxChars / 2
		cut := string(r[h : len(r)-(b.MaxChars-h)])
		sh.BytesDropped += int64(len(cut))
		res = string(r[:h]) + fmt.Sprintf("[… %d characters omitted …]", len([]rune(cut))) + string(r[len(r)-(b.MaxChars-h):])
	}
	return res, sh
}
