package replay

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Rule replaces what matches Match with Replace (regexp.ReplaceAllString
// syntax: $1 refers to a group).
type Rule struct {
	Name    string
	Match   *regexp.Regexp
	Replace string
	// Only, when set, must accept a match for it to be replaced.
	Only func(string) bool
}

// Builtins are the normalizers that can be turned on by name.
var Builtins = map[string][]Rule{
	"ansi": {
		{Match: regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]`), Replace: ""},
	},
	"timestamps": {
		// 2026-11-24T21:28:32.123Z, 2026-11-24 21:28:32+01:00
		{Match: regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?\b`), Replace: "<TIME>"},
		// Tue Nov 24 21:28:32 UTC 2026 (date), Tue, 24 Nov 2026 21:28:32 GMT
		{Match: regexp.MustCompile(`\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun),? +(\d{1,2} +)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)( +\d{1,2})? +\d{1,2}:\d{2}:\d{2}( +[A-Z]{2,5})?( +\d{4})?`), Replace: "<TIME>"},
		{Match: regexp.MustCompile(`\b\d{2}:\d{2}:\d{2}(\.\d+)?\b`), Replace: "<TIME>"},
		// Unix times in seconds or milliseconds (2001 to 2286).
		{Match: regexp.MustCompile(`\b1\d{9}(\d{3})?\b`), Replace: "<EPOCH>"},
	},
	"durations": {
		{Match: regexp.MustCompile(`\b\d+m\d+(\.\d+)?s\b`), Replace: "<DURATION>"}, // time(1): 0m0.003s
		{Match: regexp.MustCompile(`\b\d+(\.\d+)?\s?(ns|µs|us|ms|s|sec|secs|seconds|m|min|h)\b`), Replace: "<DURATION>"},
	},
	"pids": {
		{Match: regexp.MustCompile(`(?i)\b(pid|process|ppid)([ =:#]+)\d+\b`), Replace: "$1$2<PID>"},
		{Match: regexp.MustCompile(`(?m)^\[(\d+)\]([+-]?) +\d+$`), Replace: "[$1]$2 <PID>"}, // bash: [1] 12345
		{Match: regexp.MustCompile(`/proc/\d+/`), Replace: "/proc/<PID>/"},
	},
	"tmp": {
		{Match: regexp.MustCompile(`(/private)?/(tmp|var/tmp|var/folders/[^\s/]+/[^\s/]+/T)/[^\s/:'"]+`), Replace: "<TMP>"},
	},
	"hex": {
		// Hashes and ids: 7 to 64 hex digits with at least one digit and
		// one letter (so plain words and numbers stay).
		{Match: regexp.MustCompile(`\b[0-9a-f]{7,64}\b`), Replace: "<HEX>", Only: func(m string) bool {
			return strings.ContainsAny(m, "0123456789") && strings.ContainsAny(m, "abcdef")
		}},
	},
	"space": {
		{Match: regexp.MustCompile(`(?m)[ \t]+$`), Replace: ""},
	},
}

// builtinOrder is the order built-ins apply in: escapes first, ids last.
var builtinOrder = []string{"ansi", "space", "timestamps", "durations", "pids", "tmp", "hex"}

// Normalizer rewrites output before it is compared.
type Normalizer struct {
	rules []Rule
	names []string
}

// ParseNormalize reads a --normalize value: "all" (every built-in, the
// default), "none", or a comma-separated list of built-in names and
// @FILE entries (a rules file: one "REGEX => REPLACEMENT" per line, # for
// comments), applied in that order after the built-ins.
func ParseNormalize(spec string) (*Normalizer, error) {
	n := &Normalizer{}
	if spec == "" {
		spec = "all"
	}
	var user []Rule
	builtins := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "" || part == "none":
		case part == "all":
			for _, b := range builtinOrder {
				builtins[b] = true
			}
		case strings.HasPrefix(part, "@"):
			rules, err := LoadRules(part[1:])
			if err != nil {
				return nil, err
			}
			user = append(user, rules...)
			n.names = append(n.names, part)
		default:
			if Builtins[part] == nil {
				names := append([]string(nil), builtinOrder...)
				sort.Strings(names)
				return nil, fmt.Errorf("replay: unknown normalizer %q (built-ins: %s; all; none; @FILE)", part, strings.Join(names, ", "))
			}
			builtins[part] = true
		}
	}
	for _, b := range builtinOrder {
		if builtins[b] {
			for _, r := range Builtins[b] {
				r.Name = b
				n.rules = append(n.rules, r)
			}
			n.names = append(n.names, b)
		}
	}
	n.rules = append(n.rules, user...)
	return n, nil
}

// LoadRules reads a rules file: one "REGEX => REPLACEMENT" per line; blank
// lines and lines starting with # are skipped.
func LoadRules(file string) ([]Rule, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("replay: rules: %w", err)
	}
	defer f.Close()
	var rules []Rule
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		re, repl, ok := strings.Cut(t, " => ")
		if !ok {
			return nil, fmt.Errorf("replay: rules %s:%d: want REGEX => REPLACEMENT", file, line)
		}
		rx, err := regexp.Compile(strings.TrimSpace(re))
		if err != nil {
			return nil, fmt.Errorf("replay: rules %s:%d: %w", file, line, err)
		}
		rules = append(rules, Rule{Name: fmt.Sprintf("%s:%d", file, line), Match: rx, Replace: strings.TrimSpace(repl)})
	}
	return rules, sc.Err()
}

// Apply normalizes s.
func (n *Normalizer) Apply(s string) string {
	if n == nil {
		return s
	}
	for _, r := range n.rules {
		if r.Only == nil {
			s = r.Match.ReplaceAllString(s, r.Replace)
			continue
		}
		s = r.Match.ReplaceAllStringFunc(s, func(m string) string {
			if r.Only(m) {
				return r.Replace
			}
			return m
		})
	}
	return s
}

// Names lists the normalizers in effect.
func (n *Normalizer) Names() []string {
	if n == nil {
		return nil
	}
	return n.names
}
