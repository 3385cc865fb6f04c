//go:build !linux

package undo

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// readDir calls fn for each entry of a directory with the directory's
// descriptor, the entry's name and its type (see the Linux version, which
// reads the entries with getdents; here the os package lists them).
func readDir(dir string, fn func(fd int, name string, typ byte)) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	es, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range es {
		typ := byte(unix.DT_UNKNOWN)
		switch t := e.Type(); {
		case t.IsDir():
			typ = unix.DT_DIR
		case t.IsRegular():
			typ = unix.DT_REG
		case t&fs.ModeSymlink != 0:
			typ = unix.DT_LNK
		}
		fn(fd, e.Name(), typ)
	}
	return nil
}
