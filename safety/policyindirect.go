package safety

import (
	"path"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// This file checks the shell-level ways of running code later that the
// command text still shows: variables whose value is code (prompt strings,
// PROMPT_COMMAND, pagers and editors), files every new shell sources
// (BASH_ENV, ENV), `hash -p`, and programs that run shell code from their
// options (git's configuration, make's recipes, gdb's shell command).

// Variable classes, by what the value is to the programs that read it.
const (
	varPrompt   = iota + 1 // a prompt string: expanded, so $(…) in it runs
	varCode                // shell code, run through sh -c
	varSourced             // a file sourced by every new shell
	varEnvFile             // ENV: sourced by interactive POSIX shells only
	varGitParam            // git configuration given in the environment
)

var codeVars = map[string]int{
	"PS0": varPrompt, "PS1": varPrompt, "PS2": varPrompt, "PS3": varPrompt, "PS4": varPrompt,
	"PROMPT_COMMAND": varCode, "PAGER": varCode, "GIT_PAGER": varCode, "MANPAGER": varCode,
	"SYSTEMD_PAGER": varCode, "EDITOR": varCode, "VISUAL": varCode, "GIT_EDITOR": varCode,
	"GIT_SEQUENCE_EDITOR": varCode, "GIT_SSH_COMMAND": varCode, "GIT_SSH": varCode,
	"GIT_EXTERNAL_DIFF": varCode, "GIT_ASKPASS": varCode, "SSH_ASKPASS": varCode, "SUDO_ASKPASS": varCode,
	"GIT_PROXY_COMMAND": varCode, "LESSOPEN": varCode, "LESSCLOSE": varCode, "BROWSER": varCode,
	"BASH_ENV": varSourced, "ENV": varEnvFile,
	"GIT_CONFIG_PARAMETERS": varGitParam, "GIT_CONFIG_COUNT": varGitParam,
}

// assign checks one assignment, as the shell parsed it.
func (c *checker) assign(as *syntax.Assign, depth int) {
	if as == nil || as.Name == nil || c.denied != nil {
		return
	}
	if as.Array != nil {
		for _, el := range as.Array.Elems {
			if el.Value != nil {
				v, ok := literal(el.Value)
				c.assignValue(as.Name.Value, v, ok, depth)
			}
		}
		return
	}
	if as.Value == nil {
		return
	}
	v, ok := literal(as.Value)
	c.assignValue(as.Name.Value, v, ok, depth)
}

// assignValue checks the value given to a variable; static says it is known.
func (c *checker) assignValue(name, value string, static bool, depth int) {
	class := codeVars[name]
	if class == 0 || c.denied != nil {
		return
	}
	if class == varEnvFile {
		c.envFile = true
		if static && !strings.ContainsAny(value, "/.~$`") {
			return // ENV=production: a name, read only by interactive shells
		}
	}
	if !static && class != varEnvFile {
		c.deny("dynamic", name, "%s is set to a value computed at run time, which is run as code later and cannot be checked", name)
		return
	}
	switch class {
	case varPrompt:
		c.prompt(name, value, depth)
	case varCode:
		code := strings.TrimLeft(value, "|") // LESSOPEN='|cmd %s'
		if strings.TrimSpace(code) != "" {
			c.script(code, depth+1)
		}
	case varSourced, varEnvFile:
		if value != "" {
			c.deny("sourced-file", name, "%s names a file that new shells run, which cannot be checked", name)
		}
	case varGitParam:
		c.deny("sourced-file", name, "git configuration given through %s cannot be checked", name)
	}
}

// prompt checks a prompt string: the shell expands it each time it is shown
// (PS4 with set -x: before every command), running its command
// substitutions.
func (c *checker) prompt(name, value string, depth int) {
	if !strings.ContainsAny(value, "$`") {
		return
	}
	w, err := syntax.NewParser().Document(strings.NewReader(value))
	if err != nil {
		c.deny("parse-error", name, "%s does not parse as a prompt string, so it cannot be checked: %v", name, err)
		return
	}
	c.walk(w, depth+1)
}

// runtimeSetters are the builtins that can set a variable named in their
// arguments to a value computed at run time.
var runtimeSetters = map[string]bool{"printf": true, "read": true, "mapfile": true, "readarray": true, "getopts": true}

// setsCodeVar denies a builtin that would set a code variable at run time
// (`printf -v PS4 …`, `read PROMPT_COMMAND`).
func (c *checker) setsCodeVar(name string, words []string, static []bool) {
	if !runtimeSetters[name] {
		return
	}
	for i, w := range words[1:] {
		if static[i+1] && codeVars[w] != 0 && codeVars[w] != varEnvFile {
			c.deny("dynamic", name, "%s sets %s at run time, and %s is run as code later", name, w, w)
			return
		}
	}
}

// nameref denies a reference variable that points at a code variable
// (`declare -n r=PS4; r='$(…)'`).
func (c *checker) nameref(d *syntax.DeclClause) {
	ref := d.Variant.Value == "nameref"
	for _, as := range d.Args {
		if as.Naked && as.Name == nil && as.Value != nil {
			if f, ok := literal(as.Value); ok && strings.HasPrefix(f, "-") && strings.Contains(f, "n") {
				ref = true
			}
			continue
		}
		if !ref || as.Value == nil {
			continue
		}
		if v, ok := literal(as.Value); !ok || codeVars[strings.TrimSpace(v)] != 0 {
			c.deny("dynamic", "declare", "a reference to %s lets a later assignment set code that is not checked", v)
			return
		}
	}
}

// hash checks `hash -p PATH NAME`, which makes NAME run PATH.
func (c *checker) hash(words []string, static []bool) {
	for i := 1; i < len(words); i++ {
		if words[i] == "--" {
			return
		}
		if static[i] && strings.HasPrefix(words[i], "-") && strings.Contains(words[i], "p") {
			if i+1 >= len(words) || !static[i+1] {
				c.deny("dynamic", "hash", "hash -p with a computed path cannot be checked")
				return
			}
			c.program(path.Base(words[i+1]))
			return
		}
	}
}

// gitCodeKey matches the git configuration keys whose value is a command
// git runs (through a shell, or as a program).
var gitCodeKey = regexp.MustCompile(`^(core\.(pager|editor|sshcommand|askpass|fsmonitor|gitproxy)|sequence\.editor|pager\..+|diff\.external|diff\..+\.(textconv|command)|merge\..+\.driver|filter\..+\.(clean|smudge|process)|gpg(\..+)?\.program|web\.browser|browser\..+\.(cmd|path)|man\..+\.(cmd|path)|uploadpack\.packobjectshook|sendemail\.(smtpserver|tocmd|cccmd)|difftool\..+\.cmd|mergetool\..+\.cmd|credential(\..+)?\.helper|alias\..+)$`)

// gitFileKey matches keys that make git run or read what the command line
// does not show: hook directories, included configuration files.
var gitFileKey = regexp.MustCompile(`^(core\.hookspath|include\.path|includeif\..+\.path)$`)

// git checks git's global options before the subcommand: -c key=value,
// --config-env and --exec-path.
func (c *checker) git(words []string, static []bool, depth int) {
	for i := 1; i < len(words) && c.denied == nil; i++ {
		w := words[i]
		if !static[i] {
			if i > 1 && words[i-1] == "-c" {
				c.deny("dynamic", "git", "git -c with a computed setting cannot be checked")
			}
			return
		}
		switch {
		case w == "-c" && i+1 < len(words):
			i++
			if !static[i] {
				c.deny("dynamic", "git", "git -c with a computed setting cannot be checked")
				return
			}
			c.gitSetting(words[i], depth)
		case strings.HasPrefix(w, "--config-env="):
			key, _, _ := strings.Cut(strings.TrimPrefix(w, "--config-env="), "=")
			if k := strings.ToLower(key); gitCodeKey.MatchString(k) || gitFileKey.MatchString(k) {
				c.deny("dynamic", "git", "git --config-env sets %s from the environment, which cannot be checked", key)
			}
		case strings.HasPrefix(w, "--exec-path="):
			c.deny("sourced-file", "git", "git --exec-path runs programs from a directory, which cannot be checked")
		case w == "-C" || w == "--git-dir" || w == "--work-tree" || w == "--namespace" || w == "--super-prefix" || w == "--list-cmds" || w == "--attr-source":
			i++
		case strings.HasPrefix(w, "-"):
		default:
			return // the subcommand
		}
	}
}

// gitSetting checks one key=value given to git -c.
func (c *checker) gitSetting(kv string, depth int) {
	key, value, _ := strings.Cut(kv, "=")
	k := strings.ToLower(key)
	switch {
	case gitFileKey.MatchString(k):
		c.deny("sourced-file", "git", "git -c %s makes git run or read files, which cannot be checked", key)
	case strings.HasPrefix(k, "alias."):
		if strings.HasPrefix(value, "!") {
			c.script(value[1:], depth+1)
		}
	case strings.HasPrefix(k, "credential.") && !strings.HasPrefix(value, "!"):
		if value != "" && !strings.Contains(value, "/") {
			c.program("git-credential-" + strings.Fields(value)[0])
		} else if value != "" {
			c.script(value, depth+1)
		}
	case gitCodeKey.MatchString(k):
		if code := strings.TrimPrefix(value, "!"); strings.TrimSpace(code) != "" {
			c.script(code, depth+1)
		}
	}
}

// make checks what make is told to run: --eval text, a makefile that is
// not a file, SHELL=, and $(shell …) in variables given on its command
// line. Makefiles on disk are not inspected (as scripts are not).
func (c *checker) make(words []string, static []bool, redirs []*syntax.Redirect, depth int) {
	for i := 1; i < len(words) && c.denied == nil; i++ {
		w := words[i]
		value := func() (string, bool) {
			if strings.HasPrefix(w, "--") && strings.Contains(w, "=") {
				_, v, _ := strings.Cut(w, "=")
				return v, static[i]
			}
			if len(w) > 2 && w[0] == '-' && w[1] != '-' {
				return w[2:], static[i]
			}
			if i+1 < len(words) {
				i++
				return words[i], static[i]
			}
			return "", true
		}
		if !static[i] {
			c.deny("dynamic", "make", "make with computed arguments cannot be checked")
			return
		}
		switch {
		case w == "-E" || strings.HasPrefix(w, "--eval"):
			text, ok := value()
			if !ok {
				c.deny("dynamic", "make", "make --eval with computed text cannot be checked")
				return
			}
			c.makeText(text, depth)
		case w == "-f" || strings.HasPrefix(w, "--file") || strings.HasPrefix(w, "--makefile") || strings.HasPrefix(w, "-f"):
			file, ok := value()
			switch {
			case !ok:
				c.deny("dynamic", "make", "a makefile produced at run time cannot be checked")
				return
			case file == "-" || file == "/dev/stdin":
				if body, ok := hereBody(redirs); ok {
					c.makeText(body, depth)
				} else {
					c.deny("stdin-shell", "make", "a makefile read from input cannot be checked")
				}
			case strings.HasPrefix(file, "/dev/fd/") || strings.HasPrefix(file, "/proc/"):
				c.deny("stdin-shell", "make", "a makefile read from a descriptor cannot be checked")
			}
		case w == "-C" || w == "-I" || w == "-o" || w == "-W" || w == "-j" || w == "-l" || w == "--directory" || w == "--include-dir":
			i++
		case !strings.HasPrefix(w, "-") && strings.Contains(w, "="):
			name, val, _ := strings.Cut(w, "=")
			name = strings.TrimRight(strings.TrimSpace(name), ":+?!")
			if name == "SHELL" {
				c.argv(strings.Fields(val), trues(len(strings.Fields(val))), nil, depth+1)
			}
			c.makeText(val, depth)
		}
	}
}

func trues(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

// hereBody is the literal text of a here-document or here-string among
// redirs.
func hereBody(redirs []*syntax.Redirect) (string, bool) {
	for _, r := range redirs {
		switch {
		case r.Hdoc != nil && (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc):
			return literal(r.Hdoc)
		case r.Op == syntax.WordHdoc:
			return literal(r.Word)
		}
	}
	return "", false
}

// makeText checks make syntax for shell code: recipe lines (after a tab,
// or after the ';' of a rule line) and $(shell …) / ${shell …} calls.
func (c *checker) makeText(text string, depth int) {
	for _, call := range makeShellCalls(text) {
		c.script(call, depth+1)
	}
	for _, line := range strings.Split(text, "\n") {
		if c.denied != nil {
			return
		}
		recipe := ""
		switch {
		case strings.HasPrefix(line, "\t"):
			recipe = line[1:]
		default:
			if colon := strings.IndexByte(line, ':'); colon >= 0 {
				if semi := strings.IndexByte(line[colon:], ';'); semi >= 0 {
					recipe = line[colon+semi+1:]
				}
			}
		}
		recipe = strings.TrimLeft(recipe, "@-+ \t")
		if strings.TrimSpace(recipe) != "" {
			// make expands $(VAR) before the shell sees the line; $$ is a $.
			c.script(strings.ReplaceAll(recipe, "$$", "$"), depth+1)
		}
	}
}

// makeShellCalls returns the arguments of make's shell function in text.
func makeShellCalls(text string) []string {
	var out []string
	for _, open := range []string{"$(shell ", "${shell "} {
		closeBy := map[byte]byte{'(': ')', '{': '}'}[open[1]]
		for rest := text; ; {
			i := strings.Index(rest, open)
			if i < 0 {
				break
			}
			rest = rest[i+len(open):]
			level, j := 1, 0
			for ; j < len(rest) && level > 0; j++ {
				switch rest[j] {
				case open[1]:
					level++
				case closeBy:
					level--
				}
			}
			out = append(out, strings.TrimSuffix(rest[:j], string(closeBy)))
			rest = rest[j:]
		}
	}
	return out
}

// gdb checks gdb's command options for shell escapes (`shell CMD`, `!CMD`,
// `pipe … | CMD`) and the program it is to run (`--args PROG …`, or the
// first argument).
func (c *checker) gdb(words []string, static []bool, depth int) {
	program := false
	for i := 1; i < len(words) && c.denied == nil; i++ {
		w := words[i]
		if !static[i] {
			c.deny("dynamic", "gdb", "gdb with computed arguments cannot be checked")
			return
		}
		opt := strings.TrimLeft(w, "-")
		name, val, hasVal := strings.Cut(opt, "=")
		switch {
		case w == "--args":
			c.argv(words[i+1:], static[i+1:], nil, depth)
			return
		case strings.HasPrefix(w, "-") && (name == "ex" || name == "eval-command" || name == "iex" || name == "init-eval-command"):
			if !hasVal {
				if i+1 >= len(words) {
					return
				}
				i++
				if !static[i] {
					c.deny("dynamic", "gdb", "a computed gdb command cannot be checked")
					return
				}
				val = words[i]
			}
			c.gdbCommand(val, depth)
		case strings.HasPrefix(w, "-") && !hasVal && (name == "x" || name == "command" || name == "ix" || name == "init-command" || name == "p" || name == "pid" || name == "c" || name == "core" || name == "cd" || name == "d" || name == "directory" || name == "s" || name == "symbols" || name == "e" || name == "exec" || name == "se" || name == "tty" || name == "b" || name == "data-directory" || name == "D"):
			i++
		case strings.HasPrefix(w, "-"):
		case !program:
			program = true
			c.program(path.Base(w))
		}
	}
}

// gdbCommand checks one gdb command.
func (c *checker) gdbCommand(cmd string, depth int) {
	cmd = strings.TrimSpace(cmd)
	word, rest, _ := strings.Cut(cmd, " ")
	switch {
	case strings.HasPrefix(cmd, "!"):
		c.script(cmd[1:], depth+1)
	case word == "shell" || word == "she" || word == "shel":
		c.script(rest, depth+1)
	case word == "pipe" || strings.HasPrefix(cmd, "|"):
		if strings.Contains(cmd, " -d ") {
			c.deny("dynamic", "gdb", "gdb pipe with a delimiter cannot be checked")
			return
		}
		if _, sh, ok := strings.Cut(strings.TrimPrefix(cmd, "|"), "|"); ok {
			c.script(sh, depth+1)
		}
	}
}
