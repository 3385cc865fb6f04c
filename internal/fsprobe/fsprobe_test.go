package fsprobe

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCanCreate(t *testing.T) {
	dir := t.TempDir()
	if !CanCreate(dir) {
		t.Error("a fresh temporary directory is not writable")
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("the probe left %d files", len(es))
	}
	if CanCreate(filepath.Join(dir, "missing")) {
		t.Error("a missing directory is writable")
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o500)
		if CanCreate(ro) {
			t.Error("a read-only directory is writable")
		}
	}
}
