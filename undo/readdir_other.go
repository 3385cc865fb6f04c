//go:build !linux && !windows

package undo

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// listDir calls fn for each entry of directory dir with its name and its
// type (the Linux version reads them with getdents; here the os package
// lists them).
func listDir(_ int, dir string, fn func(name string, typ byte)) error {
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
		fn(e.Name(), typ)
	}
	return nil
}
