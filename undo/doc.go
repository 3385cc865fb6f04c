// Package undo keeps checkpoints of a workspace directory, stored as git
// objects in a checkpoint repository of its own (never the workspace's own
// .git, which is excluded and left untouched), and restores them.
//
// A Store is one workspace and its checkpoint repository. LocalStore works
// on this machine with go-git's object plumbing and a stat cache, so that a
// checkpoint of an unchanged tree costs a directory walk and hashes nothing,
// and one after a few edits hashes only the edited files. RemoteStore drives
// git on an SSH host or in a container through a side channel the caller
// provides (a Runner), with its own GIT_DIR and GIT_WORK_TREE.
//
// Restore brings the workspace back to a checkpoint: files modified or
// deleted since are restored (content, mode, symbolic links), files created
// since are removed; excluded paths, files over the size cap and anything
// outside the workspace are not touched.
//
// The package imports nothing else from execkit.
package undo
