// Package inrecord is how the execkit program in front (cmd/execkit) asks
// execkit record's recorder to run an execkit command line in its own
// process (cmd/execkit-core), so that `execkit exec` inside a recorded run
// does not start execkit-core: one JSON line each way on the recorder's
// socket, whose other connections speak MCP.
package inrecord

// Environment of a recorded agent, and of execkit-core started by the
// program in front.
const (
	EnvSocket  = "EXECKIT_SOCKET"  // the recorder's socket
	EnvSession = "EXECKIT_SESSION" // the recorder's session to use
	EnvFront   = "EXECKIT_FRONT"   // the program in front's path
)

// Prefix is how a Request's line begins; a connection whose first bytes
// are not it speaks MCP.
const Prefix = `{"execkit_run"`

// Request is a command line (without the program name) and the caller's
// session.
type Request struct {
	Run     []string `json:"execkit_run"`
	Session string   `json:"session,omitempty"`
}

// Reply is what the command line printed and its exit status, or
// Delegate: it needs execkit-core in the caller's process.
type Reply struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	Code     int    `json:"code"`
	Delegate bool   `json:"delegate,omitempty"`
}
