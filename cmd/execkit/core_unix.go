//go:build !windows

package main

import (
	"fmt"
	"os"
	"syscall"
)

// dialUnix connects to the Unix socket at path. (Through syscall, not
// package net, which would make this program load the C library when it
// is built with cgo, and start slower.)
func dialUnix(path string) (*os.File, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(fd)
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// startCore becomes execkit-core, with the same arguments (argv[0]
// included) and descriptors; it returns only when it cannot.
func startCore(core string, args []string) int {
	err := syscall.Exec(core, args, os.Environ())
	fmt.Fprintf(os.Stderr, "execkit: start %s: %v\n", core, err)
	return 127
}
