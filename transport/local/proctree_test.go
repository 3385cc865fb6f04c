package local

import (
	"os/exec"
	"testing"
)

func TestParseStat(t *testing.T) {
	line := []byte("4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n")
	p, ok := parseStat(line)
	if !ok {
		t.Fatal("parse failed")
	}
	if p.pid != 4242 || p.ppid != 1 || p.pgid != 4242 || p.sid != 4242 || p.state != 'S' || p.startTicks != 98765 {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1", "12 (name) S 1 2"} {
		if _, ok := parseStat([]byte(bad)); ok {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func TestLastPIDAdvances(t *testing.T) {
	a := lastPID()
	if a <= 0 {
		t.Fatalf("lastPID = %d", a)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
	if b := lastPID(); b == a {
		t.Errorf("lastPID did not move after starting a process: %d", b)
	}
}
