package undo

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// headRef is the branch the checkpoints are committed on.
const headRef = plumbing.ReferenceName("refs/heads/checkpoints")

// statCacheFile holds the stat cache in the checkpoint repository.
const statCacheFile = "execkit-statcache"

// fileState is one file of a snapshot, and its stat cache entry.
type fileState struct {
	Mode  filemode.FileMode
	Hash  plumbing.Hash
	Size  int64
	Mtime int64
	Ctime int64
	Ino   uint64
	Racy  bool // changed too close to the snapshot to trust its times
}

// LocalStore keeps checkpoints of a directory on this machine.
type LocalStore struct {
	ws, dir string
	m       matcher
	max     int64
	st      *filesystem.Storage
	exclude []string // Options.Exclude
	// readOnly: opened with Options.ReadOnly.
	readOnly bool

	mu       sync.Mutex
	cache    map[string]fileState
	head     plumbing.Hash
	headTree plumbing.Hash
	// stale: the cache no longer describes the head checkpoint (a restore
	// changed the workspace), so the next checkpoint builds its tree.
	stale bool
	// cacheDirty: the cache in memory has news the file lacks.
	cacheDirty bool
	// dirHash holds the tree hash of every directory as last built, and
	// dirty the directories whose files changed since: only those are
	// encoded again.
	dirHash map[string]plumbing.Hash
	dirty   map[string]bool
	// w watches the workspace between snapshots (nil: every snapshot
	// walks); files holds, per directory, what the last snapshot saw
	// there, skipped files included, and skipped lists those.
	w       *watcher
	files   map[string]map[string]seen
	skipped []string
	walks   int // full walks made, for tests
}

// OpenLocal opens (creating it when needed) the checkpoint repository of a
// workspace on this machine.
func OpenLocal(opts Options) (*LocalStore, error) {
	home, _ := os.UserHomeDir()
	if err := checkWorkspace(opts.Workspace, home); err != nil {
		return nil, err
	}
	ws, err := filepath.EvalSymlinks(filepath.Clean(opts.Workspace))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWorkspace, err)
	}
	if err := checkWorkspace(ws, home); err != nil {
		return nil, err
	}
	if err := checkExcludes(opts.Exclude); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(ws); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrWorkspace, ws)
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = defaultDir(ws); err != nil {
			return nil, err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if dir == ws || strings.HasPrefix(ws, dir+string(filepath.Separator)) {
		return nil, fmt.Errorf("%w: the checkpoint repository %s cannot hold the workspace", ErrWorkspace, dir)
	}
	s := &LocalStore{ws: ws, dir: dir, max: opts.MaxFileSize, cache: map[string]fileState{}, exclude: append([]string(nil), opts.Exclude...)}
	if s.max <= 0 {
		s.max = DefaultMaxFileSize
	}
	excl := append([]string(nil), opts.Exclude...)
	if rel, err := filepath.Rel(ws, dir); err == nil && !strings.HasPrefix(rel, "..") {
		excl = append(excl, filepath.ToSlash(rel)) // a repository inside the workspace
	}
	s.m = newMatcher(excl)
	s.readOnly = opts.ReadOnly
	if !opts.ReadOnly && !opts.NoWatch {
		s.w = newWatcher()
	}
	if _, err := os.Stat(filepath.Join(dir, "objects")); err != nil {
		if opts.ReadOnly {
			return nil, fmt.Errorf("%w: no checkpoint repository at %s", ErrNotFound, dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("undo: checkpoint repository: %w", err)
		}
		if _, err := git.PlainInit(dir, true); err != nil && !errors.Is(err, git.ErrRepositoryAlreadyExists) {
			return nil, fmt.Errorf("undo: checkpoint repository: %w", err)
		}
	}
	s.st = filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	if !opts.ReadOnly {
		if err := s.st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, headRef)); err != nil {
			return nil, fmt.Errorf("undo: checkpoint repository: %w", err)
		}
	}
	if ref, err := s.st.Reference(headRef); err == nil {
		s.head = ref.Hash()
		if c, err := object.GetCommit(s.st, s.head); err == nil {
			s.headTree = c.TreeHash
		}
	}
	s.loadCache()
	return s, nil
}

// Close stops watching the workspace.
func (s *LocalStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		s.w.close()
		s.w = nil
	}
	return nil
}

// Info implements Store.
func (s *LocalStore) Info() Info {
	return Info{Kind: "local", Workspace: s.ws, Dir: s.dir, Exclude: s.exclude}
}

func (s *LocalStore) loadCache() {
	f, err := os.Open(filepath.Join(s.dir, statCacheFile))
	if err != nil {
		return
	}
	defer f.Close()
	var c map[string]fileState
	if gob.NewDecoder(f).Decode(&c) == nil {
		s.cache = c
	}
}

func (s *LocalStore) saveCache() error {
	tmp, err := os.CreateTemp(s.dir, statCacheFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := gob.NewEncoder(tmp).Encode(s.cache); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(s.dir, statCacheFile))
}

// seen is one file the walk found, with its stat data.
type seen struct {
	rel     string
	st      fileState
	skipped bool // over the size cap
}

// walk lists the files the workspace covers with their stat data, reading
// directories on several goroutines (the cost is system calls) and
// stat-ing each entry relative to its directory's descriptor. With a
// watcher, each directory is watched before it is read.
func (s *LocalStore) walk() ([]seen, error) { return s.walkFrom("") }

// walkFrom walks the directory rel and everything below it.
func (s *LocalStore) walkFrom(root string) ([]seen, error) {
	var (
		mu      sync.Mutex
		found   []seen
		rootErr error
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, 2*runtime.NumCPU())
	var visit func(rel string)
	visit = func(rel string) {
		defer wg.Done()
		sem <- struct{}{}
		var local []seen
		var subdirs []string
		if s.w != nil {
			s.w.add(s.ws, rel)
		}
		local, subdirs, err := s.readFlat(rel)
		<-sem
		mu.Lock()
		found = append(found, local...)
		if err != nil && rel == root {
			rootErr = err
		}
		mu.Unlock()
		for _, d := range subdirs {
			wg.Add(1)
			go visit(d)
		}
	}
	wg.Add(1)
	visit(root)
	wg.Wait()
	if rootErr != nil {
		return nil, fmt.Errorf("undo: walk %s: %w", filepath.Join(s.ws, filepath.FromSlash(root)), rootErr)
	}
	return found, nil
}

// snapshot walks the workspace and returns every file it covers, hashing
// (and storing) only files whose stat data changed since the cache saw
// them. It updates the cache; changed reports whether anything differs
// from it.
func (s *LocalStore) snapshot(ctx context.Context) (map[string]fileState, []string, bool, error) {
	start := time.Now()
	found, quiet, err := s.scan()
	if err != nil {
		return nil, nil, false, err
	}
	if quiet {
		return s.cache, s.skipped, false, nil
	}
	var skipped []string
	n := 0
	same := true
	for _, f := range found {
		if f.skipped {
			skipped = append(skipped, f.rel)
			continue
		}
		n++
		if same {
			old, ok := s.cache[f.rel]
			same = ok && unchangedStat(old, f.st)
		}
	}
	sort.Strings(skipped)
	s.skipped = skipped
	if same && n == len(s.cache) {
		return s.cache, skipped, false, nil
	}
	snap := make(map[string]fileState, n)
	var todo []string
	for _, f := range found {
		if f.skipped {
			continue
		}
		if old, ok := s.cache[f.rel]; ok && unchangedStat(old, f.st) {
			snap[f.rel] = old
			continue
		}
		snap[f.rel] = f.st
		todo = append(todo, f.rel)
	}
	if len(todo) > 0 {
		if err := s.hashAll(ctx, snap, todo, start); err != nil {
			return nil, nil, false, err
		}
	}
	// Files hashed again only because their times could not be trusted
	// (or were touched without a change) leave the content as it was.
	changed := n != len(s.cache)
	for _, rel := range todo {
		old, ok := s.cache[rel]
		if !ok || old.Hash != snap[rel].Hash || old.Mode != snap[rel].Mode {
			changed = true
			break
		}
	}
	for _, rel := range todo {
		s.markDirty(rel)
	}
	for rel := range s.cache {
		if _, ok := snap[rel]; !ok {
			s.markDirty(rel)
		}
	}
	// Written to disk with the next new checkpoint; until then a stale
	// entry on disk only costs hashing that file again.
	s.cache, s.cacheDirty = snap, true
	return snap, skipped, changed, nil
}

// markDirty notes that the directories above rel must be encoded again.
func (s *LocalStore) markDirty(rel string) {
	if s.dirty == nil {
		s.dirty = map[string]bool{}
	}
	for d := parentDir(rel); ; d = parentDir(d) {
		if s.dirty[d] {
			return
		}
		s.dirty[d] = true
		if d == "" {
			return
		}
	}
}

// unchangedStat reports whether a file's stat data matches its cache entry
// closely enough to trust the cached hash.
func unchangedStat(old, cur fileState) bool {
	return !old.Racy && old.Mode == cur.Mode && old.Size == cur.Size &&
		old.Mtime == cur.Mtime && old.Ctime == cur.Ctime && old.Ino == cur.Ino
}

// racyWindow: a file modified this close to a snapshot may change again
// within the same timestamp (the kernel stamps files from a clock that
// advances in ticks of a few milliseconds), so its cache entry is not
// trusted next time.
const racyWindow = 100 * time.Millisecond

// hashAll hashes and stores the files in todo, on every core.
func (s *LocalStore) hashAll(ctx context.Context, snap map[string]fileState, todo []string, start time.Time) error {
	workers := runtime.NumCPU()
	if workers > len(todo) {
		workers = len(todo)
	}
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			zw, _ := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
			wk := &worker{buf: &buf, zw: zw, hash: sha1.New(), chunk: make([]byte, 64<<10)}
			for rel := range jobs {
				mu.Lock()
				fsState := snap[rel]
				mu.Unlock()
				h, err := s.storeFile(rel, fsState, wk)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					fsState.Hash = h
					fsState.Racy = time.Unix(0, fsState.Mtime).After(start.Add(-racyWindow)) ||
						time.Unix(0, fsState.Ctime).After(start.Add(-racyWindow))
					snap[rel] = fsState
				}
				mu.Unlock()
			}
		}()
	}
	for _, rel := range todo {
		if ctx.Err() != nil {
			break
		}
		jobs <- rel
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

// worker is what one hashing goroutine reuses from file to file.
type worker struct {
	buf   *bytes.Buffer
	zw    *zlib.Writer
	hash  hash.Hash
	chunk []byte
}

// storeFile stores one file (or symbolic link) as a blob and returns its
// hash. The file is read once to hash it, and only when the repository
// lacks that blob a second time to compress it.
func (s *LocalStore) storeFile(rel string, st fileState, wk *worker) (plumbing.Hash, error) {
	p := filepath.Join(s.ws, filepath.FromSlash(rel))
	if st.Mode == filemode.Symlink {
		target, err := os.Readlink(p)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("undo: %s: %w", rel, err)
		}
		return s.writeBlob(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(target)), nil }, int64(len(target)), wk)
	}
	return s.writeBlob(func() (io.ReadCloser, error) { return os.Open(p) }, st.Size, wk)
}

// writeBlob stores size bytes from open() as a loose blob object (zlib at
// its fastest, as git writes loose objects) unless the repository has it.
func (s *LocalStore) writeBlob(open func() (io.ReadCloser, error), size int64, wk *worker) (plumbing.Hash, error) {
	hdr := "blob " + strconv.FormatInt(size, 10) + "\x00"
	read := func(w io.Writer) error {
		r, err := open()
		if err != nil {
			return fmt.Errorf("undo: %w", err)
		}
		defer r.Close()
		n, err := io.CopyBuffer(w, r, wk.chunk)
		if err != nil {
			return fmt.Errorf("undo: read: %w", err)
		}
		if n != size {
			return fmt.Errorf("undo: a file changed while it was read (%d bytes, %d expected)", n, size)
		}
		return nil
	}
	wk.hash.Reset()
	wk.hash.Write([]byte(hdr))
	if err := read(wk.hash); err != nil {
		return plumbing.ZeroHash, err
	}
	var sum plumbing.Hash
	copy(sum[:], wk.hash.Sum(nil))
	if s.hasLoose(sum) {
		return sum, nil
	}
	wk.buf.Reset()
	wk.zw.Reset(wk.buf)
	wk.zw.Write([]byte(hdr))
	if err := read(wk.zw); err != nil {
		return plumbing.ZeroHash, err
	}
	wk.zw.Close()
	return sum, s.writeLoose(sum, wk.buf.Bytes())
}

func (s *LocalStore) loosePath(h plumbing.Hash) string {
	x := h.String()
	return filepath.Join(s.dir, "objects", x[:2], x[2:])
}

func (s *LocalStore) hasLoose(h plumbing.Hash) bool {
	_, err := os.Stat(s.loosePath(h))
	return err == nil
}

// writeLoose puts a compressed object in place by its hash, atomically.
func (s *LocalStore) writeLoose(sum plumbing.Hash, compressed []byte) error {
	final := s.loosePath(sum)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("undo: store: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "tmp_obj_")
	if err != nil {
		return fmt.Errorf("undo: store: %w", err)
	}
	if _, err := tmp.Write(compressed); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("undo: store: %w", err)
	}
	tmp.Chmod(0o444)
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("undo: store: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("undo: store: %w", err)
	}
	return nil
}

// buildTree stores the tree objects of a snapshot and returns the root's
// hash.
func (s *LocalStore) buildTree(snap map[string]fileState) (plumbing.Hash, error) {
	files := map[string][]object.TreeEntry{"": nil}
	subdirs := map[string][]string{}
	var ensure func(d string)
	ensure = func(d string) {
		if _, ok := files[d]; ok {
			return
		}
		files[d] = nil
		parent := parentDir(d)
		subdirs[parent] = append(subdirs[parent], d)
		ensure(parent)
	}
	for rel, st := range snap {
		d := parentDir(rel)
		ensure(d)
		files[d] = append(files[d], object.TreeEntry{Name: path.Base(rel), Mode: st.Mode, Hash: st.Hash})
	}
	// Deepest directories first, so that each tree's subtrees exist.
	order := make([]string, 0, len(files))
	for d := range files {
		order = append(order, d)
	}
	depth := func(d string) int {
		if d == "" {
			return -1
		}
		return strings.Count(d, "/")
	}
	sort.Slice(order, func(i, j int) bool { return depth(order[i]) > depth(order[j]) })
	hashes := make(map[string]plumbing.Hash, len(order))
	for _, d := range order {
		if h, ok := s.dirHash[d]; ok && !s.dirty[d] {
			hashes[d] = h // nothing under it changed
			continue
		}
		entries := files[d]
		for _, sub := range subdirs[d] {
			entries = append(entries, object.TreeEntry{Name: path.Base(sub), Mode: filemode.Dir, Hash: hashes[sub]})
		}
		sort.Slice(entries, func(i, j int) bool { return treeName(entries[i]) < treeName(entries[j]) })
		h, err := s.putObject(&object.Tree{Entries: entries})
		if err != nil {
			return plumbing.ZeroHash, err
		}
		hashes[d] = h
	}
	s.dirHash, s.dirty = hashes, nil
	return hashes[""], nil
}

// parentDir is the slash-separated directory of rel, "" at the top.
func parentDir(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// treeName is the name git sorts a tree entry by: directories as if their
// name ended with a slash.
func treeName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

// putObject stores a tree or commit unless the repository has it.
func (s *LocalStore) putObject(o encoder) (plumbing.Hash, error) {
	obj := s.st.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("undo: encode: %w", err)
	}
	h := obj.Hash()
	if s.st.HasEncodedObject(h) == nil {
		return h, nil
	}
	if _, err := s.st.SetEncodedObject(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("undo: store: %w", err)
	}
	return h, nil
}

// Checkpoint implements Store.
func (s *LocalStore) Checkpoint(ctx context.Context, label string) (Checkpoint, error) {
	if s.readOnly {
		return Checkpoint{}, ErrReadOnly
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	snap, skipped, changed, err := s.snapshot(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if !changed && !s.stale && !s.head.IsZero() {
		return Checkpoint{ID: s.head.String(), Label: label, Time: now, Files: len(snap), Unchanged: true, Skipped: skipped}, nil
	}
	root, err := s.buildTree(snap)
	if err != nil {
		return Checkpoint{}, err
	}
	if s.cacheDirty {
		if err := s.saveCache(); err != nil {
			return Checkpoint{}, fmt.Errorf("undo: stat cache: %w", err)
		}
		s.cacheDirty = false
	}
	s.stale = false
	if root == s.headTree && !s.head.IsZero() {
		return Checkpoint{ID: s.head.String(), Label: label, Time: now, Files: len(snap), Unchanged: true, Skipped: skipped}, nil
	}
	sig := object.Signature{Name: "execkit", Email: "execkit@localhost", When: now}
	c := &object.Commit{Author: sig, Committer: sig, TreeHash: root,
		Message: label + "\n\nexeckit-files: " + strconv.Itoa(len(snap)) + "\n"}
	if !s.head.IsZero() {
		c.ParentHashes = []plumbing.Hash{s.head}
	}
	h, err := s.putObject(c)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := s.st.SetReference(plumbing.NewHashReference(headRef, h)); err != nil {
		return Checkpoint{}, fmt.Errorf("undo: store: %w", err)
	}
	s.head, s.headTree = h, root
	return Checkpoint{ID: h.String(), Label: label, Time: now, Files: len(snap), Skipped: skipped}, nil
}

// List implements Store.
func (s *LocalStore) List(ctx context.Context) ([]Checkpoint, error) {
	s.mu.Lock()
	h := s.head
	s.mu.Unlock()
	var out []Checkpoint
	for i := 0; !h.IsZero() && i < 1_000_000; i++ {
		c, err := object.GetCommit(s.st, h)
		if err != nil {
			return out, fmt.Errorf("undo: checkpoint %s: %w", h, err)
		}
		out = append(out, fromCommit(c))
		h = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			h = c.ParentHashes[0]
		}
	}
	return out, nil
}

func fromCommit(c *object.Commit) Checkpoint {
	cp := Checkpoint{ID: c.Hash.String(), Time: c.Committer.When}
	msg := c.Message
	if i := strings.Index(msg, "\n\nexeckit-files: "); i >= 0 {
		cp.Files, _ = strconv.Atoi(strings.TrimSpace(msg[i+len("\n\nexeckit-files: "):]))
		msg = msg[:i]
	}
	cp.Label = msg
	return cp
}

// resolve finds a checkpoint by its hash or a unique prefix of at least 7
// hex digits.
func (s *LocalStore) resolve(ctx context.Context, id string) (*object.Commit, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if _, err := hex.DecodeString(id + strings.Repeat("0", len(id)%2)); err != nil || len(id) < 7 || len(id) > 40 {
		return nil, fmt.Errorf("%w: %q is not a checkpoint id", ErrNotFound, id)
	}
	if len(id) == 40 {
		c, err := object.GetCommit(s.st, plumbing.NewHash(id))
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return c, nil
	}
	list, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var found *object.Commit
	for _, cp := range list {
		if strings.HasPrefix(cp.ID, id) {
			if found != nil {
				return nil, fmt.Errorf("%w: %s is ambiguous", ErrNotFound, id)
			}
			found, _ = object.GetCommit(s.st, plumbing.NewHash(cp.ID))
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return found, nil
}

// flatten lists the files of a tree by path.
func (s *LocalStore) flatten(c *object.Commit) (map[string]fileState, error) {
	t, err := object.GetTree(s.st, c.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("undo: checkpoint %s: %w", c.Hash, err)
	}
	out := map[string]fileState{}
	walker := object.NewTreeWalker(t, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("undo: checkpoint %s: %w", c.Hash, err)
		}
		if e.Mode == filemode.Dir {
			continue
		}
		out[name] = fileState{Mode: e.Mode, Hash: e.Hash}
	}
	return out, nil
}

// Diff implements Store: the files that differ from checkpoint from to
// checkpoint to, seen from to.
func (s *LocalStore) Diff(ctx context.Context, from, to string) ([]Change, error) {
	a, err := s.resolve(ctx, from)
	if err != nil {
		return nil, err
	}
	b, err := s.resolve(ctx, to)
	if err != nil {
		return nil, err
	}
	fa, err := s.flatten(a)
	if err != nil {
		return nil, err
	}
	fb, err := s.flatten(b)
	if err != nil {
		return nil, err
	}
	return compare(fa, fb), nil
}

// compare lists how state to differs from state from.
func compare(from, to map[string]fileState) []Change {
	var out []Change
	for p, t := range to {
		f, ok := from[p]
		switch {
		case !ok:
			out = append(out, Change{p, Added})
		case f.Hash != t.Hash || f.Mode != t.Mode:
			out = append(out, Change{p, Modified})
		}
	}
	for p := range from {
		if _, ok := to[p]; !ok {
			out = append(out, Change{p, Deleted})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// diffTrees reports every file that differs between the trees a and b
// (either may be the zero hash: no tree), with its state on each side
// (nil where it is absent). Subtrees with equal hashes are skipped.
func (s *LocalStore) diffTrees(a, b plumbing.Hash, prefix string, fn func(rel string, from, to *fileState)) error {
	if a == b {
		return nil
	}
	entries := func(h plumbing.Hash) (map[string]object.TreeEntry, error) {
		if h.IsZero() {
			return nil, nil
		}
		t, err := object.GetTree(s.st, h)
		if err != nil {
			return nil, fmt.Errorf("undo: tree %s: %w", h, err)
		}
		m := make(map[string]object.TreeEntry, len(t.Entries))
		for _, e := range t.Entries {
			m[e.Name] = e
		}
		return m, nil
	}
	ea, err := entries(a)
	if err != nil {
		return err
	}
	eb, err := entries(b)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(ea)+len(eb))
	for n := range ea {
		names = append(names, n)
	}
	for n := range eb {
		if _, ok := ea[n]; !ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		x, inA := ea[n]
		y, inB := eb[n]
		rel := prefix + n
		dirA, dirB := inA && x.Mode == filemode.Dir, inB && y.Mode == filemode.Dir
		var sa, sb plumbing.Hash
		if dirA {
			sa = x.Hash
		}
		if dirB {
			sb = y.Hash
		}
		if dirA || dirB {
			if err := s.diffTrees(sa, sb, rel+"/", fn); err != nil {
				return err
			}
		}
		var fa, fb *fileState
		if inA && !dirA {
			fa = &fileState{Mode: x.Mode, Hash: x.Hash}
		}
		if inB && !dirB {
			fb = &fileState{Mode: y.Mode, Hash: y.Hash}
		}
		if (fa != nil || fb != nil) && (fa == nil || fb == nil || fa.Hash != fb.Hash || fa.Mode != fb.Mode) {
			fn(rel, fa, fb)
		}
	}
	return nil
}

// Restore implements Store. The changes are what the restore does to the
// workspace: added (re-created), modified (content or mode brought back),
// deleted (a file created since, removed).
func (s *LocalStore) Restore(ctx context.Context, id string, dryRun bool) ([]Change, error) {
	if s.readOnly && !dryRun {
		return nil, ErrReadOnly
	}
	c, err := s.resolve(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, _, _, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	// The current state as a tree (only changed directories are encoded),
	// compared with the checkpoint's subtree by subtree: equal subtrees
	// are never read.
	curRoot, err := s.buildTree(cur)
	if err != nil {
		return nil, err
	}
	target := map[string]fileState{}
	var changes []Change
	credential := ""
	err = s.diffTrees(curRoot, c.TreeHash, "", func(rel string, from, to *fileState) {
		if inCredentialDir(rel) {
			credential = rel // a checkpoint execkit did not write
			return
		}
		switch {
		case from == nil:
			changes = append(changes, Change{rel, Added})
			target[rel] = *to
		case to == nil:
			changes = append(changes, Change{rel, Deleted})
		default:
			changes = append(changes, Change{rel, Modified})
			target[rel] = *to
		}
	})
	if err != nil {
		return nil, err
	}
	if credential != "" {
		return nil, fmt.Errorf("undo: checkpoint %s holds %s, in a credential directory; it is not restored", id, credential)
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	if dryRun || len(changes) == 0 {
		return changes, nil
	}
	s.stale = true
	for _, ch := range changes {
		s.markDirty(ch.Path)
	}
	// Removals first (a file may stand where a directory must go), then
	// writes, then directories the removals emptied.
	var emptied []string
	for _, ch := range changes {
		if ch.Kind != Deleted {
			continue
		}
		p := filepath.Join(s.ws, filepath.FromSlash(ch.Path))
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return changes, fmt.Errorf("undo: remove %s: %w", ch.Path, err)
		}
		delete(s.cache, ch.Path)
		emptied = append(emptied, filepath.Dir(p))
	}
	for _, ch := range changes {
		if ch.Kind == Deleted {
			continue
		}
		if err := s.writeFile(ch.Path, target[ch.Path]); err != nil {
			return changes, err
		}
	}
	for _, d := range emptied {
		for d != s.ws && strings.HasPrefix(d, s.ws+string(filepath.Separator)) {
			if os.Remove(d) != nil { // not empty (or gone): stop here
				break
			}
			d = filepath.Dir(d)
		}
	}
	// The cache on disk keeps the entries of the files just written: their
	// stat data no longer matches, so they are hashed again next time.
	return changes, nil
}

// writeFile puts one file of a checkpoint back in place.
func (s *LocalStore) writeFile(rel string, st fileState) error {
	p := filepath.Join(s.ws, filepath.FromSlash(rel))
	if err := s.makeParents(filepath.Dir(p)); err != nil {
		return fmt.Errorf("undo: restore %s: %w", rel, err)
	}
	obj, err := s.st.EncodedObject(plumbing.BlobObject, st.Hash)
	if err != nil {
		return fmt.Errorf("undo: restore %s: %w", rel, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return fmt.Errorf("undo: restore %s: %w", rel, err)
	}
	defer r.Close()
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		// Only excluded or empty content can be left in it.
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("undo: restore %s: a directory stands in its place: %w", rel, err)
		}
	}
	if st.Mode == filemode.Symlink {
		target, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("undo: restore %s: %w", rel, err)
		}
		os.Remove(p)
		if err := os.Symlink(string(target), p); err != nil {
			return fmt.Errorf("undo: restore %s: %w", rel, err)
		}
	} else {
		perm := os.FileMode(0o644)
		if st.Mode == filemode.Executable {
			perm = 0o755
		}
		tmp, err := os.CreateTemp(filepath.Dir(p), ".execkit-restore-*")
		if err != nil {
			return fmt.Errorf("undo: restore %s: %w", rel, err)
		}
		_, err = io.Copy(tmp, r)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), perm)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), p)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("undo: restore %s: %w", rel, err)
		}
	}
	delete(s.cache, rel) // hashed again next time: its times are new
	return nil
}

// makeParents creates the directories above a restored file; a file that
// stands where a directory must go was removed before.
func (s *LocalStore) makeParents(dir string) error {
	return os.MkdirAll(dir, 0o755)
}

// shortHash is a short stable hash of s.
func shortHash(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:6])
}
