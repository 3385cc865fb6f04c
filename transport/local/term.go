//go:build !windows

package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// configureTerminal turns off output post-processing (\n -> \r\n) and echo,
// so that what a program prints arrives as it printed it, and makes input
// non-canonical with VMIN=0: nobody types into this terminal, so a read of it
// returns end-of-file at once instead of waiting forever (the terminal
// counterpart of an empty stdin). A program that sets its own terminal modes
// changes this for itself.
func configureTerminal(tty *os.File) {
	t, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil {
		return
	}
	t.Oflag &^= unix.ONLCR
	t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ICANON
	t.Cc[unix.VMIN] = 0
	t.Cc[unix.VTIME] = 0
	_ = unix.IoctlSetTermios(int(tty.Fd()), ioctlSetTermios, t)
}
