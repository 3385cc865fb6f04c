package journal

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/execkit/execkit/internal/fsprobe"
)

// Readers of a journal being written. The writer holds the file's lock for
// as long as it runs, so a reader cannot open the file; instead the writer
// serves it on a Unix socket that only its user can reach (LiveSocket):
//
//	snapshot\n        a consistent copy of the file as committed now
//	follow AFTER\n    every entry from record AFTER on, one JSON object a
//	                  line, as intents and completions are committed; the
//	                  stream ends when the journal is closed
//
// Read and FollowFile use it when the file is being written, so every
// reading command works on a live journal with no flag. A reader never
// takes the file's lock nor writes to it: the writer cannot be locked out
// or slowed by more than the copying of committed pages.

// LiveSocket is where the writer of the journal at path serves its
// readers: in a directory of the user's own (0700) under
// $XDG_RUNTIME_DIR or the temporary directory, named by the journal's
// absolute path.
func LiveSocket(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	sum := sha256.Sum256([]byte(abs))
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "execkit-"+strconv.Itoa(os.Getuid()), hex.EncodeToString(sum[:10])+".sock")
}

// serveLive starts serving the journal's readers; the returned function
// stops it. A socket that cannot be made only leaves readers out.
func (j *Journal) serveLive() func() {
	sock := LiveSocket(j.path)
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		return func() {}
	}
	if !privateDir(filepath.Dir(sock)) {
		return func() {} // a directory others own or can reach: serve nothing there
	}
	// The file's lock is ours: a socket left there is a dead writer's.
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return func() {}
	}
	os.Chmod(sock, 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				j.serveReader(ctx, c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	// Stopped once the journal is closed: followers make a last read and
	// end on their own, for up to two seconds; then every connection left
	// is closed.
	return func() {
		ln.Close()
		os.Remove(sock)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cancel()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			<-done
		}
		cancel()
	}
}

// serveReader answers one reader's request.
func (j *Journal) serveReader(ctx context.Context, c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 128)).ReadString('\n')
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch verb {
	case "snapshot":
		c.SetWriteDeadline(time.Now().Add(time.Minute))
		j.db.View(func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(c)
			return err
		})
	case "watch":
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			io.Copy(io.Discard, c) // the reader hanging up ends it
			cancel()
		}()
		j.serveWatch(ctx, c)
	case "follow":
		after, err := strconv.ParseUint(arg, 10, 64)
		if err != nil {
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			// The reader hanging up ends the stream.
			io.Copy(io.Discard, c)
			cancel()
		}()
		// Read at most every followGap: a writer committing fast is not
		// made to read back each commit for its followers.
		// Entries go out as committed, one JSON line each, a batch in one
		// write.
		w := bufio.NewWriterSize(c, 64<<10)
		j.followRaw(ctx, after, followGap, func(raw []byte) error {
			c.SetWriteDeadline(time.Now().Add(writeTimeout))
			w.Write(raw)
			return w.WriteByte('\n')
		}, func() error {
			c.SetWriteDeadline(time.Now().Add(writeTimeout))
			return w.Flush()
		})
	}
}

// Live reports whether a process is writing the journal at path and
// serving its readers.
func Live(path string) bool {
	c, err := dialLive(path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// writeTimeout is how long a follower may take to take one entry.
const writeTimeout = 5 * time.Second

// followGap is the least time between two reads for a follower: entries
// reach followers at most this late.
const followGap = 200 * time.Millisecond

// dialLive reaches the writer of path, if one serves it, in a directory
// only this user can have put it in.
func dialLive(path string) (net.Conn, error) {
	sock := LiveSocket(path)
	if !privateDir(filepath.Dir(sock)) {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: errors.New("the live socket's directory is not this user's alone")}
	}
	return net.DialTimeout("unix", sock, 2*time.Second)
}

// readLive reads a snapshot of the journal its writer serves into a
// private temporary file and runs fn over it as over the journal itself.
func readLive(path string, fn func(*Reader) error) error {
	c, err := dialLive(path)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "snapshot\n"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(snapshotDir(), "execkit-live-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "snapshot.db")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, c)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: %s: reading from its writer: %w", path, err)
	}
	if n == 0 {
		return errLiveGone
	}
	return readFile(tmp, path, true, fn)
}

var errLiveGone = errors.New("journal: the writer ended")

// snapshotDir is where snapshots are kept while read: in memory (/dev/shm)
// where there is such a file system, so that a reader adds no disk writes
// to the writer's fsyncs; else the temporary directory.
func snapshotDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && fsprobe.CanCreate("/dev/shm") {
		return "/dev/shm"
	}
	return ""
}

// FollowFile calls fn with every entry of the journal at path, then with
// each as it is committed by the process writing it, until that process
// closes the journal (then it returns nil), ctx ends, or fn fails. An
// entry comes once when it starts (running) and again when it ends. A
// journal nobody writes is read once.
func FollowFile(ctx context.Context, path string, fn func(Entry) error) error {
	if c, err := dialLive(path); err == nil {
		return readStream(ctx, c, path, "follow 0", fn)
	}
	return Read(path, func(r *Reader) error {
		es, err := r.Entries(Filter{})
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// Output a command writes while it runs, for readers that watch: the
// writer keeps the last liveMax bytes of each running entry's output in
// memory (never in the file: the completion has the output) and serves it
// with the entries (WatchFile).

const liveMax = 64 << 10

// Output is a piece of a running entry's output, as its session passes it
// on: redacted and sanitised like the result.
type Output struct {
	Entry  uint64 `json:"entry"`
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

// liveOutput holds the running entries' output.
type liveOutput struct {
	mu      sync.Mutex
	pieces  map[uint64][]Output // per entry, at most liveMax bytes
	size    map[uint64]int
	changed chan struct{}
}

func (l *liveOutput) init() {
	if l.pieces == nil {
		l.pieces, l.size, l.changed = map[uint64][]Output{}, map[uint64]int{}, make(chan struct{})
	}
}

// LiveOutput passes on output of running entry seq to the journal's
// watchers. It is dropped when the entry completes.
func (j *Journal) LiveOutput(seq uint64, stream string, p []byte) {
	l := &j.live
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	l.pieces[seq] = append(l.pieces[seq], Output{Entry: seq, Stream: stream, Data: string(p)})
	l.size[seq] += len(p)
	for l.size[seq] > liveMax && len(l.pieces[seq]) > 1 {
		l.size[seq] -= len(l.pieces[seq][0].Data)
		l.pieces[seq] = l.pieces[seq][1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// endLive drops a completed entry's live output.
func (j *Journal) endLive(seq uint64) {
	l := &j.live
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	delete(l.pieces, seq)
	delete(l.size, seq)
}

// liveSince returns the live output pieces after the first n[seq] of each
// running entry, and the channel closed at the next piece.
func (j *Journal) liveSince(n map[uint64]int) ([]Output, <-chan struct{}) {
	l := &j.live
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	var out []Output
	for seq, ps := range l.pieces {
		if k := n[seq]; k < len(ps) {
			out = append(out, ps[k:]...)
			n[seq] = len(ps)
		}
	}
	for seq := range n {
		if _, ok := l.pieces[seq]; !ok {
			delete(n, seq)
		}
	}
	return out, l.changed
}

// watchEvent is one line of the watch stream: an entry or some output.
type watchEvent struct {
	Entry  *Entry  `json:"entry,omitempty"`
	Output *Output `json:"output,omitempty"`
}

// watchEntry is a watchEvent with the entry's JSON as committed.
type watchEntry struct {
	Entry json.RawMessage `json:"entry"`
}

// serveWatch streams entries as follow does, and the running entries'
// output as it comes.
func (j *Journal) serveWatch(ctx context.Context, c net.Conn) {
	var mu sync.Mutex
	w := bufio.NewWriter(c)
	enc := json.NewEncoder(w)
	send := func(ev any) error {
		mu.Lock()
		defer mu.Unlock()
		c.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := enc.Encode(ev); err != nil {
			return err
		}
		return w.Flush()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		seen := map[uint64]int{}
		for {
			out, changed := j.liveSince(seen)
			for i := range out {
				if send(watchEvent{Output: &out[i]}) != nil {
					cancel()
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond): // gather a little
			}
		}
	}()
	j.followRaw(ctx, 0, followGap, func(raw []byte) error { return send(watchEntry{Entry: raw}) }, nil)
}

// WatchFile is FollowFile with the output of running entries as it comes
// (onOutput), from the process writing the journal. A journal nobody
// writes is read once.
func WatchFile(ctx context.Context, path string, onEntry func(Entry) error, onOutput func(Output) error) error {
	c, err := dialLive(path)
	if err != nil {
		return FollowFile(ctx, path, onEntry)
	}
	return readStream(ctx, c, path, "watch", func(ev watchEvent) error {
		switch {
		case ev.Entry != nil:
			return onEntry(*ev.Entry)
		case ev.Output != nil:
			return onOutput(*ev.Output)
		}
		return nil
	})
}

// readStream sends request on c, a connection to the writer of the
// journal at path, and calls each with every JSON value of its answer,
// until the writer ends it (nil), ctx ends or each fails. It closes c.
func readStream[T any](ctx context.Context, c net.Conn, path, request string, each func(T) error) error {
	defer c.Close()
	if _, err := io.WriteString(c, request+"\n"); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	dec := json.NewDecoder(c)
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("journal: %s: reading from its writer (%s): %w", path, request, err)
		}
		if err := each(v); err != nil {
			return err
		}
	}
}
