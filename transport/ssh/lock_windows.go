//go:build windows

package ssh

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes f's exclusive lock (known_hosts, written by several
// sessions at once); unlockFile lets it go.
func lockFile(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, new(windows.Overlapped))
}

func unlockFile(f *os.File) {
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}
