// Package capture lets `execkit record` see the shell commands an agent
// runs by itself (`bash -c …`, `sh -c …` from subprocess or
// child_process), without the agent's cooperation.
//
// The agent runs in a mount namespace of its own in which each shell's
// program file (bash, dash, sh, zsh: the files their names resolve to) is
// replaced, by a bind mount, with the execkit binary; the real files stay
// reachable at a private path. A shell started with -c there starts
// execkit as a shim: it asks the recorder (a Unix socket) whether the
// command may run — the recorder journals its intent first — then runs
// the real shell with the same arguments, environment, stdin and working
// directory, copies its stdout and stderr through to where they were going
// (and to the recorder), passes signals on, and ends as the shell ended.
// Shells started by a captured command, and the shells of execkit's own
// sessions, run the real shell directly.
package capture

import (
	"encoding/json"
	"strings"
)

// Environment of the setup helper and the shims.
const (
	// EnvSetup holds the helper's Config (JSON); set, the binary is the
	// helper that makes the namespace and becomes the agent.
	EnvSetup = "EXECKIT_CAPTURE_SETUP"
	// EnvSocket is the recorder's socket; EnvReal maps each replaced
	// shell file to where the real one is (JSON).
	EnvSocket = "EXECKIT_CAPTURE_SOCKET"
	EnvReal   = "EXECKIT_CAPTURE_REAL"
	// EnvInner marks a captured command's processes: shells below run
	// the real shell directly.
	EnvInner = "EXECKIT_CAPTURE_INNER"
	// EnvAgent is the agent's process id: the agent itself (a script, or
	// a wrapper script that execs the real program) is not its own command.
	EnvAgent = "EXECKIT_CAPTURE_AGENT"
	// EnvRelay, set to a count of descriptor pairs, makes the binary the
	// relay that copies a command's streams its background processes
	// still hold open after it ended.
	EnvRelay = "EXECKIT_CAPTURE_RELAY"
)

// Config is what the setup helper needs.
type Config struct {
	Dir    string   `json:"dir"`    // private directory for the real shells
	Shells []string `json:"shells"` // shell files to replace (resolved)
	Socket string   `json:"socket"`
	Shim   string   `json:"shim"`  // the program that stands in for the shells
	Agent  []string `json:"agent"` // the agent's program and arguments
}

// Message is one line of the shim's conversation with the recorder.
type Message struct {
	Type string `json:"type"` // start, out, end (shim); verdict (recorder)
	// start
	Argv []string `json:"argv,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	PID  int      `json:"pid,omitempty"`
	PPID int      `json:"ppid,omitempty"`
	// verdict
	Allow  bool   `json:"allow,omitempty"`
	Reason string `json:"reason,omitempty"`
	// out
	Stream string `json:"stream,omitempty"`
	Data   []byte `json:"data,omitempty"`
	// end
	Exit   int   `json:"exit"`
	Signal int   `json:"signal,omitempty"`
	MS     int64 `json:"ms,omitempty"`
}

func encode(m Message) []byte {
	b, _ := json.Marshal(m)
	return append(b, '\n')
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
