package safety

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// readOnlyPrograms never change files, whatever their arguments (within
// the exceptions readOnlyCall makes).
var readOnlyPrograms = map[string]bool{
	"ls": true, "cat": true, "head": true, "tail": true, "wc": true, "grep": true, "egrep": true,
	"fgrep": true, "rg": true, "pwd": true, "echo": true, "printf": true, "true": true, "false": true,
	"test": true, "[": true, "stat": true, "file": true, "du": true, "df": true, "which": true,
	"type": true, "printenv": true, "date": true, "id": true, "whoami": true, "uname": true,
	"hostname": true, "cut": true, "tr": true, "basename": true, "dirname": true, "realpath": true,
	"readlink": true, "diff": true, "cmp": true, "md5sum": true, "sha1sum": true, "sha256sum": true,
	"cd": true, "sleep": true, "nproc": true, "uptime": true, "ps": true, "tree": true, "less": true,
	"more": true, "jq": true, "column": true, "nl": true, "od": true, "xxd": true, "hexdump": true,
	"seq": true, "yes": true, "sort": true, "env": true, "export": true, "set": true, "unset": true, "exit": true,
	":": true, "alias": true, "history": true, "jobs": true, "wait": true, "read": true,
}

// writingOptions are the options that make a program of readOnlyPrograms
// (or git) write a file or run another program; a short option also
// matches with its value attached (-ofile), a long one with =value.
var writingOptions = map[string][]string{
	"sort":    {"-o", "--output"},
	"tree":    {"-o", "--output"},
	"history": {"-w", "-a"},
	"less":    {"-o", "-O", "--log-file", "--LOG-FILE"},
	"more":    {"-o", "-O", "--log-file", "--LOG-FILE"},
	"file":    {"-C", "--compile"},
	"rg":      {"--pre"},
	"git":     {"--output"},
	"date":    {"-s", "--set"},
}

// readOnlyGit are git subcommands that only read.
var readOnlyGit = map[string]bool{
	"status": true, "log": true, "diff": true, "show": true, "rev-parse": true, "ls-files": true,
	"blame": true, "grep": true, "describe": true, "shortlog": true, "cat-file": true, "ls-tree": true,
}

// ReadOnly reports whether cmd certainly changes no file: every program in
// it is one that only reads, no output is redirected to a file (only to
// /dev/null or another descriptor), and nothing is computed at run time.
// It errs towards false: anything it does not recognise may write. A
// session in automatic checkpoint mode skips the checkpoint before a
// command for which ReadOnly is true.
func ReadOnly(cmd string) bool {
	f, err := syntax.NewParser(syntax.KeepComments(false)).Parse(strings.NewReader(cmd), "")
	if err != nil {
		return false
	}
	ok := true
	syntax.Walk(f, func(n syntax.Node) bool {
		if !ok {
			return false
		}
		switch x := n.(type) {
		case *syntax.Stmt:
			for _, r := range x.Redirs {
				if !readOnlyRedirect(r) {
					ok = false
				}
			}
			switch c := x.Cmd.(type) {
			case nil, *syntax.CallExpr, *syntax.BinaryCmd, *syntax.Block, *syntax.Subshell, *syntax.IfClause,
				*syntax.WhileClause, *syntax.ForClause, *syntax.CaseClause, *syntax.TestClause, *syntax.ArithmCmd,
				*syntax.DeclClause: // export, declare, local, readonly: no files
				if call, isCall := c.(*syntax.CallExpr); isCall && !readOnlyCall(call) {
					ok = false
				}
			default: // function definitions, declare, coprocesses, let, time...
				ok = false
			}
		case *syntax.ProcSubst:
			ok = false
		}
		return ok
	})
	return ok
}

func readOnlyRedirect(r *syntax.Redirect) bool {
	switch r.Op {
	case syntax.RdrIn, syntax.DplIn, syntax.DplOut, syntax.Hdoc, syntax.DashHdoc, syntax.WordHdoc:
		return true
	case syntax.RdrOut, syntax.AppOut, syntax.ClbOut, syntax.RdrAll, syntax.AppAll:
		target, static := literal(r.Word)
		return static && target == "/dev/null"
	}
	return false
}

func readOnlyCall(call *syntax.CallExpr) bool {
	if len(call.Args) == 0 {
		return true // assignments only
	}
	words := make([]string, len(call.Args))
	for i, a := range call.Args {
		w, static := literal(a)
		if !static {
			if i == 0 {
				return false // a computed program name
			}
			w = "\x00" // an argument computed at run time
		}
		words[i] = w
	}
	name := words[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	switch name {
	case "git":
		for _, w := range words[1:] {
			if strings.HasPrefix(w, "--output") {
				return false
			}
		}
		for i := 1; i < len(words); i++ {
			switch w := words[i]; {
			case w == "-C" || w == "-c" || w == "--git-dir" || w == "--work-tree" || w == "--namespace":
				i++ // the option's value
			case strings.HasPrefix(w, "-"):
			default:
				return readOnlyGit[w]
			}
		}
		return true
	case "find":
		for _, w := range words[1:] {
			if w == "-delete" || strings.HasPrefix(w, "-exec") || strings.HasPrefix(w, "-ok") || strings.HasPrefix(w, "-fprint") || strings.HasPrefix(w, "-fls") {
				return false
			}
		}
		return true
	case "env":
		for _, w := range words[1:] { // env running a program is that program
			if !strings.Contains(w, "=") && !strings.HasPrefix(w, "-") {
				return false
			}
		}
		return true
	case "xxd":
		// xxd [options] [infile [outfile]]: a second file is written.
		files := 0
		for _, w := range words[1:] {
			if !strings.HasPrefix(w, "-") || w == "-" {
				files++
			}
		}
		// Options taking a value (-c 16, -s 0x10 ...) count as files here:
		// that errs towards "may write", as ReadOnly must.
		return files <= 1
	}
	for _, w := range words[1:] {
		for _, opt := range writingOptions[name] {
			if w == opt || strings.HasPrefix(w, opt) && (strings.HasPrefix(opt, "--") || len(opt) == 2) {
				return false
			}
		}
	}
	return readOnlyPrograms[name]
}
