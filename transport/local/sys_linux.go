package local

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/execkit/execkit/transport/internal/proctab"
)

// The terminal ioctls of Linux.
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)

// enlargePipe raises a pipe's capacity so that output floods move in fewer,
// larger reads. Failure is harmless.
func enlargePipe(f *os.File) {
	// Not f.Fd(): that would put the file in blocking mode.
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
}

// uptimeTicks reads the time since boot in clock ticks.
func uptimeTicks() (uint64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, false
	}
	return uint64(ts.Sec)*proctab.ClockTicks + uint64(ts.Nsec)/(1e9/proctab.ClockTicks), true
}

// becomeSubreaper makes the calling process the reaper of its orphaned
// descendants (see reaper.go).
func becomeSubreaper() error { return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }
