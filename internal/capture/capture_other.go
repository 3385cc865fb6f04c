//go:build !linux || !(amd64 || arm64)

package capture

import (
	"errors"
	"os"
	"os/exec"
)

var errUnsupported = errors.New("capture: needs Linux on amd64 or arm64 (seccomp user notification and ptrace)")

// Supported says capture cannot run here.
func Supported() error { return errUnsupported }

// Shells lists nothing here.
func Shells() []string { return nil }

// Command is not available here.
func Command(cfg Config) (*exec.Cmd, *os.File, error) { return nil, nil, errUnsupported }

// Receive is not available here.
func Receive(sock *os.File) (*os.File, error) { return nil, errUnsupported }

// Observe is not available here.
func Observe(listener *os.File, agent int, hooks Hooks, stop <-chan struct{}) error {
	return errUnsupported
}

// Main does nothing here.
func Main() {}
