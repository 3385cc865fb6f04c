package undo

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watcher tells a local store which directories changed since the last
// checkpoint, so that an unchanged workspace is not walked at all and a
// changed one only where it changed.
//
// It reads inotify itself (golang.org/x/sys/unix) rather than through a
// library that delivers events on a goroutine: before a checkpoint the
// store must know that every change made so far has been seen, and a
// non-blocking read of the inotify descriptor until it is empty says
// exactly that (the kernel queues an event when the change is made).
//
// Whatever the watcher cannot vouch for makes the next snapshot a full
// walk: a queue overflow, a watch that could not be added (the watch limit),
// the workspace itself removed or moved, an event for a directory it does
// not know. A directory that appears (created or moved in) is walked whole,
// so that what was put in it before its watch was added is seen.
type watcher struct {
	fd   int
	mu   sync.Mutex // guards the maps while a walk adds watches in parallel
	wds  map[int32]string
	dirs map[string]int32
	// dirty: directories whose entries changed; fresh: directories to walk
	// whole; lost: events were lost, so the next snapshot walks everything.
	dirty, fresh map[string]bool
	lost         bool
	buf          []byte
}

// watchLimit, when set (by tests), stands for the kernel's limit on
// watches (fs.inotify.max_user_watches), which is shared by the machine.
var watchLimit int

const watchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR |
	unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK

// newWatcher starts watching nothing yet; or returns nil when inotify is
// not available.
func newWatcher() *watcher {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	return &watcher{fd: fd, wds: map[int32]string{}, dirs: map[string]int32{},
		dirty: map[string]bool{}, fresh: map[string]bool{}, buf: make([]byte, 64<<10)}
}

// add watches directory rel (of the workspace at root) before it is read.
// A watch that cannot be added (the limit reached) loses the watcher its
// use: every snapshot walks until the store is opened again.
func (w *watcher) add(root, rel string) {
	dir := root
	if rel != "" {
		dir = filepath.Join(root, filepath.FromSlash(rel))
	}
	wd, err := unix.InotifyAddWatch(w.fd, dir, watchMask)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil && watchLimit > 0 && len(w.dirs) >= watchLimit {
		unix.InotifyRmWatch(w.fd, uint32(wd))
		err = unix.ENOSPC
	}
	if err != nil {
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			w.lost = true // ENOSPC: the watch limit; anything else too
		}
		return
	}
	w.wds[int32(wd)] = rel
	w.dirs[rel] = int32(wd)
}

// drain reads every event queued so far.
func (w *watcher) drain() {
	for {
		n, err := unix.Read(w.fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return // EAGAIN: nothing more
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			name := ""
			if ev.Len > 0 {
				b := w.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				name = strings.TrimRight(string(b), "\x00")
			}
			w.event(ev.Wd, ev.Mask, name)
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

func (w *watcher) event(wd int32, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.lost = true
		return
	}
	dir, ok := w.wds[wd]
	if !ok {
		return // a watch already removed
	}
	switch {
	case mask&unix.IN_IGNORED != 0:
		delete(w.wds, wd)
		if w.dirs[dir] == wd {
			delete(w.dirs, dir)
		}
		if dir == "" {
			w.lost = true
		}
		return
	case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
		if dir == "" {
			w.lost = true // the workspace itself went
		}
		return // its parent hears of it too
	}
	w.dirty[dir] = true
	rel := name
	if dir != "" {
		rel = dir + "/" + name
	}
	if mask&unix.IN_ISDIR == 0 {
		return
	}
	if mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
		w.fresh[rel] = true
	}
	if mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0 {
		w.forget(rel)
	}
}

// forget stops watching a directory that left the workspace, and all below
// it (a moved directory keeps its watches, wherever it went).
func (w *watcher) forget(rel string) {
	for d, wd := range w.dirs {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			unix.InotifyRmWatch(w.fd, uint32(wd))
			delete(w.dirs, d)
			delete(w.wds, wd)
		}
	}
}

// take returns what changed since the last take and starts afresh.
func (w *watcher) take() (dirty, fresh map[string]bool, lost bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.drain()
	dirty, fresh, lost = w.dirty, w.fresh, w.lost
	w.dirty, w.fresh = map[string]bool{}, map[string]bool{}
	return dirty, fresh, lost
}

// watched reports whether rel is a directory being watched.
func (w *watcher) watched(rel string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.dirs[rel]
	return ok
}

func (w *watcher) close() {
	unix.Close(w.fd)
}
