//go:build windows

package main

import "github.com/execkit/execkit/internal/fsprobe"

// writableDir reports whether this user may create files in dir: on
// Windows by creating one (and removing it).
func writableDir(dir string) bool { return fsprobe.CanCreate(dir) }
