//go:build !windows

package undo

import (
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"golang.org/x/sys/unix"
)

// readFlat reads one directory: the files it covers, with their stat data,
// and its subdirectories that are not excluded.
func (s *LocalStore) readFlat(rel string) (files []seen, subdirs []string, err error) {
	dir := s.ws
	if rel != "" {
		dir = filepath.Join(s.ws, filepath.FromSlash(rel))
	}
	err = readDir(dir, func(fd int, name string, typ byte) {
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		if s.m.excluded(r) {
			return
		}
		switch typ {
		case unix.DT_DIR:
			subdirs = append(subdirs, r)
			return
		case unix.DT_REG, unix.DT_LNK, unix.DT_UNKNOWN:
		default:
			return
		}
		var st unix.Stat_t
		if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return // vanished: not covered
		}
		cur := fileState{Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Ino: st.Ino}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFDIR: // a file system without d_type
			subdirs = append(subdirs, r)
			return
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			cur.Mode = filemode.Symlink
		case st.Mode&unix.S_IFMT != unix.S_IFREG:
			return
		case st.Mode&0o111 != 0:
			cur.Mode = filemode.Executable
		default:
			cur.Mode = filemode.Regular
		}
		files = append(files, seen{rel: r, st: cur, skipped: cur.Mode != filemode.Symlink && cur.Size > s.max})
	})
	return files, subdirs, err
}

// readDir calls fn for each entry of a directory with the directory's
// descriptor (for fstatat), the entry's name and its type (listDir).
func readDir(dir string, fn func(fd int, name string, typ byte)) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return listDir(fd, dir, func(name string, typ byte) { fn(fd, name, typ) })
}
