package safety

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Policy is the fence every command passes before it runs. It is a
// tripwire, not a sandbox (docs/security-model.md): commands are parsed,
// and every program name anywhere in the script — pipelines, lists,
// subshells, $(…), backticks, process substitution, function bodies,
// scripts given to a shell with -c, eval, here-documents fed to a shell,
// alias and trap bodies — is checked after quote removal and path
// stripping, through wrappers such as env, sudo, xargs and find -exec.
// When any rule is set, what cannot be checked is denied: a program name
// that is not a literal ($x, ${IFS}, a glob, brace expansion), a shell
// reading its commands from a pipe, and a command that does not parse.
//
// The zero Policy allows everything. A Policy is safe for concurrent use:
// NewPolicy, LoadPolicy and JSON decoding compile its patterns once, and a
// Policy built as a struct literal compiles them per check without
// changing the Policy.
type Policy struct {
	// Allow, when not empty, lists the only programs that may run (plus the
	// harmless builtins in SafeBuiltins).
	Allow []string `json:"allow,omitempty"`
	// Deny lists programs that may not run.
	Deny []string `json:"deny,omitempty"`
	// DenyPatterns are regular expressions; a command whose text matches
	// one is denied.
	DenyPatterns []string `json:"deny_patterns,omitempty"`
	// Tripwire refuses the destructive commands in tripwire.go whatever
	// else the policy says; alone, it refuses nothing else.
	Tripwire bool `json:"tripwire,omitempty"`

	patterns []*regexp.Regexp
}

// TripwirePolicy is the default the command line uses when no policy is
// given: the tripwire alone.
func TripwirePolicy() *Policy { return &Policy{Tripwire: true} }

// SafeBuiltins run under an allow list without being listed: they change
// only the shell's own state or print.
var SafeBuiltins = []string{"cd", "pwd", "echo", "printf", "true", "false", ":", "test", "[", "export", "unset", "local", "declare", "typeset", "read", "exit", "return", "shift", "set", "shopt", "wait", "jobs", "type", "hash", "umask", "readonly", "let", "break", "continue"}

// Decision is a policy verdict.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule,omitempty"`    // which rule decided: deny:NAME, allow-list, pattern:RE, dynamic, stdin-shell, sourced-file, parse-error
	Reason  string `json:"reason,omitempty"`  // a sentence for a person
	Program string `json:"program,omitempty"` // the program that was refused
}

// NewPolicy returns a policy with its patterns compiled; a bad pattern is
// an error here, not at the first check.
func NewPolicy(allow, deny, denyPatterns []string) (*Policy, error) {
	p := &Policy{Allow: allow, Deny: deny, DenyPatterns: denyPatterns}
	pats, err := compilePatterns(p.DenyPatterns)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p.patterns = pats
	return p, nil
}

// LoadPolicy reads a policy file (JSON: {"allow": [...], "deny": [...],
// "deny_patterns": [...]}); unknown fields are refused.
func LoadPolicy(file string) (*Policy, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var j policyJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("policy: %s: %w", file, err)
	}
	p, err := NewPolicy(j.Allow, j.Deny, j.DenyPatterns)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, file)
	}
	return p, nil
}

// policyJSON is Policy's JSON form.
type policyJSON struct {
	Allow        []string `json:"allow,omitempty"`
	Deny         []string `json:"deny,omitempty"`
	DenyPatterns []string `json:"deny_patterns,omitempty"`
}

// UnmarshalJSON decodes a policy and compiles its patterns.
func (p *Policy) UnmarshalJSON(b []byte) error {
	var j policyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	pats, err := compilePatterns(j.DenyPatterns)
	if err != nil {
		return err
	}
	*p = Policy{Allow: j.Allow, Deny: j.Deny, DenyPatterns: j.DenyPatterns, patterns: pats}
	return nil
}

func compilePatterns(src []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range src {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("deny pattern %q: %w", s, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// Empty reports whether the policy has no rule.
func (p *Policy) Empty() bool {
	return p == nil || len(p.Allow) == 0 && len(p.Deny) == 0 && len(p.DenyPatterns) == 0 && !p.Tripwire
}

// lists reports whether the policy has a rule besides the tripwire: then
// what cannot be checked is denied.
func (p *Policy) lists() bool {
	return len(p.Allow) > 0 || len(p.Deny) > 0 || len(p.DenyPatterns) > 0
}

// Merge returns a policy with the rules of p and q: a program denied by
// either is denied, and when both have allow lists only programs on both
// are allowed. Nil or empty policies add nothing; the result is nil when
// neither has a rule.
func Merge(p, q *Policy) *Policy {
	if p.Empty() {
		return q
	}
	if q.Empty() {
		return p
	}
	out := &Policy{
		Tripwire:     p.Tripwire || q.Tripwire,
		Deny:         append(append([]string(nil), p.Deny...), q.Deny...),
		DenyPatterns: append(append([]string(nil), p.DenyPatterns...), q.DenyPatterns...),
		patterns:     append(append([]*regexp.Regexp(nil), p.compiled()...), q.compiled()...),
	}
	switch {
	case len(p.Allow) == 0:
		out.Allow = append([]string(nil), q.Allow...)
	case len(q.Allow) == 0:
		out.Allow = append([]string(nil), p.Allow...)
	default:
		in := map[string]bool{}
		for _, a := range p.Allow {
			in[a] = true
		}
		for _, a := range q.Allow {
			if in[a] {
				out.Allow = append(out.Allow, a)
			}
		}
		if len(out.Allow) == 0 {
			out.Allow = []string{"\x00none"} // the two allow lists share nothing
		}
	}
	return out
}

// compiled returns the patterns, compiling them when the Policy was built
// as a literal (bad patterns are left out here; Check refuses them).
func (p *Policy) compiled() []*regexp.Regexp {
	if len(p.patterns) == len(p.DenyPatterns) {
		return p.patterns
	}
	pats, _ := compilePatterns(p.DenyPatterns)
	return pats
}

// Check decides whether cmd may run. It does not change p.
func (p *Policy) Check(cmd string) Decision {
	if p.Empty() {
		return Decision{Allowed: true}
	}
	pats := p.patterns
	if len(pats) != len(p.DenyPatterns) {
		var err error
		if pats, err = compilePatterns(p.DenyPatterns); err != nil {
			return Decision{Rule: "policy-error", Reason: err.Error()}
		}
	}
	c := checker{p: p, patterns: pats, strict: p.lists()}
	c.script(cmd, 0)
	if c.denied != nil {
		return *c.denied
	}
	return Decision{Allowed: true}
}

type checker struct {
	p        *Policy
	patterns []*regexp.Regexp
	denied   *Decision
	envFile  bool // ENV was assigned: an interactive sh would source it
	// strict: the policy has lists or patterns, so what cannot be checked
	// is denied; the tripwire alone lets it through.
	strict bool
}

// uncheckable are the rules that refuse what cannot be checked.
var uncheckable = map[string]bool{"dynamic": true, "stdin-shell": true, "sourced-file": true, "parse-error": true}

func (c *checker) deny(rule, program, format string, a ...any) {
	if !c.strict && uncheckable[rule] {
		return
	}
	if c.denied == nil {
		c.denied = &Decision{Rule: rule, Program: program, Reason: fmt.Sprintf(format, a...)}
	}
}

const maxDepth = 8

// script checks a piece of shell code: the command itself, or code it hands
// to a shell, eval, alias or trap.
func (c *checker) script(src string, depth int) {
	if c.denied != nil {
		return
	}
	if depth > maxDepth {
		c.deny("dynamic", "", "shell code nested more than %d levels deep", maxDepth)
		return
	}
	for _, re := range c.patterns {
		if re.MatchString(src) {
			c.deny("pattern:"+re.String(), "", "the command matches deny pattern %q", re.String())
			return
		}
	}
	f, err := syntax.NewParser(syntax.KeepComments(false)).Parse(strings.NewReader(src), "")
	if err != nil {
		c.deny("parse-error", "", "the command does not parse, so it cannot be checked: %v", err)
		return
	}
	c.walk(f, depth)
}

// walk checks every command and assignment in a parsed piece of code.
func (c *checker) walk(node syntax.Node, depth int) {
	syntax.Walk(node, func(n syntax.Node) bool {
		if c.denied != nil {
			return false
		}
		if b, ok := n.(*syntax.BinaryCmd); ok {
			c.tripPipe(b)
		}
		if st, ok := n.(*syntax.Stmt); ok {
			c.tripRedirects(st.Redirs)
			switch x := st.Cmd.(type) {
			case *syntax.CallExpr:
				for _, as := range x.Assigns {
					c.assign(as, depth)
				}
				c.call(x, st.Redirs, depth)
			case *syntax.DeclClause:
				c.nameref(x)
				for _, as := range x.Args {
					c.assign(as, depth)
				}
			}
		}
		return true
	})
}

// literal is a word's value after quote removal, or ok=false when it
// depends on anything expanded at run time.
func literal(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, part := range w.Parts {
		switch x := part.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(x.Value))
		case *syntax.SglQuoted:
			if x.Dollar {
				return "", false
			}
			b.WriteString(x.Value)
		case *syntax.DblQuoted:
			if x.Dollar {
				return "", false
			}
			for _, dp := range x.Parts {
				lit, ok := dp.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(unescapeDouble(lit.Value))
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var shells = map[string]bool{"sh": true, "bash": true, "zsh": true, "dash": true, "ksh": true, "mksh": true, "ash": true, "busybox-sh": true, "fish": true, "rbash": true}

// call checks one simple command and what it wraps.
func (c *checker) call(call *syntax.CallExpr, redirs []*syntax.Redirect, depth int) {
	args := call.Args
	if len(args) == 0 {
		return // assignments only
	}
	words := make([]string, len(args))
	static := make([]bool, len(args))
	for i, a := range args {
		words[i], static[i] = literal(a)
		if !static[i] {
			words[i] = homeWord(a) // "$HOME…" for the tripwire, else ""
		}
	}
	c.argv(words, static, redirs, depth)
}

// argv checks a command line given as words; static says which are literal.
func (c *checker) argv(words []string, static []bool, redirs []*syntax.Redirect, depth int) {
	for len(words) > 0 && c.denied == nil {
		if !static[0] {
			c.deny("dynamic", "", "the program name is computed at run time, so it cannot be checked")
			return
		}
		name := words[0]
		if expanded(name) {
			c.deny("dynamic", name, "the program name %q is expanded by the shell (glob or brace expansion)", name)
			return
		}
		base := path.Base(name)
		if name == "" {
			c.deny("dynamic", "", "an empty program name")
			return
		}
		c.program(base)
		c.trip(base, words[1:], static[1:])
		c.setsCodeVar(base, words, static)
		if c.denied != nil {
			return
		}
		next, ok := c.unwrap(base, words, static, redirs, depth)
		if !ok {
			return
		}
		words, static = words[next:], static[next:]
		redirs = nil
	}
}

// expanded reports whether the shell would expand a program name before
// running it: a glob (*, ?, [...]) or brace expansion ({a,b}).
func expanded(name string) bool {
	if strings.ContainsAny(name, "*?") {
		return true
	}
	if i := strings.IndexByte(name, '['); i >= 0 && strings.IndexByte(name[i+1:], ']') >= 0 {
		return true
	}
	if i := strings.IndexByte(name, '{'); i >= 0 {
		rest := name[i+1:]
		return strings.Contains(rest, ",") && strings.Contains(rest, "}") || strings.Contains(rest, "..")
	}
	return false
}

// program applies the lists to one program name.
func (c *checker) program(name string) {
	for _, d := range c.p.Deny {
		if name == d {
			c.deny("deny:"+d, name, "%q is denied by the policy", name)
			return
		}
	}
	if len(c.p.Allow) == 0 {
		return
	}
	for _, a := range c.p.Allow {
		if name == a {
			return
		}
	}
	for _, a := range SafeBuiltins {
		if name == a {
			return
		}
	}
	for _, w := range []string{"env", "command", "builtin", "exec", "nohup", "nice", "time", "timeout", "sudo", "doas", "xargs", "stdbuf", "setsid"} {
		if name == w {
			return // the wrapped command is checked instead
		}
	}
	c.deny("allow-list", name, "%q is not in the policy's allow list", name)
}

// unwrap handles programs that run another program or shell code. It
// returns the index of the wrapped command in words, or ok=false when
// there is none to check further.
func (c *checker) unwrap(name string, words []string, static []bool, redirs []*syntax.Redirect, depth int) (int, bool) {
	// skipOpts moves past options; withValue lists options taking a value.
	skipOpts := func(i int, withValue string) int {
		for i < len(words) {
			w := words[i]
			if !static[i] {
				return i
			}
			if w == "--" {
				return i + 1
			}
			if !strings.HasPrefix(w, "-") || w == "-" {
				return i
			}
			if len(w) == 2 && strings.ContainsRune(withValue, rune(w[1])) {
				i++
			}
			if strings.HasPrefix(w, "--") && !strings.Contains(w, "=") && strings.Contains(withValue, "L") {
				i++ // long options of this program take a value
			}
			i++
		}
		return i
	}
	switch name {
	case "command", "builtin":
		for _, w := range words[1:] {
			if w == "-v" || w == "-V" {
				return 0, false // a look-up, nothing runs
			}
		}
		return skipOpts(1, ""), true
	case "exec", "nohup", "setsid", "time", "chroot", "busybox", "unbuffer":
		i := skipOpts(1, "a")
		if name == "chroot" && i < len(words) {
			i++
		}
		return i, true
	case "nice", "ionice", "stdbuf", "taskset", "chrt", "flock":
		i := skipOpts(1, "nncpioeg")
		if (name == "taskset" || name == "chrt" || name == "flock") && i < len(words) {
			i++ // mask, priority or lock file
		}
		return i, true
	case "timeout":
		i := skipOpts(1, "skL")
		return i + 1, true // the duration
	case "sudo", "doas":
		return skipOpts(1, "ugCchprTDRU"), true
	case "env":
		i := 1
		for i < len(words) {
			w := words[i]
			switch {
			case !static[i]:
				return i, true
			case w == "-S" || w == "--split-string":
				if i+1 < len(words) {
					if !static[i+1] {
						c.deny("dynamic", "env", "env -S with a computed string cannot be checked")
						return 0, false
					}
					c.script(words[i+1], depth+1)
				}
				return 0, false
			case w == "-u" || w == "-C" || w == "--unset" || w == "--chdir":
				i += 2
			case strings.HasPrefix(w, "-"):
				i++
			case strings.Contains(w, "="):
				name, value, _ := strings.Cut(w, "=")
				c.assignValue(name, value, true, depth)
				if c.denied != nil {
					return 0, false
				}
				i++
			default:
				return i, true
			}
		}
		return i, true
	case "xargs":
		return skipOpts(1, "aEeIiLlnPsd"), true
	case "find":
		for i := 1; i < len(words); i++ {
			switch words[i] {
			case "-exec", "-execdir", "-ok", "-okdir":
				j := i + 1
				for j < len(words) && words[j] != ";" && words[j] != "+" {
					j++
				}
				c.argv(words[i+1:j], static[i+1:j], nil, depth)
				if c.denied != nil {
					return 0, false
				}
				i = j
			}
		}
		return 0, false
	case "eval":
		var parts []string
		for i := 1; i < len(words); i++ {
			if !static[i] {
				c.deny("dynamic", "eval", "eval of a computed string cannot be checked")
				return 0, false
			}
			parts = append(parts, words[i])
		}
		c.script(strings.Join(parts, " "), depth+1)
		return 0, false
	case "source", ".":
		if len(words) < 2 || !static[1] || words[1] == "/dev/stdin" || words[1] == "-" || strings.HasPrefix(words[1], "/dev/fd/") || strings.HasPrefix(words[1], "/proc/") {
			c.deny("stdin-shell", name, "sourcing code that is not a file cannot be checked")
		}
		return 0, false
	case "alias":
		for i := 1; i < len(words); i++ {
			if _, body, ok := strings.Cut(words[i], "="); ok {
				if !static[i] {
					c.deny("dynamic", "alias", "an alias with a computed body cannot be checked")
					return 0, false
				}
				c.script(body, depth+1)
			}
		}
		return 0, false
	case "trap":
		i := 1
		if i < len(words) && static[i] && words[i] == "--" {
			i++
		}
		if i < len(words) && !(static[i] && strings.HasPrefix(words[i], "-")) {
			if !static[i] {
				c.deny("dynamic", "trap", "a trap with a computed action cannot be checked")
				return 0, false
			}
			c.script(words[i], depth+1)
		}
		return 0, false
	case "hash":
		c.hash(words, static)
		return 0, false
	case "git":
		c.git(words, static, depth)
		return 0, false
	case "make", "gmake":
		c.make(words, static, redirs, depth)
		return 0, false
	case "gdb":
		c.gdb(words, static, depth)
		return 0, false
	case "enable":
		for i := 1; i < len(words); i++ {
			if !static[i] || strings.HasPrefix(words[i], "-") && strings.Contains(words[i], "f") {
				c.deny("sourced-file", "enable", "enable -f loads a builtin from a shared object, which cannot be checked")
				return 0, false
			}
		}
		return 0, false
	}
	if shells[name] {
		c.shell(name, words, static, redirs, depth)
	}
	return 0, false
}

// shell checks code given to a shell: -c STRING, a here-document or here-
// string, or stdin from elsewhere (which cannot be checked).
func (c *checker) shell(name string, words []string, static []bool, redirs []*syntax.Redirect, depth int) {
	for i := 1; i < len(words); i++ {
		w := words[i]
		if !static[i] {
			c.deny("dynamic", name, "%s with computed arguments cannot be checked", name)
			return
		}
		if c.envFile && strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "--") && strings.Contains(w, "i") {
			c.deny("sourced-file", name, "an interactive %s sources the file ENV names, which cannot be checked", name)
			return
		}
		if strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "--") && strings.Contains(w, "c") {
			if i+1 >= len(words) {
				return
			}
			if !static[i+1] {
				c.deny("dynamic", name, "%s -c with a computed script cannot be checked", name)
				return
			}
			c.script(words[i+1], depth+1)
			return
		}
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "+") {
			if w == "-s" {
				break // reads stdin: handled below
			}
			continue
		}
		return // a script file: runs what is in it (not inspected)
	}
	for _, r := range redirs {
		var body *syntax.Word
		switch {
		case r.Hdoc != nil && (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc):
			body = r.Hdoc
		case r.Op == syntax.WordHdoc:
			body = r.Word
		default:
			continue
		}
		code, ok := literal(body)
		if !ok {
			c.deny("dynamic", name, "a here-document or here-string with expansions fed to %s cannot be checked", name)
			return
		}
		c.script(code, depth+1)
		return
	}
	c.deny("stdin-shell", name, "%s reading commands from its input cannot be checked", name)
}
