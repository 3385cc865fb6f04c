//go:build windows

package undo

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// readFlat lists one directory of the workspace (see the Unix version,
// which reads it with raw system calls): the files it covers with their
// stat data, and its subdirectories. Windows has no inode or change time:
// the cache knows a file by its size and modification time.
func (s *LocalStore) readFlat(rel string) (files []seen, subdirs []string, err error) {
	dir := s.ws
	if rel != "" {
		dir = filepath.Join(s.ws, filepath.FromSlash(rel))
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range es {
		r := e.Name()
		if rel != "" {
			r = rel + "/" + r
		}
		if s.m.excluded(r) {
			continue
		}
		if e.IsDir() {
			subdirs = append(subdirs, r)
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // vanished: not covered
		}
		cur := fileState{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			cur.Mode = filemode.Symlink
		case !fi.Mode().IsRegular():
			continue
		default:
			cur.Mode = filemode.Regular
		}
		files = append(files, seen{rel: r, st: cur, skipped: cur.Mode != filemode.Symlink && cur.Size > s.max})
	}
	return files, subdirs, nil
}
