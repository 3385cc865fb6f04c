package safety

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// The tripwire is the floor a policy never goes below: a small set of
// commands that destroy a machine or its data at once, refused on the parsed
// command (through quoting, paths and wrappers such as sudo), whether or not
// any other rule is set. Policy.Tripwire turns it on; alone, it denies
// nothing else, and what it cannot read (a computed program name) it lets
// through: it is a tripwire, not a fence.
//
//   - rm, chmod or chown recursive on /, ~, a top-level system directory or
//     everything in one (`rm -rf /`, `rm -rf ~/*`, `chmod -R 777 /`);
//     `rm --no-preserve-root`;
//   - dd writing to a device (`of=/dev/sda`), a redirection onto a disk
//     device (`> /dev/sda`);
//   - making or wiping file systems (mkfs, mkfs.*, mke2fs, mkswap, wipefs);
//   - shutting the machine down (shutdown, reboot, halt, poweroff,
//     `systemctl poweroff|reboot|halt|kexec`, `init 0`, `init 6`);
//   - a download piped into a shell (`curl … | sh`, `wget -O- … | sudo bash`).

// systemDirs are the top-level directories whose loss ruins a machine.
var systemDirs = map[string]bool{"bin": true, "boot": true, "dev": true, "etc": true, "home": true, "lib": true,
	"lib64": true, "opt": true, "proc": true, "root": true, "sbin": true, "srv": true, "sys": true, "usr": true, "var": true}

// broadPath reports whether a path names /, the home directory, a system
// directory or everything in one of them.
func broadPath(p string) bool {
	p = strings.TrimSuffix(strings.TrimSuffix(p, "*"), "/")
	switch p {
	case "", "~", "/.", "/..", "$HOME":
		return true
	}
	if strings.HasPrefix(p, "~") && !strings.Contains(p[1:], "/") {
		return true // ~user
	}
	if strings.HasPrefix(p, "/") {
		clean := path.Clean(p)
		return clean == "/" || systemDirs[strings.TrimPrefix(clean, "/")]
	}
	return false
}

// trip checks one program and its arguments against the tripwire.
func (c *checker) trip(name string, args []string, static []bool) {
	if !c.p.Tripwire || c.denied != nil {
		return
	}
	deny := func(what string) {
		c.deny("tripwire:"+name, name, "%s is refused by the default tripwire (docs/security-model.md); pass an explicit policy, or --policy none, to allow it", what)
	}
	recursive := func() bool {
		for i, a := range args {
			if !static[i] || !strings.HasPrefix(a, "-") {
				continue
			}
			if a == "--recursive" || !strings.HasPrefix(a, "--") && strings.ContainsAny(a, "rR") {
				return true
			}
		}
		return false
	}
	targets := func() []string {
		var out []string
		for i, a := range args {
			if (static[i] || strings.HasPrefix(a, "$HOME")) && !strings.HasPrefix(a, "-") {
				out = append(out, a)
			}
		}
		return out
	}
	switch {
	case name == "rm":
		for i, a := range args {
			if static[i] && a == "--no-preserve-root" {
				deny("rm --no-preserve-root")
				return
			}
		}
		if recursive() {
			for _, t := range targets() {
				if broadPath(t) {
					deny("rm -r of " + t)
					return
				}
			}
		}
	case name == "chmod" || name == "chown" || name == "chgrp":
		if recursive() {
			ts := targets()
			for _, t := range ts[min(1, len(ts)):] { // the first is the mode or owner
				if broadPath(t) {
					deny(name + " -R of " + t)
					return
				}
			}
		}
	case name == "dd":
		for i, a := range args {
			if static[i] && strings.HasPrefix(a, "of=/dev/") && diskDevice(strings.TrimPrefix(a, "of=")) {
				deny("dd onto a device")
				return
			}
		}
	case name == "mkfs" || strings.HasPrefix(name, "mkfs.") || name == "mke2fs" || name == "mkswap" || name == "wipefs":
		deny("making or wiping a file system (" + name + ")")
	case name == "shutdown" || name == "reboot" || name == "halt" || name == "poweroff":
		deny("shutting the machine down (" + name + ")")
	case name == "systemctl":
		for i, a := range args {
			if static[i] && (a == "poweroff" || a == "reboot" || a == "halt" || a == "kexec") {
				deny("systemctl " + a)
				return
			}
		}
	case name == "init" || name == "telinit":
		if len(args) > 0 && static[0] && (args[0] == "0" || args[0] == "6") {
			deny(name + " " + args[0])
		}
	}
}

// homeWord spells a word made of $HOME (or ${HOME}) and literal text as
// "$HOME…", or returns "".
func homeWord(w *syntax.Word) string {
	var b strings.Builder
	var walk func(parts []syntax.WordPart) bool
	walk = func(parts []syntax.WordPart) bool {
		for _, part := range parts {
			switch x := part.(type) {
			case *syntax.Lit:
				b.WriteString(x.Value)
			case *syntax.DblQuoted:
				if !walk(x.Parts) {
					return false
				}
			case *syntax.ParamExp:
				if x.Param == nil || x.Param.Value != "HOME" || x.Exp != nil || x.Slice != nil || x.Repl != nil || x.Index != nil || x.Length || x.Excl {
					return false
				}
				b.WriteString("$HOME")
			default:
				return false
			}
		}
		return true
	}
	if !walk(w.Parts) || !strings.HasPrefix(b.String(), "$HOME") {
		return ""
	}
	return b.String()
}

// diskDevice reports whether a /dev path is a disk or partition, not a
// character device such as /dev/null.
func diskDevice(p string) bool {
	base := strings.TrimPrefix(p, "/dev/")
	for _, pre := range []string{"sd", "hd", "vd", "xvd", "nvme", "mmcblk", "md", "dm-", "loop", "disk/", "mapper/"} {
		if strings.HasPrefix(base, pre) {
			return true
		}
	}
	return false
}

// tripRedirects refuses a redirection that writes onto a disk device.
func (c *checker) tripRedirects(redirs []*syntax.Redirect) {
	if !c.p.Tripwire || c.denied != nil {
		return
	}
	for _, r := range redirs {
		switch r.Op {
		case syntax.RdrOut, syntax.AppOut, syntax.RdrAll, syntax.AppAll, syntax.RdrClob, syntax.RdrInOut:
		default:
			continue
		}
		if t, ok := literal(r.Word); ok && strings.HasPrefix(t, "/dev/") && diskDevice(t) {
			c.deny("tripwire:redirect", "", "writing onto the device %s is refused by the default tripwire (docs/security-model.md)", t)
			return
		}
	}
}

// downloaders fetch what a shell then runs.
var downloaders = map[string]bool{"curl": true, "wget": true, "fetch": true, "aria2c": true}

// tripPipe refuses a download piped into a shell, anywhere along a
// pipeline (`curl … | tee f | sh`).
func (c *checker) tripPipe(b *syntax.BinaryCmd) {
	if !c.p.Tripwire || c.denied != nil || b.Op != syntax.Pipe && b.Op != syntax.PipeAll {
		return
	}
	left := ""
	for _, p := range pipelinePrograms(b.X, nil) {
		if downloaders[p] {
			left = p
		}
	}
	if left == "" {
		return
	}
	for _, right := range pipelinePrograms(b.Y, nil) {
		if shells[right] {
			c.deny("tripwire:"+left+"|"+right, right, "a download piped into a shell (%s | %s) is refused by the default tripwire (docs/security-model.md)", left, right)
			return
		}
	}
}

// pipelinePrograms appends the programs of each command of a pipeline,
// looked up through sudo, env, doas and the like.
func pipelinePrograms(st *syntax.Stmt, out []string) []string {
	if st == nil {
		return out
	}
	switch x := st.Cmd.(type) {
	case *syntax.BinaryCmd:
		if x.Op == syntax.Pipe || x.Op == syntax.PipeAll {
			return pipelinePrograms(x.Y, pipelinePrograms(x.X, out))
		}
	case *syntax.CallExpr:
		for _, a := range x.Args {
			w, ok := literal(a)
			if !ok {
				break
			}
			base := path.Base(w)
			switch {
			case base == "sudo" || base == "doas" || base == "env" || base == "command" || base == "exec" || base == "nohup":
				continue
			case strings.HasPrefix(w, "-") || strings.Contains(w, "="):
				continue // a wrapper's option or an env assignment
			}
			return append(out, base)
		}
	}
	return out
}
