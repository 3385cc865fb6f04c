//go:build integration

package journal_test

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/execkit/execkit/journal"
)

// TestKill9Writer is the writer half of the harness: it only runs when the
// harness starts the test binary with EXECKIT_KILL9_JOURNAL set. It appends
// commands forever and prints an acknowledgement for each record: after the
// commit, or before it in the "early" mode that the negative control uses.
func TestKill9Writer(t *testing.T) {
	path := os.Getenv("EXECKIT_KILL9_JOURNAL")
	if path == "" {
		t.Skip("the writer half of TestKill9; started by it")
	}
	early := os.Getenv("EXECKIT_KILL9_MODE") == "early"
	j, err := journal.Open(path, nil)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	out := os.Stdout
	// The harness times the kill from here, so that how long the process
	// took to start (a loaded machine) does not decide where it dies.
	fmt.Fprintln(out, "READY")
	for i := 1; ; i++ {
		in := journal.Intent{Session: "s", Command: "cmd-" + strconv.Itoa(i), Decision: journal.Decision{Allowed: true}}
		if early {
			fmt.Fprintf(out, "I %d %d\n", i, i)
		}
		seq, err := j.Intent(in)
		if err != nil {
			os.Exit(4)
		}
		if !early {
			fmt.Fprintf(out, "I %d %d\n", seq, i)
		}
		if early {
			fmt.Fprintf(out, "C %d %d\n", seq, i)
		}
		if err := j.Complete(seq, journal.Completion{Status: journal.StatusOK, Stdout: "out-" + strconv.Itoa(i) + "\n"}); err != nil {
			os.Exit(5)
		}
		if !early {
			fmt.Fprintf(out, "C %d %d\n", seq, i)
		}
	}
}

type ack struct {
	kind string
	seq  uint64
	i    int
}

// trial runs one writer, kills it with SIGKILL after d, and returns how
// many acknowledged records are missing or different in the journal.
func trial(t *testing.T, dir string, n int, early bool, d time.Duration) (acked, lost int) {
	path := filepath.Join(dir, fmt.Sprintf("t%d.db", n))
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Writer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EXECKIT_KILL9_JOURNAL="+path)
	if early {
		cmd.Env = append(cmd.Env, "EXECKIT_KILL9_MODE=early")
	}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := make(chan []ack, 1)
	ready := make(chan struct{})
	go func() {
		var as []ack
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
				continue
			}
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue
			}
			seq, _ := strconv.ParseUint(f[1], 10, 64)
			i, _ := strconv.Atoi(f[2])
			as = append(as, ack{f[0], seq, i})
		}
		acks <- as
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Errorf("trial %d: the writer did not start within 30 s", n)
	}
	time.Sleep(d)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	as := <-acks
	err := journal.Read(path, func(r *journal.Reader) error {
		if rep := r.Verify(""); !rep.OK {
			t.Errorf("trial %d: verify after kill -9: %q", n, rep.Problems)
		}
		for _, a := range as {
			e, err := r.Entry(a.seq)
			switch {
			case err != nil || e.Command != "cmd-"+strconv.Itoa(a.i):
				lost++
			case a.kind == "C" && (e.Completion == nil || e.Completion.Stdout != "out-"+strconv.Itoa(a.i)+"\n"):
				lost++
			}
		}
		return nil
	})
	if err != nil && len(as) > 0 {
		t.Errorf("trial %d: the journal does not open after kill -9: %v", n, err)
	}
	return len(as), lost
}

// TestKill9 kills a journal writer at random instants and checks that the
// file always opens and verifies and that no acknowledged record is lost.
// EXECKIT_KILL9_TRIALS sets the number of trials (default 500).
func TestKill9(t *testing.T) {
	trials := 500
	if v, err := strconv.Atoi(os.Getenv("EXECKIT_KILL9_TRIALS")); err == nil && v > 0 {
		trials = v
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	totalAcked, totalLost, killedMid := 0, 0, 0
	for n := 0; n < trials; n++ {
		d := time.Duration(20+rng.Intn(80)) * time.Millisecond
		acked, lost := trial(t, dir, n, false, d)
		totalAcked += acked
		totalLost += lost
		if acked > 0 {
			killedMid++
		}
		os.Remove(filepath.Join(dir, fmt.Sprintf("t%d.db", n)))
	}
	t.Logf("%d trials, %d killed while appending, %d acknowledged records checked, %d lost", trials, killedMid, totalAcked, totalLost)
	if totalLost != 0 {
		t.Errorf("%d acknowledged records lost", totalLost)
	}
	if killedMid < trials*9/10 {
		t.Errorf("only %d of %d trials killed the writer while it appended", killedMid, trials)
	}

	// Negative control: acknowledging before the commit must show losses,
	// or the harness could not see them.
	controlLost, controls := 0, 0
	for n := 0; n < 100 && controlLost == 0; n++ {
		_, lost := trial(t, dir, trials+n, true, time.Duration(20+rng.Intn(80))*time.Millisecond)
		controlLost += lost
		controls++
	}
	t.Logf("negative control: %d lost records in %d trials", controlLost, controls)
	if controlLost == 0 {
		t.Error("the negative control lost nothing: the harness cannot detect losses")
	}
}
