package safety

import (
	"bytes"
	"regexp"
)

// credentialWords begin a credential's name (or one of its parts); the
// separators in "api_key" may be '_', '-' or nothing.
var credentialWords = []string{"password", "passwd", "passphrase", "pass", "pwd", "secret", "token",
	"api_key", "private_key", "access_key", "auth", "account_key", "storage_key", "identitytoken",
	"registrytoken", "client_key_data"}

// credentialTails are the words that may follow one and keep the name a
// credential's (DB_PASSWORD_HASH, secret_token, SECRET_KEY_BASE).
var credentialTails = []string{"key", "token", "value", "hash", "base", "string", "str", "phrase", "secret", "password"}

// credentialName reports whether name, which starts with a credential
// word, is a credential's name: the word, at most two words that keep it
// one, and a number. A word that goes on as another word (tokens,
// tokenizer, token_type, secret_santa, passed, password_policy) is not.
func credentialName(name []byte) bool {
	for _, w := range credentialWords {
		if rest, ok := cutWord(name, w); ok && credentialTail(rest, 2) {
			return true
		}
	}
	return false
}

// cutWord removes w from the start of name, ignoring ASCII case, where
// each '_' in w may be '_', '-' or nothing in name.
func cutWord(name []byte, w string) ([]byte, bool) {
	j := 0
	for i := 0; i < len(w); i++ {
		if w[i] == '_' {
			if j < len(name) && (name[j] == '_' || name[j] == '-') {
				j++
			}
			continue
		}
		if j >= len(name) || lower(name[j]) != w[i] {
			return nil, false
		}
		j++
	}
	return name[j:], true
}

func credentialTail(rest []byte, words int) bool {
	for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return true
	}
	if words == 0 {
		return false
	}
	r := rest
	if r[0] == '_' || r[0] == '.' || r[0] == '-' {
		r = r[1:]
	}
	for _, t := range credentialTails {
		if after, ok := cutWord(r, t); ok && credentialTail(after, words-1) {
			return true
		}
	}
	return false
}

// assignValueAt returns where the value begins after a credential name n
// bytes long at the start of w: past an optional closing quote, blanks, one
// of = : =>, and blanks; or -1.
func assignValueAt(w []byte, n int) int {
	j := n
	if j < len(w) && (w[j] == '"' || w[j] == '\'') {
		j++
	}
	for j < len(w) && (w[j] == ' ' || w[j] == '\t') {
		j++
	}
	switch {
	case j+1 < len(w) && w[j] == '=' && w[j+1] == '>':
		j += 2
	case j < len(w) && (w[j] == '=' || w[j] == ':'):
		j++
	default:
		return -1
	}
	for j < len(w) && (w[j] == ' ' || w[j] == '\t') {
		j++
	}
	return j
}

// notSecret are values that say something about a credential without
// being one.
var notSecret = map[string]bool{"null": true, "none": true, "nil": true, "true": true, "false": true,
	"undefined": true, "required": true, "optional": true, "string": true, "empty": true, "hidden": true,
	"masked": true, "unset": true, "enabled": true, "disabled": true,
	// Names of ways to authenticate ("auth: scram-sha-256").
	"scram-sha-256": true, "password": true, "trust": true, "basic": true, "bearer": true, "digest": true,
	"oauth": true, "oauth2": true, "kerberos": true, "negotiate": true, "apikey": true, "api_key": true,
	"token": true, "certificate": true, "openid": true, "saml": true, "oidc": true, "mutual": true}

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
		if nameStart == i {
			return netrcPassword(b, i, w, n)
		}
		return 0, 0, false
	}
	if !credentialName(w[:n]) {
		return 0, 0, false
	}
	v := assignValueAt(w, n)
	if v < 0 || v >= len(w) {
		return 0, 0, false
	}
	var s, e int
	switch q := w[v]; q {
	case '"', '\'', '`':
		s, e = v+1, v+1
		if bytes.HasPrefix(w[v:], []byte(`'\''`)) {
			s, e = v+4, v+4 // a quote inside a single-quoted shell word
		}
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
	if e-s < 6 || e-s > 512 || notSecret[string(bytes.ToLower(w[s:e]))] || placeholderValue(w[s:e]) {
		return 0, 0, false
	}
	return i + s, i + e, true
}

// netrcEntry is what comes before a password in a .netrc file: the
// machine (or default) entry and its other tokens, nothing else.
var netrcEntry = regexp.MustCompile(`^(?:machine\s+\S+|default|login\s+\S+)(?:\s+(?:login|account|port)\s+\S+)*\s+$`)

// netrcPassword finds the value of a .netrc "password VALUE" token whose
// name starts at i and is n bytes long (w is b from i on).
func netrcPassword(b []byte, i int, w []byte, n int) (start, end int, ok bool) {
	name := string(bytes.ToLower(w[:n]))
	if name != "password" && name != "passwd" || n >= len(w) || w[n] != ' ' && w[n] != '\t' {
		return 0, 0, false
	}
	before := b[max(0, i-300):i]
	for _, start := range []string{"machine", "default", "login"} {
		k := bytes.LastIndex(before, []byte(start))
		if k >= 0 && (k == 0 || !isWord(before[k-1])) && netrcEntry.Match(before[k:]) {
			return netrcValue(w, n, i)
		}
	}
	return 0, 0, false
}

// netrcValue is the value of a .netrc password token (see netrcPassword).
func netrcValue(w []byte, n, i int) (start, end int, ok bool) {
	s := n
	for s < len(w) && (w[s] == ' ' || w[s] == '\t') {
		s++
	}
	e := s
	if s < len(w) && w[s] == '"' {
		s++
		for e = s; e < len(w) && w[e] != '"' && w[e] != '\n'; e++ {
			if w[e] == '\\' {
				e++
			}
		}
		e = min(e, len(w))
	} else {
		for e < len(w) && !isBlankOrQuote(w[e]) {
			e++
		}
	}
	if e-s < 4 || e-s > 512 || isPlaceholder(w[s:e]) {
		return 0, 0, false
	}
	return i + s, i + e, true
}

// placeholderValue reports whether a value is a placeholder, judged by its
// first word, or holds a redaction already made.
func placeholderValue(v []byte) bool {
	return isPlaceholder(firstWord(v)) || bytes.Contains(v, redactedMark)
}

// firstWord is v up to its first blank: what says whether a value that runs
// to the end of its line is a placeholder (the text after it may mention
// an example).
func firstWord(v []byte) []byte {
	if i := bytes.IndexAny(v, " \t"); i >= 0 {
		return v[:i]
	}
	return v
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
