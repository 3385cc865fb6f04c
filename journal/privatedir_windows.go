//go:build windows

package journal

// privateDir is false on Windows: a journal being written there is not
// served to readers (they get "in use"), for want of a check that the
// socket's directory is the user's alone.
func privateDir(string) bool { return false }
