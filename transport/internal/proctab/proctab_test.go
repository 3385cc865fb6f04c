package proctab

import (
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/execkit/execkit/transport"
)

func TestParseStat(t *testing.T) {
	line := []byte("4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")
	p, ok := ParseStat(line)
	if !ok {
		t.Fatal("parse failed")
	}
	if p.PID != 4242 || p.PPID != 1 || p.PGID != 4242 || p.SID != 4242 || p.State != 'S' || p.StartTicks != 98765 {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1", "12 (name) S 1 2"} {
		if _, ok := ParseStat([]byte(bad)); ok {
			t.Errorf("ParseStat(%q) succeeded", bad)
		}
	}
}

// stat forges a stat line.
func stat(pid, ppid, pgid, sid int, state string, start int) string {
	itoa := strconv.Itoa
	return itoa(pid) + " (p) " + state + " " + itoa(ppid) + " " + itoa(pgid) + " " + itoa(sid) +
		" 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " + itoa(start) + " 0 0\n"
}

func TestJobs(t *testing.T) {
	table := stat(100, 1, 100, 100, "S", 1000) + // the shell
		stat(101, 100, 100, 100, "S", 1000) + // old child
		stat(150, 1, 150, 100, "S", 1000) + // orphan, same session
		stat(160, 1, 160, 160, "S", 5000) + // stranger
		stat(200, 100, 100, 100, "S", 5000) + // new child
		stat(201, 200, 100, 100, "S", 5000) + // its child
		stat(202, 200, 100, 100, "Z", 5000) + // zombie
		"garbage line\n"
	procs := ParseLines([]byte(table))
	if len(procs) != 7 {
		t.Fatalf("parsed %d processes, want 7", len(procs))
	}
	all := Jobs(procs, 100, transport.JobMark{}, 6000, 1, 1<<22)
	sort.Ints(all)
	if want := []int{101, 150, 200, 201}; !equal(all, want) {
		t.Errorf("all jobs = %v, want %v", all, want)
	}
	// A mark 30 s ago on a clock now at tick 6000: tick 3000.
	mark := transport.JobMark{Time: time.Now().Add(-30 * time.Second), LastPID: 199}
	young := Jobs(procs, 100, mark, 6000, 1, 1<<22)
	if len(young) == 2 && young[0] != 200 {
		t.Errorf("a child came before its parent: %v", young)
	}
	sort.Ints(young)
	if want := []int{200, 201}; !equal(young, want) {
		t.Errorf("jobs since mark = %v, want %v", young, want)
	}
}

func TestNewerSameTickByPID(t *testing.T) {
	m := transport.JobMark{Time: time.Now(), LastPID: 500}
	if !Newer(Info{PID: 501, StartTicks: 10}, m, 10, 1, 1000) {
		t.Error("pid after the mark in the same tick is not newer")
	}
	if Newer(Info{PID: 499, StartTicks: 10}, m, 10, 1, 1000) {
		t.Error("pid before the mark in the same tick is newer")
	}
	wrapped := transport.JobMark{Time: time.Now(), LastPID: 990}
	if !Newer(Info{PID: 3, StartTicks: 10}, wrapped, 10, 1, 1000) {
		t.Error("a pid issued after wrapping is not newer")
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNewerWithSlack: on a remote target the mark's place on the target's
// clock is uncertain, so within the slack the process id decides.
func TestNewerWithSlack(t *testing.T) {
	m := transport.JobMark{Time: time.Now(), LastPID: 500}
	// Started 30 ticks after where the mark was placed, but issued before
	// it: the placing was off, the process is older than the mark.
	if Newer(Info{PID: 480, StartTicks: 130}, m, 100, 100, 1<<22) {
		t.Error("an older process was taken for a new one")
	}
	if !Newer(Info{PID: 520, StartTicks: 70}, m, 100, 100, 1<<22) {
		t.Error("a newer process was taken for an old one")
	}
	if !Newer(Info{PID: 10, StartTicks: 300}, m, 100, 100, 1<<22) {
		t.Error("a process clearly later by its start time is not new")
	}
}

// A mark that carries the target's ticks places the mark exactly, however
// late the table is read: a busy scheduler that delays the reader between
// reading the clock and the table cannot make an older job look new.
func TestJobsMarkTicks(t *testing.T) {
	table := stat(100, 1, 100, 100, "S", 1000) + // the shell
		stat(110, 100, 100, 100, "S", 4990) + // an earlier command's job, 10 ms before the mark
		stat(120, 100, 100, 100, "S", 5000) + // the command's, same tick, a later pid
		stat(130, 100, 100, 100, "S", 5200) // the command's, 2 s later
	procs := ParseLines([]byte(table))
	// The table is read at tick 5210. Time says the mark was taken 3 s
	// before (a reader held up after the clock was read): placed by Time
	// the mark is at 4910 and the earlier job at 4990 looks new. The
	// ticks say 5000.
	mark := transport.JobMark{Time: time.Now().Add(-3 * time.Second), LastPID: 115, Ticks: 5000}
	got := Jobs(procs, 100, mark, 5210, 1, 1<<22)
	sort.Ints(got)
	if want := []int{120, 130}; !equal(got, want) {
		t.Errorf("jobs since the mark = %v, want %v", got, want)
	}
	mark.Ticks = 0 // the same mark placed by its time: the old job is taken
	if got := Jobs(procs, 100, mark, 5210, 1, 1<<22); len(got) != 3 {
		t.Errorf("placed by time: %v (this test's premise is off)", got)
	}
}
