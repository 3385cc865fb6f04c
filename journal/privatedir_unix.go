//go:build !windows

package journal

import (
	"os"
	"syscall"
)

// privateDir reports whether dir is a directory this user owns and no one
// else can enter: where no one else can have put a socket that would
// serve readers a journal of their making.
func privateDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
