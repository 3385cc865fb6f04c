package journal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketMeta     = []byte("meta")
	bucketRecords  = []byte("records")
	bucketEntries  = []byte("entries")
	bucketSessions = []byte("sessions")
	keyFormat      = []byte("format")
	keyVersion     = []byte("version")
	keyRun         = []byte("run")
	keySeal        = []byte("seal")
)

// Options configure Open. The zero value (or nil) means the defaults.
type Options struct {
	// LockTimeout is how long Open waits for another writer to let go of
	// the file. Zero means 1 second.
	LockTimeout time.Duration
	// Run describes the run when Open creates the file. Empty fields are
	// filled in (ID, Host, Started, Format).
	Run Run
}

// Journal appends to one journal file. Its methods are safe for concurrent
// use; every method that records something returns only once the record is
// committed and synced to disk.
type Journal struct {
	db      *bolt.DB
	path    string
	pidPath string
	run     Run
	reqs    chan *request
	done    chan struct{}

	mu      sync.Mutex
	closed  bool
	err     error         // sticky: after a failed commit nothing more is recorded
	changed chan struct{} // closed and replaced after every commit

	stopLive func()     // stops serving readers (live.go)
	live     liveOutput // running entries' output, for watchers

	// events are the entries as their intents and completions were
	// committed by this Journal (under mu), for followers: every such
	// record after record evFirst is here, in order, so a follower that
	// keeps up reads nothing back from the file. Bounded by maxEvents and
	// maxEventBytes; a follower left behind reads the file instead.
	events     []event
	eventBytes int
	evFirst    uint64
	evMax      int // bounds: maxEvents, maxEventBytes (tests lower them)
	evMaxBytes int
}

// event is one entry as a record left it: its record's number and the
// entry's JSON.
type event struct {
	rec   uint64
	entry []byte
}

// Bounds of Journal.events.
const (
	maxEvents     = 4096
	maxEventBytes = 8 << 20
)

type request struct {
	apply func(*bolt.Tx, *chain) error
	reply chan error
}

// chain is the writer's view of the head of the hash chain, and the
// entry events of the transaction being built (kept once it commits).
type chain struct {
	n       uint64
	head    string
	pending []event
}

// note keeps the entry as the record just appended leaves it, for
// followers.
func (ch *chain) note(entry []byte) {
	ch.pending = append(ch.pending, event{rec: ch.n, entry: entry})
}

// Open opens the journal at path for appending, creating it when it does
// not exist. A file another process is writing makes Open fail with
// ErrInUse, naming that process. A journal whose last run was sealed gets
// a new run, chained after the seal.
func Open(path string, opts *Options) (*Journal, error) {
	if opts == nil {
		opts = &Options{}
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, inUse(path)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{db: db, path: path, pidPath: path + ".pid", reqs: make(chan *request, 256), done: make(chan struct{}), changed: make(chan struct{})}
	var ch chain
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return j.create(tx, opts.Run, &ch)
		}
		if err := checkFormat(meta); err != nil {
			return err
		}
		// Records of older versions stay as they are (readers map them);
		// what is appended now is of this version.
		if err := meta.Put(keyVersion, []byte(strconv.Itoa(Version))); err != nil {
			return err
		}
		if err := json.Unmarshal(meta.Get(keyRun), &j.run); err != nil {
			return fmt.Errorf("%w: run metadata: %w", ErrNotJournal, err)
		}
		if err := loadChain(tx, &ch); err != nil {
			return err
		}
		if meta.Get(keySeal) != nil {
			// The last run ended with a seal: this one starts a new run
			// after it, in the same chain.
			if err := meta.Delete(keySeal); err != nil {
				return err
			}
			return j.startRun(tx, meta, opts.Run, &ch)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	os.WriteFile(j.pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	j.evFirst, j.evMax, j.evMaxBytes = ch.n, maxEvents, maxEventBytes
	go j.writer(ch)
	j.stopLive = j.serveLive()
	return j, nil
}

func inUse(path string) error {
	if b, err := os.ReadFile(path + ".pid"); err == nil {
		return fmt.Errorf("%w: %s is being written by pid %s", ErrInUse, path, strings.TrimSpace(string(b)))
	}
	return fmt.Errorf("%w: %s is locked by another process", ErrInUse, path)
}

func checkFormat(meta *bolt.Bucket) error {
	if string(meta.Get(keyFormat)) != Format {
		return ErrNotJournal
	}
	v, err := strconv.Atoi(string(meta.Get(keyVersion)))
	if err != nil {
		return fmt.Errorf("%w: bad format version %q", ErrNotJournal, meta.Get(keyVersion))
	}
	if v > Version {
		return fmt.Errorf("%w: format version %d, this execkit reads up to %d; upgrade execkit to read it", ErrNewerFormat, v, Version)
	}
	if v < 1 {
		return fmt.Errorf("%w: format version %d predates the first released format", ErrNotJournal, v)
	}
	return nil
}

func (j *Journal) create(tx *bolt.Tx, run Run, ch *chain) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	for _, b := range [][]byte{bucketRecords, bucketEntries, bucketSessions} {
		if _, err := tx.CreateBucket(b); err != nil {
			return err
		}
	}
	meta.Put(keyFormat, []byte(Format))
	meta.Put(keyVersion, []byte(strconv.Itoa(Version)))
	return j.startRun(tx, meta, run, ch)
}

// startRun records the start of a run: the first of a new journal, or a
// later one after a seal.
func (j *Journal) startRun(tx *bolt.Tx, meta *bolt.Bucket, run Run, ch *chain) error {
	if run.ID == "" {
		run.ID = newID()
	}
	if run.Host == "" {
		run.Host, _ = os.Hostname()
	}
	if run.Started.IsZero() {
		run.Started = time.Now().UTC()
	}
	run.Format = Version
	j.run = run
	data, _ := json.Marshal(run)
	if err := meta.Put(keyRun, data); err != nil {
		return err
	}
	return appendRecord(tx, ch, kindRun, 0, data)
}

func loadChain(tx *bolt.Tx, ch *chain) error {
	k, v := tx.Bucket(bucketRecords).Cursor().Last()
	if k == nil {
		return nil
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return fmt.Errorf("%w: last record: %w", ErrNotJournal, err)
	}
	ch.n, ch.head = r.Seq, r.Hash
	return nil
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// hashRecord computes a record's hash: SHA-256 over the previous hash and
// the record's JSON with its own hash left empty.
func hashRecord(r record) string {
	r.Hash = ""
	b, _ := json.Marshal(r)
	h := sha256.New()
	h.Write([]byte(r.Prev))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func appendRecord(tx *bolt.Tx, ch *chain, kind string, entry uint64, data []byte) error {
	r := record{Seq: ch.n + 1, Kind: kind, Entry: entry, Time: time.Now().UTC(), Data: data, Prev: ch.head}
	r.Hash = hashRecord(r)
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketRecords).Put(u64(r.Seq), b); err != nil {
		return err
	}
	ch.n, ch.head = r.Seq, r.Hash
	return nil
}

// writer commits waiting requests together: one transaction, one fsync.
func (j *Journal) writer(ch chain) {
	defer close(j.done)
	for first := range j.reqs {
		batch := []*request{first}
	collect:
		for len(batch) < 1024 {
			select {
			case r, ok := <-j.reqs:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		saved := ch
		ch.pending = nil
		refused := map[*request]error{}
		err := j.db.Update(func(tx *bolt.Tx) error {
			for _, r := range batch {
				if err := r.apply(tx, &ch); err != nil {
					var bad refusal
					if errors.As(err, &bad) {
						// Refused before it wrote anything: the rest of
						// the batch goes on.
						refused[r] = bad.err
						continue
					}
					return err
				}
			}
			return nil
		})
		if err != nil {
			ch = saved
			err = fmt.Errorf("journal: commit to %s failed, nothing more will be recorded: %w", j.path, err)
			j.mu.Lock()
			j.err = err
			j.mu.Unlock()
		}
		for _, r := range batch {
			if e, ok := refused[r]; ok && err == nil {
				r.reply <- e
				continue
			}
			r.reply <- err
		}
		j.mu.Lock()
		if err == nil {
			j.keepEvents(ch.pending)
		}
		ch.pending = nil
		close(j.changed)
		j.changed = make(chan struct{})
		j.mu.Unlock()
	}
}

// keepEvents adds committed entry events, dropping the oldest beyond the
// bounds (with j.mu held). Past a bound, it drops down to three quarters
// of it at once, so that the copy of what is kept is made once every
// quarter of the bound, not on every commit.
func (j *Journal) keepEvents(evs []event) {
	for _, e := range evs {
		j.events = append(j.events, e)
		j.eventBytes += len(e.entry)
	}
	if len(j.events) <= j.evMax && j.eventBytes <= j.evMaxBytes {
		return
	}
	keepN, keepBytes := j.evMax*3/4, j.evMaxBytes*3/4
	drop := 0
	for drop < len(j.events) && (len(j.events)-drop > keepN || j.eventBytes > keepBytes) {
		j.eventBytes -= len(j.events[drop].entry)
		j.evFirst = j.events[drop].rec
		drop++
	}
	if drop > 0 {
		j.events = append(make([]event, 0, j.evMax+1), j.events[drop:]...)
	}
}

// refusal is a request's apply refusing the request before writing
// anything (an unknown entry, one already complete): the caller gets the
// error and the journal goes on.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }

// do queues one change and waits for its commit.
func (j *Journal) do(apply func(*bolt.Tx, *chain) error) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	if j.err != nil {
		err := j.err
		j.mu.Unlock()
		return err
	}
	r := &request{apply: apply, reply: make(chan error, 1)}
	j.reqs <- r
	j.mu.Unlock()
	return <-r.reply
}

// Run returns the run's metadata.
func (j *Journal) Run() Run { return j.run }

// Path returns the file's path.
func (j *Journal) Path() string { return j.path }

// AddSession records a session of the run.
func (j *Journal) AddSession(s Session) error {
	if s.ID == "" {
		return errors.New("journal: session without an id")
	}
	if s.Started.IsZero() {
		s.Started = time.Now().UTC()
	}
	if s.Spec.Version == 0 {
		s.Spec.Version = SpecVersion
	}
	if s.Spec.Transport == "" {
		s.Spec.Transport = s.Transport
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return j.do(func(tx *bolt.Tx, ch *chain) error {
		if err := tx.Bucket(bucketSessions).Put([]byte(s.ID), data); err != nil {
			return err
		}
		return appendRecord(tx, ch, kindSession, 0, data)
	})
}

// sessionEnd is the data of a session_end record.
type sessionEnd struct {
	ID     string    `json:"id"`
	Ended  time.Time `json:"ended"`
	Reason string    `json:"reason"`
}

// EndSession records that session id closed, and why. A session ends
// once: a second call changes nothing.
func (j *Journal) EndSession(id, reason string) error {
	if reason == "" {
		reason = "closed"
	}
	end := sessionEnd{ID: id, Ended: time.Now().UTC(), Reason: reason}
	data, err := json.Marshal(end)
	if err != nil {
		return err
	}
	return j.do(func(tx *bolt.Tx, ch *chain) error {
		b := tx.Bucket(bucketSessions)
		v := b.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("journal: no session %q", id)
		}
		var s Session
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if s.Ended != nil {
			return nil
		}
		s.Ended, s.EndReason = &end.Ended, end.Reason
		nv, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(id), nv); err != nil {
			return err
		}
		return appendRecord(tx, ch, kindSessionEnd, 0, data)
	})
}

// Intent records that a command is about to run and returns its entry
// number. When it fails the command must not run.
func (j *Journal) Intent(in Intent) (uint64, error) {
	if in.Time.IsZero() {
		in.Time = time.Now().UTC()
	}
	data, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	var seq uint64
	err = j.do(func(tx *bolt.Tx, ch *chain) error {
		b := tx.Bucket(bucketEntries)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		status := StatusRunning
		if !in.Decision.Allowed {
			status = StatusBlocked
		}
		e, _ := json.Marshal(Entry{Seq: n, Status: status, Intent: in})
		if err := b.Put(u64(n), e); err != nil {
			return err
		}
		seq = n
		if err := appendRecord(tx, ch, kindIntent, n, data); err != nil {
			return err
		}
		ch.note(e)
		return nil
	})
	return seq, err
}

// checkpointed is a checkpoint record's data.
type checkpointed struct {
	Checkpoint string `json:"checkpoint"`
}

// Checkpointed records the workspace checkpoint taken for entry seq after
// its intent and before it runs: the entry's Checkpoint is then id, and
// `execkit undo` of the entry restores it even when the command never
// completes.
func (j *Journal) Checkpointed(seq uint64, id string) error {
	return j.updateEntry(seq, kindCheckpoint, checkpointed{id}, func(e *Entry) error {
		if e.Completion != nil || e.Checkpoint != "" {
			return fmt.Errorf("journal: entry %d already has its checkpoint or completion", seq)
		}
		e.Checkpoint = id
		return nil
	})
}

// Complete records how entry seq ended.
func (j *Journal) Complete(seq uint64, c Completion) error {
	if c.Time.IsZero() {
		c.Time = time.Now().UTC()
	}
	err := j.updateEntry(seq, kindCompletion, c, func(e *Entry) error {
		if e.Completion != nil {
			return fmt.Errorf("journal: entry %d is already complete", seq)
		}
		e.Completion = &c
		e.Status = c.Status
		return nil
	})
	j.endLive(seq)
	return err
}

// updateEntry appends a record of kind with data for entry seq and applies
// change to the entry's view; an error of change refuses the request.
func (j *Journal) updateEntry(seq uint64, kind string, data any, change func(*Entry) error) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return j.do(func(tx *bolt.Tx, ch *chain) error {
		b := tx.Bucket(bucketEntries)
		old := b.Get(u64(seq))
		if old == nil {
			return refusal{fmt.Errorf("%w: %d", ErrNoEntry, seq)}
		}
		var e Entry
		if err := json.Unmarshal(old, &e); err != nil {
			return err
		}
		if err := change(&e); err != nil {
			return refusal{err}
		}
		out, _ := json.Marshal(e)
		if err := b.Put(u64(seq), out); err != nil {
			return err
		}
		if err := appendRecord(tx, ch, kind, seq, raw); err != nil {
			return err
		}
		if kind == kindCompletion {
			ch.note(out)
		}
		return nil
	})
}

// Seal ends the run: this Journal takes no more records, and the head of
// the chain is returned (and stored) so that it can be kept elsewhere (see
// Anchor). A later Open of the file starts a new run after the seal.
func (j *Journal) Seal() (Seal, error) {
	var s Seal
	err := j.do(func(tx *bolt.Tx, ch *chain) error {
		s = Seal{Records: ch.n + 1, Time: time.Now().UTC()}
		if ch.n > 0 {
			var first record
			if err := json.Unmarshal(tx.Bucket(bucketRecords).Get(u64(1)), &first); err != nil {
				return err
			}
			s.Genesis = first.Hash
		}
		if err := appendRecord(tx, ch, kindSeal, 0, []byte("{}")); err != nil {
			return err
		}
		s.Head = ch.head
		data, _ := json.Marshal(s)
		return tx.Bucket(bucketMeta).Put(keySeal, data)
	})
	if err == nil {
		j.mu.Lock()
		j.err = fmt.Errorf("%w: %s", ErrSealed, j.path)
		j.mu.Unlock()
	}
	return s, err
}

// Close stops the writer after the records already queued and closes the
// file.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.reqs)
	j.mu.Unlock()
	<-j.done
	j.mu.Lock()
	close(j.changed) // wakes followers, which then see the journal closed
	j.changed = make(chan struct{})
	j.mu.Unlock()
	j.stopLive()
	os.Remove(j.pidPath)
	return j.db.Close()
}

// View runs fn with a Reader over the journal as committed so far; it is
// how a process shows the journal it is writing.
func (j *Journal) View(fn func(*Reader) error) error {
	return j.db.View(func(tx *bolt.Tx) error { return fn(&Reader{tx: tx, live: true}) })
}

// Follow calls fn with every entry as its intent and then its completion
// are committed, starting after record `after` (0: from the start), until
// ctx ends, the journal is closed, or fn returns an error. It returns the
// number of the last record it delivered, from which a later Follow can go
// on.
func (j *Journal) Follow(ctx context.Context, after uint64, fn func(Entry) error) (uint64, error) {
	return j.follow(ctx, after, 0, fn)
}

// follow is Follow reading at most once per gap: what was committed in
// between comes together.
func (j *Journal) follow(ctx context.Context, after uint64, gap time.Duration, fn func(Entry) error) (uint64, error) {
	return j.followRaw(ctx, after, gap, func(raw []byte) error {
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		return fn(e)
	}, nil)
}

// followRaw is follow with each entry as JSON, and batchEnd (when not
// nil) called after each batch delivered. Entries this Journal committed
// come from its events; what came before them, or what a slow follower
// was left behind on, is read from the file.
func (j *Journal) followRaw(ctx context.Context, after uint64, gap time.Duration, fn func([]byte) error, batchEnd func() error) (uint64, error) {
	for {
		j.mu.Lock()
		changed, closed := j.changed, j.closed
		covered := after >= j.evFirst
		var batch []event
		if covered {
			for k := len(j.events); k > 0 && j.events[k-1].rec > after; k-- {
				batch = j.events[k-1:]
			}
		}
		j.mu.Unlock()
		var err error
		if covered {
			for _, e := range batch {
				if err = fn(e.entry); err != nil {
					break
				}
				after = e.rec
			}
		} else {
			after, err = j.readBack(after, fn)
		}
		if err == nil && batchEnd != nil {
			err = batchEnd()
		}
		if err != nil {
			return after, err
		}
		if closed {
			return after, ErrClosed
		}
		select {
		case <-ctx.Done():
			return after, ctx.Err()
		case <-changed:
		}
		if gap > 0 {
			select {
			case <-ctx.Done():
				return after, ctx.Err()
			case <-time.After(gap):
			}
		}
	}
}

// readBack delivers the entries of the records after `after` from the
// file, each as its record left it, and returns the last record read.
func (j *Journal) readBack(after uint64, fn func([]byte) error) (uint64, error) {
	err := j.View(func(r *Reader) error {
		c := r.tx.Bucket(bucketRecords).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil; k, v = c.Next() {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			after = rec.Seq
			if rec.Kind != kindIntent && rec.Kind != kindCompletion {
				continue
			}
			e, err := r.Entry(rec.Entry)
			if err != nil {
				return err
			}
			if rec.Kind == kindIntent && e.Completion != nil {
				// Delivered as it was then: the completion follows.
				e.Completion, e.Status = nil, StatusRunning
				if !e.Decision.Allowed {
					e.Status = StatusBlocked
				}
			}
			raw, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := fn(raw); err != nil {
				return err
			}
		}
		return nil
	})
	return after, err
}
