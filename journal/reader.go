package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Reader reads one consistent view of a journal.
type Reader struct {
	tx   *bolt.Tx
	live bool // the view belongs to the process writing the journal
}

// Read opens the journal at path read-only and calls fn with a Reader. It
// fails with ErrInUse while another process writes the journal: bbolt locks
// the file, and a live run is shown by the process that writes it.
func Read(path string, fn func(*Reader) error) (err error) {
	// A damaged file can make the storage layer panic, or fault on a page
	// past the end of its mapping: either is reported as damage, never a
	// crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, p)
		}
	}()
	if st, serr := os.Stat(path); serr == nil && st.Size() == 0 {
		return fmt.Errorf("%w: %s is empty (its writer was stopped while creating it)", ErrEmpty, path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return inUse(path)
	}
	if err != nil {
		return fmt.Errorf("journal: %s: %w", path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if empty := tx.ForEach(func([]byte, *bolt.Bucket) error { return errors.New("not empty") }) == nil; empty {
				return fmt.Errorf("%w: %s holds nothing yet (its writer was stopped while creating it)", ErrEmpty, path)
			}
			return fmt.Errorf("%w: %s", ErrNotJournal, path)
		}
		if err := checkFormat(meta); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return fn(&Reader{tx: tx})
	})
}

// Run returns the run's metadata.
func (r *Reader) Run() (Run, error) {
	var run Run
	err := json.Unmarshal(r.tx.Bucket(bucketMeta).Get(keyRun), &run)
	return run, err
}

// Seal returns the run's seal, if it was sealed.
func (r *Reader) Seal() (Seal, bool) {
	var s Seal
	b := r.tx.Bucket(bucketMeta).Get(keySeal)
	if b == nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

// Sessions returns the run's sessions in the order they started.
func (r *Reader) Sessions() ([]Session, error) {
	var out []Session
	err := r.tx.Bucket(bucketSessions).ForEach(func(_, v []byte) error {
		var s Session
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, err
}

// Filter selects entries; the zero Filter selects all.
type Filter struct {
	Session string
	Status  Status
	Since   time.Time
	Until   time.Time
	Text    string // in the command, stdout or stderr
	// After skips the entries up to and including this sequence number,
	// without reading them (a live reader asking for what is new).
	After uint64
}

func (f Filter) match(e Entry) bool {
	switch {
	case f.Session != "" && e.Session != f.Session,
		f.Status != "" && e.Status != f.Status,
		!f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && e.Time.After(f.Until):
		return false
	}
	if f.Text != "" {
		hay := e.Command
		if e.Completion != nil {
			hay += "\x00" + e.Completion.Stdout + "\x00" + e.Completion.Stderr
		}
		return strings.Contains(hay, f.Text)
	}
	return true
}

// Entries returns the entries that match f, in order.
func (r *Reader) Entries(f Filter) ([]Entry, error) {
	var out []Entry
	c := r.tx.Bucket(bucketEntries).Cursor()
	k, v := c.First()
	if f.After > 0 {
		k, v = c.Seek(u64(f.After + 1))
	}
	for ; k != nil; k, v = c.Next() {
		e, err := r.decode(v)
		if err != nil {
			return out, err
		}
		if f.match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Entry returns entry seq.
func (r *Reader) Entry(seq uint64) (Entry, error) {
	v := r.tx.Bucket(bucketEntries).Get(u64(seq))
	if v == nil {
		return Entry{}, fmt.Errorf("%w: %d", ErrNoEntry, seq)
	}
	return r.decode(v)
}

func (r *Reader) decode(v []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return e, fmt.Errorf("journal: unreadable entry: %w", err)
	}
	if e.Status == StatusRunning && !r.live {
		// Nobody is writing the file, so this command never finished.
		e.Status = StatusInterrupted
	}
	return e, nil
}

// Report is the outcome of Verify.
type Report struct {
	OK       bool   `json:"ok"`
	Records  uint64 `json:"records"`
	Entries  int    `json:"entries"`
	Sealed   bool   `json:"sealed"`
	Head     string `json:"head"`
	FirstBad uint64 `json:"first_bad_record,omitempty"`
	// FirstBadEntry is the entry (command) the first bad record belongs to,
	// when that can still be read.
	FirstBadEntry uint64   `json:"first_bad_entry,omitempty"`
	Problems      []string `json:"problems,omitempty"`
}

func (rep *Report) fail(rec uint64, format string, a ...any) {
	if rep.FirstBad == 0 && rec != 0 {
		rep.FirstBad = rec
	}
	rep.Problems = append(rep.Problems, fmt.Sprintf(format, a...))
}

// Verify checks the journal's structure and hash chain. expectHead, when
// not empty, is a chain head kept outside the file (printed when the run
// was sealed); a journal re-chained from scratch fails against it.
func (r *Reader) Verify(expectHead string) Report {
	rep := Report{}
	// The file's own structure first: pages reachable twice or never,
	// freed pages in use, keys out of order.
	n := 0
	for err := range r.tx.Check() {
		if n++; n <= 10 {
			rep.fail(0, "the file is damaged: %v", err)
		}
	}
	if n > 0 {
		return rep
	}
	intents := map[uint64][]byte{}
	completions := map[uint64][]byte{}
	sessions := map[string][]byte{}
	var runData []byte
	prev, lastKind := "", ""
	c := r.tx.Bucket(bucketRecords).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		want := rep.Records + 1
		if len(k) != 8 || binary.BigEndian.Uint64(k) != want {
			rep.fail(want, "record %d is missing (the next key is %x): records were deleted", want, k)
			break
		}
		var rec record
		if err := json.Unmarshal(v, &rec); err != nil {
			rep.fail(want, "record %d is unreadable: %v", want, err)
			break
		}
		bad := func(format string, a ...any) {
			rep.fail(want, format, a...)
			rep.FirstBadEntry = rec.Entry
		}
		if rec.Seq != want {
			bad("record %d holds record %d: records were moved", want, rec.Seq)
			break
		}
		if rec.Prev != prev {
			bad("record %d does not follow record %d (chain broken)", want, want-1)
			break
		}
		if hashRecord(rec) != rec.Hash {
			bad("record %d (entry %d) was altered: its hash does not match its content", want, rec.Entry)
			break
		}
		if lastKind == kindSeal {
			rep.fail(want, "record %d comes after the seal", want)
			break
		}
		switch rec.Kind {
		case kindRun:
			runData = rec.Data
		case kindSession:
			var s Session
			json.Unmarshal(rec.Data, &s)
			sessions[s.ID] = rec.Data
		case kindIntent:
			intents[rec.Entry] = rec.Data
		case kindCheckpoint:
			var c checkpointed
			var in map[string]any
			if intents[rec.Entry] == nil || completions[rec.Entry] != nil || json.Unmarshal(rec.Data, &c) != nil || json.Unmarshal(intents[rec.Entry], &in) != nil {
				rep.fail(want, "record %d checkpoints entry %d out of order", want, rec.Entry)
				break
			}
			in["checkpoint"] = c.Checkpoint
			intents[rec.Entry], _ = json.Marshal(in)
		case kindCompletion:
			if intents[rec.Entry] == nil {
				rep.fail(want, "record %d completes entry %d, which has no intent", want, rec.Entry)
			}
			completions[rec.Entry] = rec.Data
		}
		prev, lastKind = rec.Hash, rec.Kind
		rep.Records = want
	}
	rep.Head = prev
	if rep.Problems != nil {
		return rep
	}
	// The fast views must say what the chain says.
	meta := r.tx.Bucket(bucketMeta)
	if !sameJSON(meta.Get(keyRun), runData) {
		rep.fail(1, "the run metadata differs from the chain's run record")
	}
	r.tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		if !sameJSON(sessions[string(k)], v) {
			rep.fail(0, "session %s differs from the chain", k)
		}
		delete(sessions, string(k))
		return nil
	})
	for id := range sessions {
		rep.fail(0, "session %s is in the chain but was removed", id)
	}
	r.tx.Bucket(bucketEntries).ForEach(func(k, v []byte) error {
		rep.Entries++
		seq := binary.BigEndian.Uint64(k)
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			rep.fail(0, "entry %d is unreadable", seq)
			return nil
		}
		in, _ := json.Marshal(e.Intent)
		if e.Seq != seq || !sameJSON(in, intents[seq]) {
			rep.fail(0, "entry %d differs from its intent record", seq)
			rep.FirstBadEntry = seq
		}
		var comp []byte
		if e.Completion != nil {
			comp, _ = json.Marshal(e.Completion)
		}
		if !sameJSON(comp, completions[seq]) {
			rep.fail(0, "entry %d differs from its completion record", seq)
			if rep.FirstBadEntry == 0 {
				rep.FirstBadEntry = seq
			}
		}
		delete(intents, seq)
		return nil
	})
	for seq := range intents {
		rep.fail(0, "entry %d is in the chain but was removed", seq)
	}
	if s, ok := r.Seal(); ok {
		rep.Sealed = true
		if s.Head != rep.Head || s.Records != rep.Records || lastKind != kindSeal {
			rep.fail(rep.Records, "the seal (%d records, head %.12s) does not match the chain (%d records, head %.12s)", s.Records, s.Head, rep.Records, rep.Head)
		}
	}
	if expectHead != "" && expectHead != rep.Head {
		rep.fail(rep.Records, "the chain's head %.12s is not the expected %.12s", rep.Head, expectHead)
	}
	rep.OK = len(rep.Problems) == 0
	return rep
}

// sameJSON compares two JSON documents by value.
func sameJSON(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
