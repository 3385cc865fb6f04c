package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/execkit/execkit/safety"
)

func openTemp(t *testing.T) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.db")
	j, err := Open(path, &Options{Run: Run{Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

func record3(t *testing.T, j *Journal) {
	t.Helper()
	if err := j.AddSession(Session{ID: "s1", Transport: "local"}); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range []string{"echo one", "false", "sleep 9"} {
		seq, err := j.Intent(Intent{Session: "s1", Command: cmd, Decision: Decision{Allowed: true}})
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("intent %d: seq %d, %v", i, seq, err)
		}
		if i == 2 {
			break // left running: a crash here leaves an intent alone
		}
		st, code := StatusOK, 0
		if cmd == "false" {
			st, code = StatusFailed, 1
		}
		if err := j.Complete(seq, Completion{Status: st, ExitCode: code, Stdout: cmd + "\n"}); err != nil {
			t.Fatal(err)
		}
	}
}

func verify(t *testing.T, path, head string) Report {
	t.Helper()
	var rep Report
	if err := Read(path, func(r *Reader) error { rep = r.Verify(head); return nil }); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestTwoPhaseAndInterrupted(t *testing.T) {
	j, path := openTemp(t)
	record3(t, j)
	j.View(func(r *Reader) error {
		e, _ := r.Entry(3)
		if e.Status != StatusRunning {
			t.Errorf("live view of an unfinished entry: %s", e.Status)
		}
		return nil
	})
	j.Close()
	err := Read(path, func(r *Reader) error {
		es, err := r.Entries(Filter{})
		if err != nil {
			return err
		}
		want := []Status{StatusOK, StatusFailed, StatusInterrupted}
		for i, e := range es {
			if e.Status != want[i] {
				t.Errorf("entry %d: %s, want %s", e.Seq, e.Status, want[i])
			}
		}
		if f, _ := r.Entries(Filter{Status: StatusFailed}); len(f) != 1 || f[0].Command != "false" {
			t.Errorf("status filter: %+v", f)
		}
		if f, _ := r.Entries(Filter{Text: "one"}); len(f) != 1 {
			t.Errorf("text filter: %+v", f)
		}
		if all, _ := r.Entries(Filter{}); len(all) > 1 {
			if f, _ := r.Entries(Filter{After: all[0].Seq}); len(f) != len(all)-1 || f[0].Seq != all[1].Seq {
				t.Errorf("After skipped wrongly: %d entries", len(f))
			}
			if f, _ := r.Entries(Filter{After: all[len(all)-1].Seq}); len(f) != 0 {
				t.Errorf("After the last entry: %d entries", len(f))
			}
		}
		if f, _ := r.Entries(Filter{Session: "other"}); len(f) != 0 {
			t.Errorf("session filter: %+v", f)
		}
		if _, err := r.Entry(99); !errors.Is(err, ErrNoEntry) {
			t.Errorf("Entry(99): %v", err)
		}
		ss, _ := r.Sessions()
		if len(ss) != 1 || ss[0].Transport != "local" {
			t.Errorf("sessions: %+v", ss)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, path, ""); !rep.OK || rep.Records != 7 || rep.Entries != 3 || rep.Sealed {
		t.Errorf("verify: %+v", rep)
	}
	// Appending goes on where it stopped.
	j2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if seq, err := j2.Intent(Intent{Session: "s1", Command: "more", Decision: Decision{Allowed: true}}); err != nil || seq != 4 {
		t.Fatalf("append after reopen: %d %v", seq, err)
	}
	j2.Close()
	if rep := verify(t, path, ""); !rep.OK || rep.Records != 8 {
		t.Errorf("verify after reopen: %+v", rep)
	}
}

func TestConcurrentSessions(t *testing.T) {
	j, path := openTemp(t)
	const sessions, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			id := fmt.Sprintf("s%d", s)
			if err := j.AddSession(Session{ID: id, Transport: "local"}); err != nil {
				errs <- err
				return
			}
			for i := 0; i < each; i++ {
				seq, err := j.Intent(Intent{Session: id, Command: fmt.Sprintf("echo %d", i), Decision: Decision{Allowed: true}})
				if err == nil {
					err = j.Complete(seq, Completion{Status: StatusOK, Stdout: fmt.Sprintf("%d\n", i)})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	j.Close()
	rep := verify(t, path, "")
	if !rep.OK || rep.Entries != sessions*each || rep.Records != 1+sessions+2*sessions*each {
		t.Errorf("verify: %+v", rep)
	}
}

func TestSeal(t *testing.T) {
	j, path := openTemp(t)
	record3(t, j)
	s, err := j.Seal()
	if err != nil || s.Head == "" || s.Records != 8 {
		t.Fatalf("seal: %+v %v", s, err)
	}
	if _, err := j.Intent(Intent{Command: "x"}); !errors.Is(err, ErrSealed) {
		t.Errorf("intent after seal: %v", err)
	}
	j.Close()
	if rep := verify(t, path, s.Head); !rep.OK || !rep.Sealed || rep.Head != s.Head || rep.Runs != 1 {
		t.Errorf("verify sealed: %+v", rep)
	}
	if rep := verify(t, path, strings.Repeat("0", 64)); rep.OK {
		t.Error("verify accepted a wrong expected head")
	}
	// Opening it again starts a second run after the seal.
	j2, err := Open(path, &Options{Run: Run{Command: []string{"second"}}})
	if err != nil {
		t.Fatalf("Open of a sealed journal: %v", err)
	}
	seq, err := j2.Intent(Intent{Session: "s1", Command: "again", Decision: Decision{Allowed: true}})
	if err != nil || seq != 4 {
		t.Fatalf("intent in the second run: %d %v", seq, err)
	}
	j2.Complete(seq, Completion{Status: StatusOK})
	j2.Close()
	rep := verify(t, path, "")
	if !rep.OK || rep.Sealed || rep.Runs != 2 || rep.Entries != 4 {
		t.Errorf("verify after a second, unsealed run: %+v", rep)
	}
	Read(path, func(r *Reader) error {
		if run, _ := r.Run(); len(run.Command) != 1 || run.Command[0] != "second" {
			t.Errorf("the run view is not the newest run: %+v", run)
		}
		return nil
	})
}

// TestAnchors: heads appended to an anchor file at each seal find a
// journal cut short, rewritten, re-chained or replaced, with no hash to
// remember.
func TestAnchors(t *testing.T) {
	dir := t.TempDir()
	anchors := filepath.Join(dir, "anchors")
	path := filepath.Join(dir, "run.db")
	for run := 0; run < 2; run++ {
		j, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		j.AddSession(Session{ID: fmt.Sprint("s", run), Transport: "local"})
		for i := 0; i < 3; i++ {
			seq, _ := j.Intent(Intent{Session: fmt.Sprint("s", run), Command: fmt.Sprint("echo ", run, i), Decision: Decision{Allowed: true}})
			j.Complete(seq, Completion{Status: StatusOK, Stdout: fmt.Sprint(run, i)})
		}
		s, err := j.Seal()
		if err != nil {
			t.Fatal(err)
		}
		if err := AppendAnchor(anchors, AnchorOf(s)); err != nil {
			t.Fatal(err)
		}
		j.Close()
	}
	as, err := ReadAnchors(anchors)
	if err != nil || len(as) != 2 {
		t.Fatalf("anchors: %v %v", as, err)
	}
	check := func(p string) Report {
		var rep Report
		if err := Read(p, func(r *Reader) error { rep = r.Verify("", as...); return nil }); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := check(path); !rep.OK || rep.Anchored != 2 || rep.Runs != 2 {
		t.Fatalf("intact journal: %+v", rep)
	}
	good, _ := os.ReadFile(path)
	tamper := func(name string, f func(db *bolt.DB)) string {
		p := filepath.Join(dir, name+".db")
		os.WriteFile(p, good, 0o600)
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		f(db)
		db.Close()
		return p
	}
	// Cut: the second run removed, records and views, so that the chain
	// and its views agree and only the anchor knows.
	cut := tamper("cut", func(db *bolt.DB) {
		db.Update(func(tx *bolt.Tx) error {
			for k := as[0].Records + 1; k <= as[1].Records; k++ {
				tx.Bucket(bucketRecords).Delete(u64(k))
			}
			for e := uint64(4); e <= 6; e++ {
				tx.Bucket(bucketEntries).Delete(u64(e))
			}
			tx.Bucket(bucketSessions).Delete([]byte("s1"))
			var first record
			json.Unmarshal(tx.Bucket(bucketRecords).Get(u64(1)), &first)
			tx.Bucket(bucketMeta).Put(keyRun, first.Data)
			seal, _ := json.Marshal(Seal{Records: as[0].Records, Head: as[0].Head, Time: as[0].Time, Genesis: as[0].Genesis})
			return tx.Bucket(bucketMeta).Put(keySeal, seal)
		})
	})
	if rep := check(cut); rep.OK || !strings.Contains(strings.Join(rep.Problems, "\n"), "cut") {
		t.Errorf("a journal cut back to its first seal passed: %+v", rep)
	}
	if rep := verify(t, cut, ""); !rep.OK {
		t.Errorf("the cut was meant to pass every check but the anchors': %q", rep.Problems)
	}
	// Rewritten: the output of entry 2 changed and every record after it
	// re-hashed, so that the chain is whole again.
	rewritten := tamper("rewritten", func(db *bolt.DB) {
		db.Update(func(tx *bolt.Tx) error { return forgeCompletion(tx, 2, "forged") })
	})
	if rep := verify(t, rewritten, ""); !rep.OK {
		t.Errorf("the forgery was meant to pass every check but the anchors': %q", rep.Problems)
	}
	if rep := check(rewritten); rep.OK || !strings.Contains(strings.Join(rep.Problems, "\n"), "rewritten") {
		t.Errorf("a re-chained journal passed: %+v", rep)
	}
	// Another journal altogether: none of the anchors is its.
	other := filepath.Join(dir, "other.db")
	j, _ := Open(other, nil)
	j.Seal()
	j.Close()
	if rep := check(other); rep.OK || rep.Anchored != 0 {
		t.Errorf("a journal the anchors are not of passed: %+v", rep)
	}
	// A damaged anchor file is an error naming the line.
	os.WriteFile(filepath.Join(dir, "bad"), []byte("execkit-anchor/1 x y\n"), 0o600)
	if _, err := ReadAnchors(filepath.Join(dir, "bad")); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("bad anchor file: %v", err)
	}
}

// forgeCompletion rewrites the stdout of an entry's completion as a careful
// forger would: the record, the chain after it, the entries view and the
// seal, so that the file passes every check that has only itself to go by.
func forgeCompletion(tx *bolt.Tx, entry uint64, stdout string) error {
	b := tx.Bucket(bucketRecords)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec record
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		if rec.Kind != kindCompletion || rec.Entry != entry {
			continue
		}
		var comp map[string]any
		json.Unmarshal(rec.Data, &comp)
		comp["stdout"] = stdout
		rec.Data, _ = json.Marshal(comp)
		out, _ := json.Marshal(rec)
		b.Put(k, out)
		rechain(tx, rec.Seq)
		var e Entry
		json.Unmarshal(tx.Bucket(bucketEntries).Get(u64(entry)), &e)
		e.Completion.Stdout = stdout
		ev, _ := json.Marshal(e)
		tx.Bucket(bucketEntries).Put(u64(entry), ev)
		break
	}
	var last record
	_, lv := b.Cursor().Last()
	json.Unmarshal(lv, &last)
	var s Seal
	if json.Unmarshal(tx.Bucket(bucketMeta).Get(keySeal), &s) == nil {
		s.Head = last.Hash
		out, _ := json.Marshal(s)
		tx.Bucket(bucketMeta).Put(keySeal, out)
	}
	return nil
}

func TestInUse(t *testing.T) {
	j, path := openTemp(t)
	_ = j
	_, err := Open(path, &Options{LockTimeout: 50_000_000})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Errorf("second writer: %v", err)
	}
}

// TestLiveReaders: a journal being written is read, verified and followed
// from outside the writer (through the snapshot and follow its writer
// serves), with a running entry shown running; once the writer closes,
// readers open the file itself and followers end.
func TestLiveReaders(t *testing.T) {
	j, path := openTemp(t)
	record3(t, j)
	check := func(wantRunning bool) {
		t.Helper()
		err := Read(path, func(r *Reader) error {
			es, err := r.Entries(Filter{})
			if err != nil || len(es) != 3 {
				t.Fatalf("entries: %d %v", len(es), err)
			}
			if got := es[2].Status == StatusRunning; got != wantRunning {
				t.Errorf("entry 3 status %s", es[2].Status)
			}
			if rep := r.Verify(""); !rep.OK {
				t.Errorf("verify: %+v", rep)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(true)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Entry, 16)
	done := make(chan error, 1)
	go func() {
		done <- FollowFile(ctx, path, func(e Entry) error { got <- e; return nil })
	}()
	for i := 0; i < 5; i++ { // intent and completion of 1 and 2, intent of 3
		if e := <-got; e.Seq == 0 {
			t.Fatalf("followed %+v", e)
		}
	}
	seq, err := j.Intent(Intent{Session: "s1", Command: "echo four", Decision: Decision{Allowed: true}})
	if err != nil {
		t.Fatal(err)
	}
	j.Complete(seq, Completion{Status: StatusOK})
	for _, want := range []Status{StatusRunning, StatusOK} {
		select {
		case e := <-got:
			if e.Seq != seq || e.Status != want {
				t.Errorf("followed %d %s, want %d %s", e.Seq, e.Status, seq, want)
			}
		case <-time.After(time.Minute):
			t.Fatal("a new entry did not reach the follower")
		}
	}
	// A reader that connects and says nothing does not keep the writer
	// from closing.
	idle, err := net.Dial("unix", LiveSocket(path))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	j.Seal()
	closed := make(chan struct{})
	go func() { j.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("an idle reader holds the writer's Close")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("follow ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the follower did not end with its writer")
	}
	if _, err := os.Stat(LiveSocket(path)); err == nil {
		t.Error("the writer left its socket behind")
	}
	err = Read(path, func(r *Reader) error {
		es, _ := r.Entries(Filter{})
		if len(es) != 4 || es[2].Status != StatusInterrupted {
			t.Errorf("after the writer: %d entries, entry 3 %s", len(es), es[2].Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailClosed(t *testing.T) {
	j, _ := openTemp(t)
	boom := errors.New("disk full")
	if err := j.do(func(*bolt.Tx, *chain) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing commit: %v", err)
	}
	if _, err := j.Intent(Intent{Command: "after", Decision: Decision{Allowed: true}}); !errors.Is(err, boom) {
		t.Errorf("a journal that failed to commit must refuse what follows: %v", err)
	}
}

// tamper runs fn on the raw bbolt file.
func tamper(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// forge edits record seq's data as a forger would, re-chaining everything
// after it, and returns the new data.
func forge(tx *bolt.Tx, seq uint64, old, new string) json.RawMessage {
	b := tx.Bucket(bucketRecords)
	var r record
	json.Unmarshal(b.Get(u64(seq)), &r)
	r.Data = json.RawMessage(strings.Replace(string(r.Data), old, new, 1))
	v, _ := json.Marshal(r)
	b.Put(u64(seq), v)
	rechain(tx, seq)
	return r.Data
}

// rechain recomputes every hash from record `from` on, as a forger would.
func rechain(tx *bolt.Tx, from uint64) {
	b := tx.Bucket(bucketRecords)
	var prev string
	if from > 1 {
		var r record
		json.Unmarshal(b.Get(u64(from-1)), &r)
		prev = r.Hash
	}
	for n := from; b.Get(u64(n)) != nil; n++ {
		var r record
		json.Unmarshal(b.Get(u64(n)), &r)
		r.Prev = prev
		r.Hash = hashRecord(r)
		v, _ := json.Marshal(r)
		b.Put(u64(n), v)
		prev = r.Hash
	}
}

func TestFormatFixtures(t *testing.T) {
	dir := filepath.Join("..", "fixtures", "journals")
	if os.Getenv("EXECKIT_UPDATE_FIXTURES") != "" {
		writeFixtures(t, dir)
	}
	for _, name := range []string{"v1.db", "v2.db"} {
		err := Read(filepath.Join(dir, name), func(r *Reader) error {
			es, err := r.Entries(Filter{})
			if err != nil || len(es) != 3 || es[0].Command != "echo one" {
				t.Errorf("%s fixture: %+v %v", name, es, err)
			}
			if rep := r.Verify(""); !rep.OK {
				t.Errorf("%s fixture verify: %q", name, rep.Problems)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s fixture: %v", name, err)
		}
	}
	// A version 1 session's untyped options read back as a typed spec.
	for _, name := range []string{"v1-options.db", "v2.db"} {
		err := Read(filepath.Join(dir, name), func(r *Reader) error {
			ss, err := r.Sessions()
			if err != nil || len(ss) != 2 {
				t.Fatalf("%s: sessions %+v, %v", name, ss, err)
			}
			if rep := r.Verify(""); !rep.OK {
				t.Errorf("%s fixture verify: %q", name, rep.Problems)
			}
			byID := map[string]Session{}
			for _, s := range ss {
				byID[s.ID] = s
			}
			sp := byID["s2"].Spec
			if sp.Version != SpecVersion || sp.Transport != "ssh" || sp.Address != "deploy@build:2222" || sp.Shell != "bash" ||
				sp.Timeout() != 90*time.Second || sp.MaxOutputBytes != 4096 || sp.Workspace != "/srv/app" ||
				sp.CheckpointDir != "/var/cp" || sp.CheckpointMode != "auto" || sp.Budget.Mode != "tail" || sp.Budget.Lines != 7 {
				t.Errorf("%s: spec %+v", name, sp)
			}
			if sp.Policy == nil || sp.Policy.Check("rm -rf x").Allowed || sp.Policy.Check("curl x | sh").Allowed {
				t.Errorf("%s: the recorded policy does not refuse what it did: %+v", name, sp.Policy)
			}
			if name == "v2.db" && (len(sp.Exclude) != 1 || sp.Exclude[0] != "build") {
				t.Errorf("v2: exclude %q", sp.Exclude)
			}
			if local := byID["s1"].Spec; local.Transport != "local" || local.Version != SpecVersion {
				t.Errorf("%s: first session spec %+v", name, local)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Appending to a version 1 journal makes it version 2; its old
	// records still read.
	path := copyFile(t, filepath.Join(dir, "v1-options.db"))
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AddSession(Session{ID: "new", Transport: "local", Spec: SessionSpec{Version: SpecVersion, Endpoint: Endpoint{Transport: "local"}}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	Read(path, func(r *Reader) error {
		ss, _ := r.Sessions()
		if len(ss) != 3 || ss[0].Spec.Workspace != "/srv/app" && ss[1].Spec.Workspace != "/srv/app" {
			t.Errorf("upgraded v1: %+v", ss)
		}
		if rep := r.Verify(""); !rep.OK {
			t.Errorf("upgraded v1 verify: %q", rep.Problems)
		}
		return nil
	})
	err = Read(filepath.Join(dir, "v99.db"), func(*Reader) error { return nil })
	if !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "upgrade execkit") {
		t.Errorf("v99 fixture: %v", err)
	}
	if _, err := Open(copyFile(t, filepath.Join(dir, "v99.db")), nil); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("appending to a v99 journal: %v", err)
	}
	err = Read(filepath.Join(dir, "v0.db"), func(*Reader) error { return nil })
	if !errors.Is(err, ErrNotJournal) || !strings.Contains(err.Error(), "version 0") {
		t.Errorf("v0 fixture: %v", err)
	}
}

func copyFile(t *testing.T, src string) string {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	os.WriteFile(dst, b, 0o600)
	return dst
}

// writeFixtures regenerates fixtures/journals (EXECKIT_UPDATE_FIXTURES=1).
// v1.db is left alone: it was written by the version 1 writer.
func writeFixtures(t *testing.T, dir string) {
	os.MkdirAll(dir, 0o755)
	for _, v := range []string{"0", "99", "2", "1-options"} {
		path := filepath.Join(dir, "v"+v+".db")
		os.Remove(path)
		j, err := Open(path, &Options{Run: Run{ID: "fixture", Version: "fixture", Host: "fixture"}})
		if err != nil {
			t.Fatal(err)
		}
		record3(t, j)
		switch v {
		case "2":
			pol := &safety.Policy{Deny: []string{"rm"}, DenyPatterns: []string{`curl .*\| *sh`}}
			err = j.AddSession(Session{ID: "s2", Transport: "ssh", Target: "deploy@build:2222", Spec: SessionSpec{
				Version: SpecVersion, Endpoint: Endpoint{Transport: "ssh", Address: "deploy@build:2222"}, Shell: "bash",
				TimeoutMS: 90000, MaxOutputBytes: 4096, Budget: safety.Budget{Mode: "tail", Lines: 7}, Policy: pol,
				Workspace: "/srv/app", CheckpointDir: "/var/cp", CheckpointMode: "auto", Exclude: []string{"build"}}})
		case "1-options":
			// As the version 1 writer stored a session: its options untyped.
			legacy := `{"id":"s2","transport":"ssh","target":"deploy@build:2222","started":"2026-11-20T10:00:00Z","options":` +
				`{"shell":"bash","timeout":90000000000,"max_output_bytes":4096,"kill_grace":500000000,` +
				`"policy":{"deny":["rm"],"deny_patterns":["curl .*\\| *sh"]},"budget":{"mode":"tail","lines":7},` +
				`"checkpoint_mode":"auto","workspace":"/srv/app","checkpoint_dir":"/var/cp"}}`
			err = j.do(func(tx *bolt.Tx, ch *chain) error {
				if err := tx.Bucket(bucketSessions).Put([]byte("s2"), []byte(legacy)); err != nil {
					return err
				}
				return appendRecord(tx, ch, kindSession, 0, []byte(legacy))
			})
		}
		if err != nil {
			t.Fatal(err)
		}
		j.Close()
		os.Remove(path + ".pid")
		version := strings.TrimSuffix(v, "-options")
		tamper(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte(version)) })
	}
}

func TestFollow(t *testing.T) {
	j, _ := openTemp(t)
	got := make(chan Entry, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := j.Follow(ctx, 0, func(e Entry) error { got <- e; return nil })
		done <- err
	}()
	seq, _ := j.Intent(Intent{Session: "s", Command: "one", Decision: Decision{Allowed: true}})
	want := func(status Status) {
		t.Helper()
		select {
		case e := <-got:
			if e.Seq != seq || e.Status != status {
				t.Errorf("followed entry %d %s, want %d %s", e.Seq, e.Status, seq, status)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no entry followed (want %s)", status)
		}
	}
	want(StatusRunning)
	j.Complete(seq, Completion{Status: StatusOK})
	want(StatusOK)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Follow after cancel: %v", err)
	}
	// A late follower replays from the start, each record once.
	var n int
	last, err := j.Follow(func() context.Context { c, f := context.WithCancel(context.Background()); f(); return c }(), 0, func(Entry) error { n++; return nil })
	if n != 2 || last != 3 || !errors.Is(err, context.Canceled) {
		t.Errorf("replay: %d entries, last record %d, %v", n, last, err)
	}
}

// TestCheckpointed: a checkpoint recorded between intent and completion
// is the entry's, survives an interrupted command, and verifies.
func TestCheckpointed(t *testing.T) {
	j, path := openTemp(t)
	a, _ := j.Intent(Intent{Session: "s", Command: "make", Decision: Decision{Allowed: true}})
	if err := j.Checkpointed(a, "c0ffee"); err != nil {
		t.Fatal(err)
	}
	if err := j.Checkpointed(a, "again"); err == nil {
		t.Error("a second checkpoint for one entry was accepted")
	}
	b, _ := j.Intent(Intent{Session: "s", Command: "make install", Decision: Decision{Allowed: true}})
	j.Checkpointed(b, "beef")
	j.Complete(a, Completion{Status: StatusOK})
	if err := j.Checkpointed(a, "late"); err == nil {
		t.Error("a checkpoint after the completion was accepted")
	}
	j.Close() // b never completes
	Read(path, func(r *Reader) error {
		ea, _ := r.Entry(a)
		eb, _ := r.Entry(b)
		if ea.Checkpoint != "c0ffee" || ea.Status != StatusOK || eb.Checkpoint != "beef" || eb.Status != StatusInterrupted {
			t.Errorf("entries: %+v / %+v", ea, eb)
		}
		if rep := r.Verify(""); !rep.OK {
			t.Errorf("verify: %q", rep.Problems)
		}
		return nil
	})
}

// TestVerifyDamagedFile flips single bytes anywhere in a journal file:
// reading and verifying it never panics or crashes; damage is an error or
// a problem in the report.
func TestVerifyDamagedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "good.db")
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.AddSession(Session{ID: "s", Transport: "local"})
	for i := 0; i < 40; i++ {
		seq, _ := j.Intent(Intent{Session: "s", Command: fmt.Sprintf("echo %d %s", i, strings.Repeat("x", i*37)), Decision: Decision{Allowed: true}})
		j.Complete(seq, Completion{Status: StatusOK, Stdout: strings.Repeat("out ", i*50)})
	}
	j.Seal()
	j.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(42))
	const flips = 300
	found := 0
	for i := 0; i < flips; i++ {
		bad := append([]byte(nil), good...)
		at := rng.Intn(len(bad))
		bad[at] ^= byte(1 + rng.Intn(255))
		p := filepath.Join(dir, fmt.Sprintf("bad-%d.db", i))
		if err := os.WriteFile(p, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		var rep Report
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panicked: %v", r)
					t.Errorf("flip at byte %d: Read/Verify panicked: %v", at, r)
				}
			}()
			return Read(p, func(r *Reader) error { rep = r.Verify(""); return nil })
		}()
		if err != nil || !rep.OK {
			found++
		}
		os.Remove(p)
	}
	t.Logf("%d of %d single-byte flips reported (the rest fell in free space or padding)", found, flips)
	if found == 0 {
		t.Error("no flip was reported")
	}
}

// TestInterruptedCreation: a journal file whose writer was killed while
// creating it (nothing written yet, or the storage header only) reads as
// "no entries", and a writer opening it starts it afresh.
func TestInterruptedCreation(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.db")
	if err := os.WriteFile(zero, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	header := filepath.Join(dir, "header.db")
	db, err := bolt.Open(header, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, p := range []string{zero, header} {
		if err := Read(p, func(*Reader) error { return nil }); !errors.Is(err, ErrEmpty) {
			t.Errorf("%s: Read = %v, want ErrEmpty", filepath.Base(p), err)
		}
		j, err := Open(p, nil)
		if err != nil {
			t.Fatalf("%s: Open = %v", filepath.Base(p), err)
		}
		j.AddSession(Session{ID: "s", Transport: "local"})
		seq, _ := j.Intent(Intent{Session: "s", Command: "true", Decision: Decision{Allowed: true}})
		j.Complete(seq, Completion{Status: StatusOK})
		j.Close()
		err = Read(p, func(r *Reader) error {
			if rep := r.Verify(""); !rep.OK || rep.Entries != 1 {
				t.Errorf("%s after a writer: %+v", filepath.Base(p), rep)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	// A file that is not a journal at all is still called that.
	other := filepath.Join(dir, "other.db")
	db, _ = bolt.Open(other, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	db.Close()
	if err := Read(other, func(*Reader) error { return nil }); !errors.Is(err, ErrNotJournal) {
		t.Errorf("another bbolt file: %v", err)
	}
}

// TestEndSession: a session's end is a record of the chain and shows in
// the session's view; a second end changes nothing, and an end removed
// from the view is found by verify.
func TestEndSession(t *testing.T) {
	j, path := openTemp(t)
	record3(t, j)
	if err := j.EndSession("s1", "destroyed"); err != nil {
		t.Fatal(err)
	}
	if err := j.EndSession("s1", "idle"); err != nil {
		t.Fatalf("second end: %v", err)
	}
	if err := j.EndSession("nosuch", "idle"); err == nil {
		t.Error("ending a session the journal does not have succeeded")
	}
	j.Close()
	if rep := verify(t, path, ""); !rep.OK || rep.Records != 8 {
		t.Fatalf("verify: %+v", rep)
	}
	Read(path, func(r *Reader) error {
		ss, err := r.Sessions()
		if err != nil || len(ss) != 1 || ss[0].Ended == nil || ss[0].EndReason != "destroyed" {
			t.Errorf("sessions: %+v %v", ss, err)
		}
		return nil
	})
	// Take the end out of the view: verify sees the difference.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var s Session
		json.Unmarshal(b.Get([]byte("s1")), &s)
		s.Ended, s.EndReason = nil, ""
		v, _ := json.Marshal(s)
		return b.Put([]byte("s1"), v)
	})
	db.Close()
	if rep := verify(t, path, ""); rep.OK {
		t.Error("verify missed a session end taken out of the view")
	}
}

// TestLiveSocketDirectory: readers and writers use the socket directory
// only when it is this user's alone.
func TestLiveSocketDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	path := filepath.Join(t.TempDir(), "run.db")
	sockDir := filepath.Dir(LiveSocket(path))
	if err := os.Mkdir(sockDir, 0o755); err != nil { // others can enter it
		t.Fatal(err)
	}
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := os.Stat(LiveSocket(path)); err == nil {
		t.Error("the writer served from a directory others can enter")
	}
	if Live(path) {
		t.Error("a reader trusted a directory others can enter")
	}
	if err := Read(path, func(*Reader) error { return nil }); !errors.Is(err, ErrInUse) {
		t.Errorf("without a live socket a reader gets in use: %v", err)
	}
}
