package remote

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/transport"
)

// startLocal runs the helper loop on this machine.
func startLocal(t *testing.T) *Helper {
	cmd := exec.Command("sh", "-c", Script)
	w, _ := cmd.StdinPipe()
	r, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := New(w, r, func() { w.Close(); cmd.Process.Kill() })
	t.Cleanup(func() { h.Close(); cmd.Wait() })
	return h
}

func TestHelperLoop(t *testing.T) {
	ctx := context.Background()
	h := startLocal(t)
	shell := exec.Command("sh", "-c", "sleep 30 & sleep 31 & wait")
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	defer shell.Process.Kill()
	time.Sleep(100 * time.Millisecond)
	a, err := h.LastPID(ctx)
	if err != nil || a <= 0 {
		t.Fatalf("LastPID = %d, %v", a, err)
	}
	jobs, err := h.Jobs(ctx, shell.Process.Pid, transport.JobMark{})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Jobs = %v, %v; want the two sleeps", jobs, err)
	}
	young, err := h.Jobs(ctx, shell.Process.Pid, transport.JobMark{Time: time.Now(), LastPID: a})
	if err != nil || len(young) != 0 {
		t.Errorf("jobs after a fresh mark = %v, %v", young, err)
	}
	if _, err := h.Kill(ctx, "BOGUS", jobs); err == nil {
		t.Error("unknown signal accepted")
	}
	n, err := h.SignalJobs(ctx, shell.Process.Pid, transport.SIGKILL, transport.JobMark{})
	if err != nil || n != 2 {
		t.Errorf("SignalJobs = %d, %v", n, err)
	}
	if err := shell.Wait(); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Logf("shell: %v", err)
	}
	if err := h.KillTree(ctx, 999999999); err != nil {
		t.Errorf("KillTree of a missing shell: %v", err)
	}
	if pid, _ := h.LastPID(ctx); pid <= 0 {
		t.Errorf("helper stopped answering: %s", strconv.Itoa(pid))
	}
}

func TestHelperGoneIsAnError(t *testing.T) {
	h := startLocal(t)
	h.Close()
	if _, err := h.LastPID(context.Background()); err == nil {
		t.Error("closed helper answered")
	}
}
