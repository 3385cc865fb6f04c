package undo

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// listDir calls fn for each entry of the directory open as fd with its
// name and its type from the directory itself (DT_UNKNOWN on file systems
// that do not keep it), with raw system calls: for a walk that is mostly
// system calls, the os package's per-entry allocations and bookkeeping
// are most of what is left.
func listDir(fd int, _ string, fn func(name string, typ byte)) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
		for off := 0; off+19 <= n; {
			reclen := int(buf[off+16]) | int(buf[off+17])<<8
			if reclen == 0 || off+reclen > n {
				break
			}
			typ := buf[off+18]
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if nm := string(name); nm != "." && nm != ".." {
				fn(nm, typ)
			}
			off += reclen
		}
	}
}
