package undo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Store is one workspace and its checkpoint repository.
type Store interface {
	// Checkpoint records the workspace as it is now. When nothing changed
	// since the last checkpoint it returns that one, with Unchanged set.
	Checkpoint(ctx context.Context, label string) (Checkpoint, error)
	// List returns the checkpoints, newest first.
	List(ctx context.Context) ([]Checkpoint, error)
	// Diff lists the files that differ between two checkpoints.
	Diff(ctx context.Context, from, to string) ([]Change, error)
	// Restore brings the workspace back to checkpoint id and returns what
	// it changed (with dryRun, what it would change, touching nothing).
	Restore(ctx context.Context, id string, dryRun bool) ([]Change, error)
	// Info describes the store.
	Info() Info
}

// Info describes a store, for journals and messages.
type Info struct {
	Kind      string `json:"kind"` // "local" or "remote"
	Workspace string `json:"workspace"`
	Dir       string `json:"dir"` // the checkpoint repository
	// Exclude are the patterns given in Options.Exclude (DefaultExcludes
	// always apply besides).
	Exclude []string `json:"exclude,omitempty"`
}

// Checkpoint is one recorded state of the workspace.
type Checkpoint struct {
	ID        string    `json:"id"` // the commit's hash
	Label     string    `json:"label,omitempty"`
	Time      time.Time `json:"time"`
	Files     int       `json:"files"`
	Unchanged bool      `json:"unchanged,omitempty"` // the previous checkpoint, returned again
	// Skipped lists files left out for their size.
	Skipped []string `json:"skipped,omitempty"`
}

// ChangeKind says how a file differs.
type ChangeKind string

// Kinds of change, seen from the later state.
const (
	Added    ChangeKind = "added"
	Modified ChangeKind = "modified"
	Deleted  ChangeKind = "deleted"
)

// Change is one file that differs: its path relative to the workspace.
type Change struct {
	Path string     `json:"path"`
	Kind ChangeKind `json:"kind"`
}

func (c Change) String() string {
	sign := map[ChangeKind]string{Added: "+", Modified: "~", Deleted: "-"}[c.Kind]
	return sign + " " + c.Path
}

// Options configure a store.
type Options struct {
	// Workspace is the directory checkpoints cover. It must be given
	// explicitly; / and the home directory are refused.
	Workspace string
	// Dir is the checkpoint repository. Default: a directory named after
	// the workspace under $XDG_STATE_HOME/execkit/checkpoints (locally) or
	// the target's equivalent.
	Dir string
	// Exclude adds patterns to DefaultExcludes. A pattern without a slash
	// matches a file or directory name at any depth ("*.log"); one with a
	// slash, or starting with one, matches a path relative to the
	// workspace ("build/out", "/secret"), and everything under it.
	Exclude []string
	// MaxFileSize leaves out files larger than this many bytes; zero means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// ReadOnly opens an existing repository for List and Diff only: nothing
	// is created or written, and Checkpoint and Restore fail with
	// ErrReadOnly. A repository that does not exist is ErrNotFound.
	ReadOnly bool
	// NoWatch: a local store walks the whole workspace for every
	// checkpoint instead of watching it for changes.
	NoWatch bool
}

// DefaultMaxFileSize is the default size cap per file.
const DefaultMaxFileSize = 64 << 20

// DefaultExcludes are never checkpointed nor touched by a restore: version
// control directories (the user's own .git above all), dependency and
// cache directories that tools rebuild, and credential directories.
var DefaultExcludes = append([]string{
	".git", ".hg", ".svn",
	"node_modules", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
	".venv", ".tox", ".cache", ".gradle", ".terraform", ".next",
}, CredentialDirs...)

// CredentialDirs are never part of a checkpoint, whatever the patterns say,
// and a restore never writes into them, on every transport.
var CredentialDirs = []string{".ssh", ".aws", ".gnupg", ".kube", ".docker", ".azure"}

// inCredentialDir reports whether rel (slash-separated) is or lies in a
// credential directory.
func inCredentialDir(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		for _, d := range CredentialDirs {
			if part == d {
				return true
			}
		}
	}
	return false
}

// checkExcludes refuses patterns that could bring excluded files back in
// (negation, as git's exclude files know it) or carry more than one pattern.
func checkExcludes(patterns []string) error {
	for _, p := range patterns {
		switch {
		case strings.HasPrefix(p, "!"):
			return fmt.Errorf("%w: %q: negated patterns are not supported (a pattern can only leave files out)", ErrExclude, p)
		case strings.ContainsAny(p, "\n\r\x00"):
			return fmt.Errorf("%w: %q: a pattern is one line", ErrExclude, p)
		case strings.TrimSpace(p) == "":
			return fmt.Errorf("%w: an empty pattern", ErrExclude)
		}
	}
	return nil
}

// Errors.
var (
	ErrWorkspace = errors.New("undo: workspace refused")
	ErrNotFound  = errors.New("undo: no such checkpoint")
	ErrNoGit     = errors.New("undo: git is not installed on the target")
	ErrReadOnly  = errors.New("undo: the store was opened read-only")
	ErrExclude   = errors.New("undo: exclude pattern refused")
)

// checkWorkspace refuses a workspace that is not an explicit directory of
// its own: empty, relative, / or a home directory.
func checkWorkspace(ws, home string) error {
	if ws == "" {
		return fmt.Errorf("%w: no workspace given (checkpoints need an explicit directory)", ErrWorkspace)
	}
	if !path.IsAbs(ws) {
		return fmt.Errorf("%w: %q is not an absolute path", ErrWorkspace, ws)
	}
	clean := path.Clean(ws)
	if clean == "/" {
		return fmt.Errorf("%w: / is not a workspace", ErrWorkspace)
	}
	if home != "" && clean == path.Clean(home) {
		return fmt.Errorf("%w: the home directory %s is not a workspace; name a project directory", ErrWorkspace, clean)
	}
	return nil
}

// matcher decides which paths are excluded.
type matcher struct {
	literal map[string]bool // names matched exactly, at any depth
	names   []string        // name patterns with wildcards
	paths   []string        // patterns matched against the relative path
}

func newMatcher(extra []string) matcher {
	m := matcher{literal: map[string]bool{}}
	for _, p := range append(append([]string(nil), DefaultExcludes...), extra...) {
		anchored := strings.HasPrefix(p, "/")
		p = strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
		if p == "" {
			continue
		}
		switch {
		case anchored || strings.Contains(p, "/"):
			m.paths = append(m.paths, p)
		case strings.ContainsAny(p, `*?[\`):
			m.names = append(m.names, p)
		default:
			m.literal[p] = true
		}
	}
	return m
}

// excluded reports whether rel (slash-separated, relative to the
// workspace) or any directory above it is excluded.
func (m matcher) excluded(rel string) bool {
	base := rel[strings.LastIndexByte(rel, '/')+1:]
	if m.literal[base] {
		return true
	}
	for _, p := range m.names {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	for _, p := range m.paths {
		if ok, _ := path.Match(p, rel); ok || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// defaultDir is where a workspace's checkpoint repository goes by default.
func defaultDir(ws string) (string, error) {
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("undo: no state directory: %w", err)
		}
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "execkit", "checkpoints", dirName(ws)), nil
}

// dirName names a workspace's repository: its base name and a hash of the
// whole path, so that two workspaces never share one.
func dirName(ws string) string {
	return strings.Trim(path.Base(ws), ".") + "-" + shortHash(ws)
}
