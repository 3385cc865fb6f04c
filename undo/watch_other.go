//go:build !linux

package undo

// watcher is Linux-only (inotify); elsewhere every snapshot walks.
type watcher struct{}

func newWatcher() *watcher { return nil }

func (w *watcher) add(root, rel string)                            {}
func (w *watcher) take() (dirty, fresh map[string]bool, lost bool) { return nil, nil, true }
func (w *watcher) watched(rel string) bool                         { return false }
func (w *watcher) close()                                          {}
