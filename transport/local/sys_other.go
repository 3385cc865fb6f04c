//go:build !linux && !windows

package local

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Elsewhere than Linux the local transport builds, with less: pipes keep
// their size, there is no /proc to find a session's processes in (only
// its process group is signalled) and no subreaper to keep escapees
// (docs/architecture.md, platforms).

// The terminal ioctls of the BSDs and macOS.
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)

func enlargePipe(*os.File) {}

func uptimeTicks() (uint64, bool) { return 0, false }

func becomeSubreaper() error { return errors.New("no subreaper on this system") }
