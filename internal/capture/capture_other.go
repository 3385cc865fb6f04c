//go:build !linux

package capture

import (
	"errors"
	"os/exec"
)

// Supported says capture cannot run here.
func Supported() error { return errors.New("capture: needs Linux (mount namespaces)") }

// Shells lists nothing here.
func Shells() []string { return nil }

// Command is not available here.
func Command(cfg Config) (*exec.Cmd, error) { return nil, Supported() }

// Main does nothing here.
func Main() {}

// ShimBinary is the small shim's name.
const ShimBinary = "execkit-shim"

// FindShim finds nothing here.
func FindShim() (string, bool) { return "", false }
