//go:build !windows

package main

import "golang.org/x/sys/unix"

// writableDir reports whether this user may create files in dir.
func writableDir(dir string) bool { return unix.Access(dir, unix.W_OK|unix.X_OK) == nil }
