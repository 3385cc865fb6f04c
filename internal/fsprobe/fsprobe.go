// Package fsprobe answers whether files can be created in a directory by
// trying: one temporary file, made and removed at once.
package fsprobe

import "os"

// Create makes a file in dir and removes it; its error says why none can
// be made there.
func Create(dir string) error {
	f, err := os.CreateTemp(dir, ".execkit-probe-")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// CanCreate reports whether a file can be created in dir.
func CanCreate(dir string) bool { return Create(dir) == nil }
