package session

import (
	"regexp"
	"strings"
)

// envWatch decides which commands must report the exported environment. The
// snapshot only matters when a shell has to be re-spawned, and `export -p`
// costs as much as the rest of a trivial command, so it is asked for when a
// command may have changed the environment: an assignment, a declaration or
// unset, sourcing, eval, set (allexport), or a call of a function the session
// has seen defined. It errs on the side of asking.
type envWatch struct {
	funcs map[string]bool
}

var (
	envWords = regexp.MustCompile(`=|\b(export|declare|typeset|readonly|local|unset|source|eval|set|alias|enable|builtin|command|exec)\b|(^|[\s;&|(]|` + "`" + `)\.(\s|$)`)
	funcDef  = regexp.MustCompile(`(?:\bfunction\s+([^\s(){};&|]+))|(?:([A-Za-z_][\w.:-]*)\s*\(\s*\))`)
	wordRe   = regexp.MustCompile(`[A-Za-z_][\w.:-]*`)
)

// needsEnv reports whether cmd's trailer should carry the environment, and
// learns the functions cmd defines.
func (w *envWatch) needsEnv(cmd string) bool {
	need := envWords.MatchString(cmd)
	if !strings.Contains(cmd, "(") && !strings.Contains(cmd, "function") {
		// No function definition is possible: skip the costlier match.
		return need || w.callsFunc(cmd)
	}
	for _, m := range funcDef.FindAllStringSubmatch(cmd, -1) {
		if w.funcs == nil {
			w.funcs = map[string]bool{}
		}
		for _, name := range m[1:] {
			if name != "" {
				w.funcs[name] = true
				need = true
			}
		}
	}
	return need || w.callsFunc(cmd)
}

// callsFunc reports whether cmd mentions a function the session has seen
// defined.
func (w *envWatch) callsFunc(cmd string) bool {
	if len(w.funcs) == 0 {
		return false
	}
	for _, word := range wordRe.FindAllString(cmd, -1) {
		if w.funcs[strings.TrimSpace(word)] {
			return true
		}
	}
	return false
}
