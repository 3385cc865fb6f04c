// Package testbuild builds the module's programs for tests and
// benchmarks that run them as they are installed.
package testbuild

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Program builds the Go package pkg (a path as `go build` takes it) into
// dir/name and returns that path; dir empty means a directory of tb's own.
// A failed build ends tb.
func Program(tb testing.TB, pkg, dir, name string) string {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	out := filepath.Join(dir, name)
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}
