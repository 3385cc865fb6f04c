//go:build windows

package main

import "os"

// writableDir reports whether this user may create files in dir: on
// Windows by creating one (and removing it).
func writableDir(dir string) bool {
	f, err := os.CreateTemp(dir, ".execkit-probe-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}
