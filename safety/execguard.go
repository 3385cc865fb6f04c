package safety

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/execkit/execkit/internal/filehash"
	"github.com/execkit/execkit/internal/shquote"
)

// ExecGuard applies a policy to each program a command starts, at the
// moment it starts (the exec fence, docs/security-model.md), where the
// command's text does not show it: a script written and run at once, a
// makefile's recipes, a debugger's or a pager's shell, an interpreter's
// system(). It sees one program and its arguments, not shell code, so it
// checks:
//
//   - the deny list against the program's name as started, as its file
//     is called once symbolic links are followed, and its argv[0] (and a
//     multi-call program's applet, `busybox rm`);
//   - the file itself against the denied programs found on PATH: the same
//     file under another name (a hard or symbolic link) or a byte-for-byte
//     copy of one (`cp /bin/rm r; ./r`) is denied as the program it is;
//   - the deny patterns against the argument vector as one quoted line;
//   - the tripwire against the program and its arguments;
//   - the allow list. Shells, the wrappers the static check looks
//     through and the harmless builtins' programs are allowed: what they
//     start is checked in turn. So are installed programs' helpers, kept
//     in the system's library directories (a compiler's cc1 and as under
//     /usr/lib, git's under /usr/lib/git-core): a command cannot name them
//     there, and the program that starts them was checked; the deny list
//     still applies to them.
//
// A start of a file that does not exist or is not a program is let
// through: the kernel fails it (a shell tries every PATH directory).
type ExecGuard struct {
	p        *Policy
	pathDirs []string

	once   sync.Once
	byFile map[fileID]string   // denied programs by device and inode
	bySize map[int64][]copyOf  // and by size, for copies
	sums   map[string][32]byte // hashed lazily, by path
	mu     sync.Mutex
}

type fileID struct{ dev, ino uint64 }

type copyOf struct{ name, path string }

// multiCall are programs that run the applet named by their first
// argument.
var multiCall = map[string]bool{"busybox": true, "toybox": true}

// wrappers are programs that run another program: allowed under an allow
// list, since that program is checked when it starts.
var wrappers = []string{"env", "command", "builtin", "exec", "nohup", "nice", "time", "timeout", "sudo", "doas", "xargs", "stdbuf", "setsid"}

// ExecGuard returns the run-time check of p for processes whose PATH is
// pathEnv (a colon-separated list). A nil or empty policy allows every
// start.
func (p *Policy) ExecGuard(pathEnv string) *ExecGuard {
	g := &ExecGuard{p: p}
	for _, d := range filepath.SplitList(pathEnv) {
		if d != "" && filepath.IsAbs(d) {
			g.pathDirs = append(g.pathDirs, filepath.Clean(d))
		}
	}
	return g
}

// Check decides whether a program may start: name is the program as the
// caller named it (absolute), resolved the same with symbolic links
// followed, file what to open to read it, argv its arguments.
func (g *ExecGuard) Check(name, resolved, file string, argv []string) Decision {
	p := g.p
	if p.Empty() {
		return Decision{Allowed: true}
	}
	fi, err := os.Stat(file)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return Decision{Allowed: true} // the kernel refuses it by itself
	}
	names := []string{path.Base(resolved)}
	add := func(n string) {
		if n != "" && n != "." && n != "/" {
			for _, have := range names {
				if have == n {
					return
				}
			}
			names = append(names, n)
		}
	}
	add(path.Base(name))
	if len(argv) > 0 {
		add(path.Base(argv[0]))
		for _, n := range names {
			if multiCall[n] && len(argv) > 1 {
				add(path.Base(argv[1]))
				break
			}
		}
	}
	line := shquote.Join(argv)
	for _, n := range names {
		for _, d := range p.Deny {
			if n == d {
				return Decision{Rule: "deny:" + d, Program: n, Reason: fmt.Sprintf("%q is denied by the policy (started at run time: %s)", n, line)}
			}
		}
	}
	if d, ok := g.copyOfDenied(file, fi); ok {
		return Decision{Rule: "deny:" + d, Program: d, Reason: fmt.Sprintf("%s is the denied program %q under another name (started at run time: %s)", resolved, d, line)}
	}
	pats := p.compiled()
	if len(pats) != len(p.DenyPatterns) {
		return Decision{Rule: "policy-error", Reason: "a deny pattern does not compile"}
	}
	for _, re := range pats {
		if re.MatchString(line) {
			return Decision{Rule: "pattern:" + re.String(), Program: names[0], Reason: fmt.Sprintf("the program's arguments match deny pattern %q (started at run time: %s)", re.String(), line)}
		}
	}
	if p.Tripwire && len(argv) > 0 {
		c := checker{p: p}
		for _, n := range names {
			c.trip(n, argv[1:], trues(len(argv)-1))
			if c.denied != nil {
				d := *c.denied
				d.Reason += " (started at run time: " + line + ")"
				return d
			}
		}
	}
	if len(p.Allow) > 0 && !helper(resolved) && !g.allowed(names) {
		return Decision{Rule: "allow-list", Program: names[0], Reason: fmt.Sprintf("%q is not in the policy's allow list (started at run time: %s)", names[0], line)}
	}
	return Decision{Allowed: true}
}

// helperDirs hold installed programs' helpers, not programs a user runs.
var helperDirs = []string{"/usr/lib/", "/usr/libexec/", "/usr/lib64/", "/usr/local/lib/", "/usr/local/libexec/", "/lib/", "/lib64/"}

// helper reports whether a program file lies in a system library directory.
func helper(file string) bool {
	for _, d := range helperDirs {
		if strings.HasPrefix(file, d) {
			return true
		}
	}
	return false
}

// allowed reports whether one of the program's names passes the allow list.
func (g *ExecGuard) allowed(names []string) bool {
	for _, n := range names {
		if shells[n] {
			return true
		}
		for _, lists := range [][]string{g.p.Allow, SafeBuiltins, wrappers} {
			for _, a := range lists {
				if n == a {
					return true
				}
			}
		}
	}
	return false
}

// copyOfDenied reports whether the file is a denied program found on PATH,
// or a byte-for-byte copy of one.
func (g *ExecGuard) copyOfDenied(file string, fi os.FileInfo) (string, bool) {
	g.once.Do(g.findDenied)
	if id, ok := fileIDOf(fi); ok {
		if n, ok := g.byFile[id]; ok {
			return n, true
		}
	}
	cands := g.bySize[fi.Size()]
	if len(cands) == 0 {
		return "", false
	}
	sum, err := filehash.SHA256(file)
	if err != nil {
		return "", false
	}
	for _, c := range cands {
		g.mu.Lock()
		want, ok := g.sums[c.path]
		g.mu.Unlock()
		if !ok {
			if want, err = filehash.SHA256(c.path); err != nil {
				continue
			}
			g.mu.Lock()
			g.sums[c.path] = want
			g.mu.Unlock()
		}
		if want == sum {
			return c.name, true
		}
	}
	return "", false
}

// findDenied looks up each denied program in PATH and the system's
// program directories.
func (g *ExecGuard) findDenied() {
	g.byFile, g.bySize, g.sums = map[fileID]string{}, map[int64][]copyOf{}, map[string][32]byte{}
	dirs := append(append([]string(nil), g.pathDirs...), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
	for _, name := range g.p.Deny {
		if strings.Contains(name, "/") {
			continue
		}
		for _, d := range dirs {
			f := filepath.Join(d, name)
			fi, err := os.Stat(f)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if id, ok := fileIDOf(fi); ok {
				if _, seen := g.byFile[id]; seen {
					continue
				}
				g.byFile[id] = name
			}
			g.bySize[fi.Size()] = append(g.bySize[fi.Size()], copyOf{name, f})
		}
	}
}
