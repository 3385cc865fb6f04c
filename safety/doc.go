// Package safety will hold what stands between an agent and the host: the
// command policy (parsed with mvdan.cc/sh/v3/syntax), the streaming secret
// redactor, terminal-escape sanitising and output budgets. It imports
// nothing else from execkit. Nothing is implemented here yet; the session
// engine already bounds output with hard byte caps (session.Options).
package safety
