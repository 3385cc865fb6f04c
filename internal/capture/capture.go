// Package capture lets `execkit record` see the shell commands an agent
// runs by itself (`bash -c …`, `sh -c …` from subprocess or
// child_process), without the agent's cooperation and without standing
// anything in between: the agent's own process starts the real shell.
//
// The agent is started under a seccomp filter that holds every execve and
// execveat of its process tree for the recorder (internal/execfence, user
// notification). A held start of a shell that runs a command (-c, or a
// script a program runs) is a command: before it goes on, the recorder
// journals its intent and checks the policy; then its stdout and stderr
// are replaced, in the starting process, by pipes the recorder copies to
// where they were going (and into the journal), unless they are
// terminals; and the process is traced (ptrace, with no events asked
// for), so that the recorder learns how it ended before its parent does. A refused command never starts: the process writes the reason on
// its stderr and exits 126. Every other start goes on at once. Shells
// started inside a recorded command belong to it, and the shells of
// execkit's own sessions are not observed.
package capture

import (
	"strings"
	"time"
)

// Environment of the setup helper and the relay.
const (
	// EnvSetup holds the helper's Config (JSON); set, the binary is the
	// helper that puts the filter on itself and becomes the agent.
	EnvSetup = "EXECKIT_CAPTURE_SETUP"
	// EnvRelay, set to a count of descriptor pairs, makes the binary the
	// relay that copies the streams of commands still running when the
	// recorder ends, and lets the starts of what is left of the agent's
	// processes go on.
	EnvRelay = "EXECKIT_CAPTURE_RELAY"
)

// Config is what the setup helper needs.
type Config struct {
	Agent []string `json:"agent"` // the agent's program and arguments
}

// Cmd is one shell command an agent started.
type Cmd struct {
	PID, PPID int
	Argv      []string
	Cwd       string // working directory when it started
	Kind      string // "c" or "script" (Parse)
	Text      string // the -c string, or the script and its arguments
	Start     time.Time

	// When it has ended: its exit status (128+N for signal N), the
	// signal, how long it ran. Known is false when it could not be
	// followed to its end.
	Exit, Signal int
	Duration     time.Duration
	Known        bool

	// Token is the recorder's, for its own use (the journal entry).
	Token any
}

// Hooks are the recorder's part.
type Hooks struct {
	// Begin is called before a command runs, on the thread that holds it;
	// it returns an error to refuse it (the error's text is the reason).
	Begin func(*Cmd) error
	// Output is called with what the command writes, as it comes.
	Output func(c *Cmd, stream string, p []byte)
	// End is called once the command has ended and its output has been
	// read (or waited for long enough: a process it left in the
	// background may hold its streams).
	End func(*Cmd)
	// Note, when set, is told once of each thing that cannot be recorded
	// here (a command that cannot be traced, output that cannot be copied).
	Note func(string)
}

// Parse says what a shell's arguments run: kind "c" and the -c string,
// "script" and the script with its arguments, or "" for an interactive
// shell.
func Parse(argv []string) (kind, cmd string) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			return "", ""
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "c") {
			for k := i + 1; k < len(argv); k++ {
				if !strings.HasPrefix(argv[k], "-") && !strings.HasPrefix(argv[k], "+") {
					return "c", argv[k]
				}
			}
			return "c", ""
		}
		if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+") {
			return "script", strings.Join(argv[i:], " ")
		}
	}
	return "", ""
}

// shellNames are the programs taken for shells by their name.
var shellNames = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "ash": true}

// shebang returns the interpreter line of a script's first bytes:
// "#!/bin/bash -e" gives ["/bin/bash", "-e"]; "#!/usr/bin/env bash" gives
// ["bash"].
func shebang(head []byte) []string {
	if len(head) < 3 || head[0] != '#' || head[1] != '!' {
		return nil
	}
	line := string(head[2:])
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else if len(head) >= 256 {
		return nil // longer than the kernel reads
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	if len(f) >= 2 && (f[0] == "/usr/bin/env" || f[0] == "/bin/env") {
		return f[1:]
	}
	// The kernel passes the rest of the line as one argument.
	if len(f) > 1 {
		return []string{f[0], strings.Join(f[1:], " ")}
	}
	return f
}
