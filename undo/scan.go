package undo

import (
	"strings"
)

// scan lists what the workspace holds now. With a watcher that has seen
// every change since the last scan, only the directories it named are read
// again (quiet: none were); otherwise, and the first time, it walks the
// whole workspace, watching each directory before reading it.
func (s *LocalStore) scan() (found []seen, quiet bool, err error) {
	if s.w != nil && s.files != nil {
		dirty, fresh, lost := s.w.take()
		if !lost {
			if len(dirty) == 0 && len(fresh) == 0 {
				return nil, true, nil
			}
			if found, err := s.rescan(dirty, fresh); err == nil {
				return found, false, nil
			}
		}
		// The watcher cannot vouch for this snapshot: start it again
		// with a full walk.
		s.w.close()
		s.w = newWatcher()
	}
	s.walks++
	found, err = s.walk()
	if err != nil {
		s.files = nil
		return nil, false, err
	}
	if s.w != nil {
		if _, _, lost := s.w.take(); lost {
			// A watch could not be added: the watcher cannot be relied on.
			s.w.close()
			s.w = nil
		}
	}
	s.files = map[string]map[string]seen{}
	s.keep(found)
	return found, false, nil
}

// keep files what a scan found under each file's directory.
func (s *LocalStore) keep(found []seen) {
	for _, f := range found {
		d := parentDir(f.rel)
		if s.files[d] == nil {
			s.files[d] = map[string]seen{}
		}
		s.files[d][f.rel] = f
	}
}

// rescan reads again the directories the watcher named: each dirty one
// alone, each fresh one (created or moved in) with all below it; it returns
// everything the workspace covers.
func (s *LocalStore) rescan(dirty, fresh map[string]bool) ([]seen, error) {
	under := func(rel, dir string) bool { return dir == "" || rel == dir || strings.HasPrefix(rel, dir+"/") }
	drop := func(dir string) { // forget dir and all below it
		for d := range s.files {
			if under(d, dir) {
				delete(s.files, d)
			}
		}
	}
	var roots []string
	addRoot := func(dir string) {
		if s.m.excluded(dir) {
			return
		}
		for _, r := range roots {
			if under(dir, r) {
				return
			}
		}
		drop(dir)
		roots = append(roots, dir)
	}
	for dir := range fresh {
		addRoot(dir)
	}
	for dir := range dirty {
		if containedIn(dir, roots) {
			continue
		}
		if dir != "" && !s.w.watched(dir) {
			drop(dir) // gone: its parent is dirty too
			continue
		}
		files, subdirs, err := s.readFlat(dir)
		if err != nil {
			return nil, err
		}
		delete(s.files, dir)
		s.keep(files)
		present := map[string]bool{}
		for _, sd := range subdirs {
			present[sd] = true
			if !s.w.watched(sd) {
				addRoot(sd)
			}
		}
		for d := range s.files {
			if top := topBelow(d, dir); top != "" && !present[top] {
				drop(top) // a subdirectory that is gone
			}
		}
	}
	for _, r := range roots {
		found, err := s.walkFrom(r)
		if err != nil {
			return nil, err
		}
		s.keep(found)
	}
	var all []seen
	for _, files := range s.files {
		for _, f := range files {
			all = append(all, f)
		}
	}
	return all, nil
}

func containedIn(dir string, roots []string) bool {
	for _, r := range roots {
		if dir == r || r == "" || strings.HasPrefix(dir, r+"/") {
			return true
		}
	}
	return false
}

// topBelow is the child of dir on the way to d ("" when d is not below
// dir).
func topBelow(d, dir string) string {
	rest := d
	if dir != "" {
		if !strings.HasPrefix(d, dir+"/") {
			return ""
		}
		rest = d[len(dir)+1:]
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	if dir == "" {
		return rest
	}
	return dir + "/" + rest
}
