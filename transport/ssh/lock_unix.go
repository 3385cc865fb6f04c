//go:build !windows

package ssh

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes f's exclusive lock (known_hosts, written by several
// sessions at once); unlockFile lets it go.
func lockFile(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX) }

func unlockFile(f *os.File) { unix.Flock(int(f.Fd()), unix.LOCK_UN) }
