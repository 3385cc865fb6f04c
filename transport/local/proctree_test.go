//go:build !windows

package local

import (
	"os/exec"
	"testing"
)

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
