package safety

import (
	"bytes"
	"regexp"
)

// assignKey matches, from where a credential word starts, the rest of the
// name and the assignment operator: the word itself, a few words that keep
// it a credential (DB_PASSWORD_HASH, secret_token, SECRET_KEY_BASE), a
// number, an optional closing quote, and one of = : =>. A word that goes
// on as another word (tokens, tokenizer, token_type, secret_santa,
// passed, password_policy) is not a credential name.
var assignKey = regexp.MustCompile(`^(?i:(?:password|passwd|passphrase|pass|pwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key)` +
	`(?:[_.-]?(?:key|token|value|hash|base|string|str|phrase|secret|password)){0,2}[0-9]*)["']?[ \t]*(?:=>|[:=])[ \t]*`)

// assignKeyReach bounds the text assignKey is given: a name and an
// operator are short, and the regexp engine's cost grows with its input.
const assignKeyReach = 160

// notSecret are values that say something about a credential without
// being one.
var notSecret = map[string]bool{"null": true, "none": true, "nil": true, "true": true, "false": true,
	"undefined": true, "required": true, "optional": true, "string": true, "empty": true, "hidden": true,
	"masked": true, "unset": true, "enabled": true, "disabled": true}

func isUpper(c byte) bool      { return c >= 'A' && c <= 'Z' }
func isLowerDigit(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// isName reports whether c can be part of a setting's name.
func isName(c byte) bool { return isWord(c) || c == '_' || c == '-' || c == '.' }

// assignment finds a credential assigned to a name whose credential word
// starts at i, and returns the span of its value in b.
//
// The word must start the name or one of its parts (DB_PASSWORD,
// db.password, dbPassword), never the inside of a word (bypass, OLDPWD);
// and a name that is just "pwd" is the working directory. The value is the
// whole value, whatever punctuation it holds: inside quotes to the closing
// quote (backslash escapes honoured in double quotes), or unquoted to the
// end of the line when the name starts the line (KEY=value, export,
// YAML), less a trailing comment, or else to the next blank or quote, less
// the punctuation that closes what it stands in.
func assignment(b []byte, i int) (start, end int, ok bool) {
	if i > 0 {
		c := b[i-1]
		if isWord(c) && !(isLowerDigit(c) && isUpper(b[i])) && !afterEscape(b, i) {
			return 0, 0, false
		}
	}
	w := b[i:min(len(b), i+maxMatch)]
	nameStart := i
	for nameStart > 0 && i-nameStart < 256 && isName(b[nameStart-1]) {
		nameStart--
	}
	n := 0
	for n < len(w) && isName(w[n]) {
		n++
	}
	if nameStart == i && bytes.EqualFold(w[:n], []byte("pwd")) {
		return 0, 0, false // PWD, the working directory
	}
	if nameStart == i && len(w) > 4 && bytes.EqualFold(w[:4], []byte("pass")) && !isWord(w[4]) {
		return 0, 0, false // "PASS: TestX", "pass: 3": only DB_PASS and the like are passwords
	}
	// Cheaply first: a name, maybe a closing quote and blanks, then = or :.
	j := n
	if j < len(w) && (w[j] == '"' || w[j] == '\'') {
		j++
	}
	for j < len(w) && (w[j] == ' ' || w[j] == '\t') {
		j++
	}
	if j >= len(w) || (w[j] != '=' && w[j] != ':') {
		return 0, 0, false
	}
	m := assignKey.FindIndex(w[:min(len(w), assignKeyReach)])
	if m == nil {
		return 0, 0, false
	}
	v := m[1]
	if v >= len(w) {
		return 0, 0, false
	}
	var s, e int
	switch q := w[v]; q {
	case '"', '\'', '`':
		s, e = v+1, v+1
		for e < len(w) && w[e] != q && w[e] != '\n' {
			if q == '"' && w[e] == '\\' && e+1 < len(w) && w[e+1] != '\n' {
				e++
			}
			e++
		}
	case '\n', '\r', '{', '[', '(', '|', '>', '<', '&', '$', '=', ':', '\\':
		return 0, 0, false // no value, a structure, a block, a reference
	default:
		s, e = v, v
		if startsLine(b, nameStart) {
			for e < len(w) && w[e] != '\n' && w[e] != '\r' {
				if (w[e] == '#') && (w[e-1] == ' ' || w[e-1] == '\t') {
					break // a comment
				}
				e++
			}
			for e > s && (w[e-1] == ' ' || w[e-1] == '\t') {
				e--
			}
		} else {
			for e < len(w) && !isBlankOrQuote(w[e]) {
				e++
			}
			e = trimClosers(w, s, e)
			if isLabel(w, e) {
				return 0, 0, false // "TOKEN=Authorization: ...", a name, not a value
			}
		}
		if looksLikeCode(w[s:e]) {
			return 0, 0, false
		}
	}
	if versionRE.Match(w[s:e]) || pathRE.Match(w[s:e]) {
		return 0, 0, false // "passwd": "^1.2.3" in a lockfile, pkg/password=/root/.cache/...
	}
	if e-s < 6 || e-s > 512 || notSecret[string(bytes.ToLower(w[s:e]))] || isPlaceholder(w[s:e]) {
		return 0, 0, false
	}
	return i + s, i + e, true
}

func isBlankOrQuote(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '`'
}

// startsLine reports whether only blanks, "export " or a YAML list dash
// come before i on its line.
func startsLine(b []byte, i int) bool {
	j := i
	for j > 0 && i-j < 256 && b[j-1] != '\n' && b[j-1] != '\r' {
		j--
	}
	head := bytes.TrimLeft(b[j:i], " \t")
	for _, p := range [][]byte{[]byte("export "), []byte("- ")} {
		head = bytes.TrimLeft(bytes.TrimPrefix(head, p), " \t")
	}
	return len(head) == 0 && (j == 0 || i-j < 256)
}

// trimClosers drops, from the end of an unquoted value, the punctuation
// that ends the sentence or structure around it: commas, semicolons, full
// stops, and brackets the value did not open.
func trimClosers(w []byte, s, e int) int {
	for e > s {
		switch c := w[e-1]; c {
		case ',', ';', '.':
			e--
			continue
		case ')', ']', '}', '>':
			open := map[byte]byte{')': '(', ']': '[', '}': '{', '>': '<'}[c]
			if bytes.Count(w[s:e], []byte{open}) < bytes.Count(w[s:e], []byte{c}) {
				e--
				continue
			}
		}
		break
	}
	return e
}

// versionRE is a version or a version range; pathRE a file path of plain
// names.
var (
	versionRE = regexp.MustCompile(`^[~^<>=]*v?[0-9]+(?:\.[0-9x*]+){1,3}(?:[-+][0-9A-Za-z.-]+)?$`)
	pathRE    = regexp.MustCompile(`^(?:~|\.{1,2})?/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+/?$`)
)

// callRE is a function call or a field of a variable: code, not a value.
var callRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*(?:\(|\[)`)

func looksLikeCode(v []byte) bool { return callRE.Match(v) }
