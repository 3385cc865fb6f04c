package journal

import (
	"encoding/json"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// reseal makes the stored seal agree with the chain as it now is, as a
// forger who rewrote the seal would.
func reseal(tx *bolt.Tx) error {
	b := tx.Bucket(bucketRecords)
	_, lv := b.Cursor().Last()
	var last record
	json.Unmarshal(lv, &last)
	var old Seal
	json.Unmarshal(tx.Bucket(bucketMeta).Get(keySeal), &old)
	old.Records, old.Head = last.Seq, last.Hash
	s, _ := json.Marshal(old)
	return tx.Bucket(bucketMeta).Put(keySeal, s)
}

// recordsOfKind lists the sequence numbers of the records of one kind.
func recordsOfKind(tx *bolt.Tx, kind string) []uint64 {
	var out []uint64
	tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
		var r record
		json.Unmarshal(v, &r)
		if r.Kind == kind {
			out = append(out, r.Seq)
		}
		return nil
	})
	return out
}

// renumber deletes record seq and moves every later one down by one,
// re-chaining them, as a forger who removes a record without leaving a gap
// would.
func renumber(tx *bolt.Tx, seq uint64) {
	b := tx.Bucket(bucketRecords)
	for n := seq; ; n++ {
		next := b.Get(u64(n + 1))
		if next == nil {
			b.Delete(u64(n))
			break
		}
		var r record
		json.Unmarshal(next, &r)
		r.Seq = n
		v, _ := json.Marshal(r)
		b.Put(u64(n), v)
	}
	rechain(tx, seq)
}

// TestTamperingClasses edits a sealed journal in each way a person with
// write access to the file might, and checks what verify finds with the
// file alone. The classes that cannot be found without something kept
// elsewhere (docs/journal-format.md, "Anchors") must be found against the
// head taken at seal time.
func TestTamperingClasses(t *testing.T) {
	// wantBad, when set, is the first bad record verify must name, and
	// wantEntry the entry it must name (the journal: 1 run, 2 session, then
	// entry 1's intent and completion at 3 and 4, entry 2's at 5 and 6,
	// entry 3's intent at 7, the seal at 8).
	type tamperCase struct {
		name string
		fn   func(tx *bolt.Tx) error
		// needsHead: only a head kept elsewhere can show it.
		needsHead          bool
		wantBad, wantEntry uint64
	}
	cases := []tamperCase{
		{name: "byte flip in a value", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			v := append([]byte(nil), b.Get(u64(4))...)
			i := strings.Index(string(v), "echo one")
			v[i] = 'E'
			return b.Put(u64(4), v)
		}, wantBad: 4, wantEntry: 1},
		{name: "byte flip in a record", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			v := append([]byte(nil), b.Get(u64(3))...)
			v[len(v)/2] ^= 1
			return b.Put(u64(3), v)
		}},
		{name: "record deleted, gap left", fn: func(tx *bolt.Tx) error { return tx.Bucket(bucketRecords).Delete(u64(5)) }, wantBad: 5},
		{name: "records swapped", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			a, c := append([]byte(nil), b.Get(u64(3))...), append([]byte(nil), b.Get(u64(5))...)
			b.Put(u64(3), c)
			return b.Put(u64(5), a)
		}, wantBad: 3},
		{name: "record stored under another key", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			last, _ := b.Cursor().Last()
			v := append([]byte(nil), b.Get(last)...)
			b.Delete(last)
			return b.Put(u64(u64n(last)+5), v)
		}},
		{name: "record duplicated at the end", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			last, _ := b.Cursor().Last()
			return b.Put(u64(u64n(last)+1), append([]byte(nil), b.Get(u64(3))...))
		}},
		{name: "edit re-chained, seal left", fn: func(tx *bolt.Tx) error {
			forge(tx, 4, "echo one", "echo two")
			e := tx.Bucket(bucketEntries)
			return e.Put(u64(1), []byte(strings.Replace(string(e.Get(u64(1))), "echo one", "echo two", 1)))
		}, wantBad: 8},
		{name: "entries view edited", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEntries)
			return b.Put(u64(2), []byte(strings.Replace(string(b.Get(u64(2))), `"exit_code":1`, `"exit_code":0`, 1)))
		}, wantEntry: 2},
		{name: "entry deleted from the view", fn: func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Delete(u64(2)) }},
		{name: "entry added to the view", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEntries)
			return b.Put(u64(9), append([]byte(nil), b.Get(u64(1))...))
		}},
		{name: "session view edited", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSessions)
			return b.Put([]byte("s1"), []byte(strings.Replace(string(b.Get([]byte("s1"))), "local", "ssh", 1)))
		}},
		{name: "session view deleted", fn: func(tx *bolt.Tx) error { return tx.Bucket(bucketSessions).Delete([]byte("s1")) }},
		{name: "run view edited", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			return b.Put(keyRun, []byte(strings.Replace(string(b.Get(keyRun)), `"test"`, `"other"`, 1)))
		}},
		{name: "seal head edited", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMeta)
			var s Seal
			json.Unmarshal(b.Get(keySeal), &s)
			s.Head = strings.Repeat("0", len(s.Head))
			v, _ := json.Marshal(s)
			return b.Put(keySeal, v)
		}},
		{name: "seal deleted from meta", fn: func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keySeal) }},
		{name: "record appended after the seal", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			lk, lv := b.Cursor().Last()
			var last record
			json.Unmarshal(lv, &last)
			var r record
			json.Unmarshal(b.Get(u64(3)), &r)
			r.Seq, r.Prev = u64n(lk)+1, last.Hash
			r.Hash = hashRecord(r)
			v, _ := json.Marshal(r)
			return b.Put(u64(r.Seq), v)
		}},
		{name: "intent removed, re-chained and resealed", fn: func(tx *bolt.Tx) error {
			renumber(tx, recordsOfKind(tx, "intent")[0])
			return reseal(tx)
		}},
		{name: "completion moved before its intent, re-chained and resealed", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			in, done := recordsOfKind(tx, "intent")[1], recordsOfKind(tx, "completion")[1]
			a, c := append([]byte(nil), b.Get(u64(in))...), append([]byte(nil), b.Get(u64(done))...)
			var ra, rc record
			json.Unmarshal(a, &ra)
			json.Unmarshal(c, &rc)
			ra.Seq, rc.Seq = done, in
			va, _ := json.Marshal(ra)
			vc, _ := json.Marshal(rc)
			b.Put(u64(in), vc)
			b.Put(u64(done), va)
			rechain(tx, in)
			return reseal(tx)
		}},
		{name: "format version changed", fn: func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("99")) }},
		{name: "records bucket emptied", fn: func(tx *bolt.Tx) error {
			tx.DeleteBucket(bucketRecords)
			_, err := tx.CreateBucket(bucketRecords)
			return err
		}},
		// These need a head kept elsewhere.
		{name: "completion edited, re-chained, views and seal rewritten", fn: func(tx *bolt.Tx) error {
			return forgeCompletion(tx, 1, "forged\n")
		}, needsHead: true},
		{name: "seal and the last entry cut, views and seal removed", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			last, _ := b.Cursor().Last()
			b.Delete(last)                // the seal
			b.Delete(u64(u64n(last) - 1)) // entry 3's intent
			tx.Bucket(bucketEntries).Delete(u64(3))
			return tx.Bucket(bucketMeta).Delete(keySeal)
		}, needsHead: true},
		{name: "re-chained from the first record", fn: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRecords)
			var r record
			json.Unmarshal(b.Get(u64(1)), &r)
			r.Data = json.RawMessage(strings.Replace(string(r.Data), `"test"`, `"tesT"`, 1))
			v, _ := json.Marshal(r)
			b.Put(u64(1), v)
			rechain(tx, 1)
			tx.Bucket(bucketMeta).Put(keyRun, r.Data)
			return reseal(tx)
		}, needsHead: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j, path := openTemp(t)
			record3(t, j)
			seal, err := j.Seal()
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			tamper(t, path, c.fn)
			var rep Report
			var readErr error
			readErr = Read(path, func(r *Reader) error { rep = r.Verify(""); return nil })
			alone := readErr != nil || !rep.OK
			switch {
			case !c.needsHead && !alone:
				t.Errorf("not found without a kept head: %+v", rep)
			case c.needsHead && alone:
				t.Errorf("the forgery is not complete (found without a kept head): %v %q", readErr, rep.Problems)
			}
			if c.wantBad != 0 && rep.FirstBad != c.wantBad || c.wantEntry != 0 && rep.FirstBadEntry != c.wantEntry {
				t.Errorf("first bad record %d, entry %d; want %d, %d: %q", rep.FirstBad, rep.FirstBadEntry, c.wantBad, c.wantEntry, rep.Problems)
			}
			if strings.Contains(c.name, "seal and") && rep.Sealed {
				t.Error("a journal whose seal was cut reads as sealed")
			}
			if readErr == nil {
				withHead := verify(t, path, seal.Head)
				if withHead.OK {
					t.Errorf("not found against the head kept at seal time: %q", withHead.Problems)
				}
			}
		})
	}
}

func u64n(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}
