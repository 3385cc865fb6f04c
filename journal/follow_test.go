package journal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestFollowEvents: followers get every entry as its intent and then its
// completion were committed, in record order, whether they keep up (from
// the writer's events) or start late and behind the events' bounds (read
// back from the file, then from the events); the two give the same.
func TestFollowEvents(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "run.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.mu.Lock()
	j.evMax = 4
	j.mu.Unlock()
	j.AddSession(Session{ID: "s", Transport: "local"})
	write := func(n int) {
		for i := 0; i < n; i++ {
			seq, err := j.Intent(Intent{Session: "s", Command: fmt.Sprintf("cmd %d", i), Decision: Decision{Allowed: i%3 != 0}})
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Complete(seq, Completion{Status: StatusOK, Stdout: "out\n"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	collect := func(after uint64, want int) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var got []string
		stop := errors.New("enough")
		j.Follow(ctx, after, func(e Entry) error {
			got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.Status))
			if len(got) == want {
				return stop
			}
			return nil
		})
		return got
	}
	write(3)
	early := collect(0, 6) // all in the events
	write(10)              // the events keep only the last 4
	all := collect(0, 26)  // read back, then the events
	if len(early) != 6 || len(all) != 26 {
		t.Fatalf("early %v, all %v", early, all)
	}
	for i := range early {
		if early[i] != all[i] {
			t.Errorf("event %d: %s from the events, %s read back", i, early[i], all[i])
		}
	}
	for i := 0; i < 13; i++ {
		want := "running"
		if i%3 == 0 {
			want = "blocked"
		}
		if all[2*i] != fmt.Sprintf("%d:%s", i+1, want) || all[2*i+1] != fmt.Sprintf("%d:ok", i+1) {
			t.Errorf("entry %d: %s, %s", i+1, all[2*i], all[2*i+1])
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if n := len(j.events); n > j.evMax {
		t.Errorf("%d events kept", n)
	}
}
