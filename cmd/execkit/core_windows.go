//go:build windows

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// dialUnix is not used on Windows, where execkit record does not run.
func dialUnix(path string) (*os.File, error) { return nil, errors.New("no Unix sockets here") }

// startCore runs execkit-core with the same arguments and standard
// streams, and returns its exit status.
func startCore(core string, args []string) int {
	cmd := exec.Command(core, args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "execkit: start %s: %v\n", core, err)
		return 127
	}
	return 0
}
