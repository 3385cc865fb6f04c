package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
func Read(path string, fn func(*Reader) error) error {
	// A journal being written is read from a snapshot its writer serves.
	if err := readLive(path, fn); err == nil || !isDialError(err) && !errors.Is(err, errLiveGone) {
		return err
	}
	return readFile(path, path, false, fn)
}

// readFile reads the bbolt file at file as the journal named path; live
// says the file is a snapshot of a journal still being written.
func readFile(file, path string, live bool, fn func(*Reader) error) (err error) {
	// A damaged file can make the storage layer panic, or fault on a page
	// past the end of its mapping: either is reported as damage, never a
	// crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, p)
		}
	}()
	if st, serr := os.Stat(file); serr == nil && st.Size() == 0 {
		return fmt.Errorf("%w: %s is empty (its writer was stopped while creating it)", ErrEmpty, path)
	}
	db, err := bolt.Open(file, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
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
		return fn(&Reader{tx: tx, live: live})
	})
}

// isDialError reports whether err is no writer answering.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
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

// Match reports whether e passes the filter's session, status and text.
func (f Filter) Match(e Entry) bool {
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
		if f.Match(e) {
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
	OK      bool   `json:"ok"`
	Records uint64 `json:"records"`
	Entries int    `json:"entries"`
	Sealed  bool   `json:"sealed"`
	Head    string `json:"head"`
	// Live: the journal is being written now; this is its state so far.
	Live bool `json:"live,omitempty"`
	// Runs is how many runs (writers, one after another) the journal holds;
	// Sealed says whether the last one ended with a seal.
	Runs int `json:"runs"`
	// Genesis is the hash of the first record, which names the journal in
	// anchors; Anchored is how many anchors of it were checked.
	Genesis  string `json:"genesis"`
	Anchored int    `json:"anchored,omitempty"`
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
// was sealed); a journal re-chained from scratch fails against it. So it
// does against anchors (heads appended to a file at each seal, see
// Anchor): a journal cut short, rewritten or re-chained is found without
// remembering a hash. A nil anchors list checks none; an empty one, read
// from an anchor file with nothing of this journal, is a problem.
func (r *Reader) Verify(expectHead string, anchors ...Anchor) Report {
	rep := Report{Live: r.live}
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
		if lastKind == kindSeal && rec.Kind != kindRun {
			rep.fail(want, "record %d comes after a seal without starting a new run", want)
			break
		}
		if want == 1 {
			rep.Genesis = rec.Hash
		}
		switch rec.Kind {
		case kindRun:
			runData = rec.Data
			rep.Runs++
		case kindSession:
			var s Session
			json.Unmarshal(rec.Data, &s)
			sessions[s.ID] = rec.Data
		case kindSessionEnd:
			var end sessionEnd
			var s Session
			if json.Unmarshal(rec.Data, &end) != nil || sessions[end.ID] == nil || json.Unmarshal(sessions[end.ID], &s) != nil || s.Ended != nil {
				rep.fail(want, "record %d ends a session that is not open", want)
				break
			}
			s.Ended, s.EndReason = &end.Ended, end.Reason
			sessions[end.ID], _ = json.Marshal(s)
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
	} else if lastKind == kindSeal {
		rep.Sealed = true
		rep.fail(rep.Records, "the chain ends with a seal record, but the seal was removed from the file's metadata")
	}
	if expectHead != "" && expectHead != rep.Head {
		rep.fail(rep.Records, "the chain's head %.12s is not the expected %.12s", rep.Head, expectHead)
	}
	if anchors != nil {
		r.checkAnchors(&rep, anchors)
	}
	rep.OK = len(rep.Problems) == 0
	return rep
}

// checkAnchors compares the chain with the heads kept outside it: each
// anchor of this journal (same first record) must name a record that is
// still there with the same hash. An anchor file with none of this
// journal's is a problem too: the journal was re-chained from its first
// record, or it is not the journal the anchors were kept for.
func (r *Reader) checkAnchors(rep *Report, anchors []Anchor) {
	b := r.tx.Bucket(bucketRecords)
	for _, a := range anchors {
		if a.Genesis != rep.Genesis {
			continue
		}
		rep.Anchored++
		if a.Records > rep.Records {
			rep.fail(rep.Records, "the journal was cut: an anchor of %s holds %d records, the file %d", a.Time.Format(time.RFC3339), a.Records, rep.Records)
			continue
		}
		var rec record
		if json.Unmarshal(b.Get(u64(a.Records)), &rec) != nil || rec.Hash != a.Head {
			rep.fail(a.Records, "record %d is not the one anchored on %s (head %.12s): the chain was rewritten", a.Records, a.Time.Format(time.RFC3339), a.Head)
		}
	}
	if rep.Anchored == 0 {
		rep.fail(0, "none of the %d anchors is of this journal (first record %.12s): it was re-chained from the start, or the anchors were kept for another journal", len(anchors), rep.Genesis)
	}
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
