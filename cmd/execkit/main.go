// Command execkit is the program people and agents run. It answers what
// needs nothing more at once — the version, and `execkit exec` inside
// `execkit record` (the recorder runs the command) — and starts
// execkit-core, installed next to it, for everything else: execkit-core
// links the transports, the journal, the MCP server and the viewers, and
// takes tens of milliseconds to start (docs/performance.md, "Start-up").
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/execkit/execkit/internal/inrecord"
	"github.com/execkit/execkit/internal/version"
)

// coreName is execkit-core's file name here.
func coreName() string {
	if runtime.GOOS == "windows" {
		return "execkit-core.exe"
	}
	return "execkit-core"
}

func main() {
	args := os.Args
	if len(args) == 2 {
		switch args[1] {
		case "--version", "-v", "-V", "version":
			fmt.Println(version.Line())
			return
		}
	}
	if len(args) > 2 && args[1] == "exec" && os.Getenv(inrecord.EnvSocket) != "" {
		if code, ok := execInRecorder(args[1:]); ok {
			os.Exit(code)
		}
	}
	self, core, err := findCore()
	if err != nil {
		fmt.Fprintf(os.Stderr, "execkit: %v\n", err)
		os.Exit(127)
	}
	os.Setenv(inrecord.EnvFront, self)
	os.Exit(startCore(core, args))
}

// findCore finds execkit-core next to this program, or on PATH.
func findCore() (self, core string, err error) {
	self, err = os.Executable()
	if err == nil {
		if r, e := filepath.EvalSymlinks(self); e == nil {
			self = r
		}
		core = filepath.Join(filepath.Dir(self), coreName())
		if fi, e := os.Stat(core); e == nil && fi.Mode().IsRegular() {
			return self, core, nil
		}
	}
	if p, e := lookPath(coreName()); e == nil {
		return self, p, nil
	}
	return "", "", fmt.Errorf("%s is not installed next to %s or on PATH: install both (go install github.com/execkit/execkit/cmd/...), or put the release's two programs in one directory", coreName(), self)
}

// lookPath finds name in PATH.
func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// execInRecorder has the recorder run `execkit exec …` in its session and
// prints what it printed; ok is false when the recorder cannot be reached
// or says execkit-core must run it.
func execInRecorder(args []string) (code int, ok bool) {
	conn, err := dialUnix(os.Getenv(inrecord.EnvSocket))
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	b, _ := json.Marshal(inrecord.Request{Run: args, Session: os.Getenv(inrecord.EnvSession)})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return 0, false
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	var r inrecord.Reply
	if err != nil || json.Unmarshal(line, &r) != nil || r.Delegate {
		return 0, false
	}
	os.Stdout.WriteString(r.Stdout)
	os.Stderr.WriteString(r.Stderr)
	return r.Code, true
}
