package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/execkit/execkit/internal/capture"
	"github.com/execkit/execkit/journal"
	"github.com/execkit/execkit/safety"
	"github.com/execkit/execkit/undo"
)

// observedSession is the journal session the shell commands execkit
// record sees an agent start by itself are recorded under.
const observedSession = "observed"

// maxObserved is how much of each stream of an observed command is kept
// (the first half and the last half); the rest is counted.
const maxObserved = 1 << 20

// recorder journals the shell commands capture reports.
type recorder struct {
	j      *journal.Journal
	policy *safety.Policy
	red    *safety.Redactor
	// store, when set, is the local workspace's checkpoint store: a
	// checkpoint is taken before each command that may change files, and
	// ws is the workspace as the session records it.
	store undo.Store
	ws    journal.SessionSpec
	once  sync.Once
	err   error

	// Completions are committed together, completionWait after the first
	// of them: a command's intent (which the agent waits for) then seldom
	// waits behind a completion's fsync, as it did when each completion
	// was committed as its command ended, just as the agent started the
	// next one.
	pmu      sync.Mutex
	pending  []func()
	ptimer   *time.Timer
	inflight sync.WaitGroup
}

// completionWait is how long a completion waits to be committed.
const completionWait = 20 * time.Millisecond

// later queues a completion.
func (rc *recorder) later(f func()) {
	rc.pmu.Lock()
	defer rc.pmu.Unlock()
	rc.pending = append(rc.pending, f)
	if rc.ptimer == nil {
		rc.ptimer = time.AfterFunc(completionWait, func() { rc.flush(false) })
	}
}

// flush writes the queued completions; with wait, it returns once they
// are committed.
func (rc *recorder) flush(wait bool) {
	rc.pmu.Lock()
	fs := rc.pending
	rc.pending = nil
	if rc.ptimer != nil {
		rc.ptimer.Stop()
		rc.ptimer = nil
	}
	for _, f := range fs {
		rc.inflight.Add(1)
		go func() { defer rc.inflight.Done(); f() }()
	}
	rc.pmu.Unlock()
	if wait {
		rc.inflight.Wait()
	}
}

// session adds the observed session to the journal once.
func (rc *recorder) session() error {
	rc.once.Do(func() {
		host, _ := os.Hostname()
		sp := journal.SessionSpec{Version: journal.SpecVersion, Endpoint: journal.Endpoint{Transport: "local"}, Policy: rc.policy}
		if rc.store != nil {
			sp.Workspace, sp.CheckpointDir, sp.Exclude, sp.CheckpointMode = rc.ws.Workspace, rc.ws.CheckpointDir, rc.ws.Exclude, rc.ws.CheckpointMode
		}
		rc.err = rc.j.AddSession(journal.Session{ID: observedSession, Transport: "local", Target: host, Spec: sp})
	})
	return rc.err
}

// observedCmd is the recorder's state of one observed command.
type observedCmd struct {
	seq  uint64
	mu   sync.Mutex
	out  map[string]*keptStream
	done bool
}

// begin journals a command's intent (and takes the checkpoint before it)
// and says whether it may run.
func (rc *recorder) begin(c *capture.Cmd) error {
	d := rc.policy.Check(c.Text)
	argv := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		argv[i] = rc.red.RedactCommand(a)
	}
	if err := rc.session(); err != nil {
		return fmt.Errorf("the journal cannot record it: %w", err)
	}
	in := journal.Intent{Session: observedSession, Kind: "observed", Command: rc.red.RedactCommand(c.Text), CwdBefore: c.Cwd,
		Argv: argv, PID: c.PID, ParentPID: c.PPID,
		Decision: journal.Decision{Allowed: d.Allowed, Rule: d.Rule, Reason: d.Reason}}
	seq, err := rc.j.Intent(in)
	if err != nil {
		// Nothing runs that the journal cannot record.
		return fmt.Errorf("the journal cannot record it: %w", err)
	}
	if !d.Allowed {
		return fmt.Errorf("%s (%s)", d.Reason, d.Rule)
	}
	if rc.store != nil && !safety.ReadOnly(c.Text) {
		// As for a session's command: no checkpoint, no run.
		cp, err := rc.store.Checkpoint(context.Background(), "before: "+in.Command)
		if err == nil {
			err = rc.j.Checkpointed(seq, cp.ID)
		}
		if err != nil {
			reason := "the workspace checkpoint failed, so the command did not run: " + err.Error()
			rc.j.Complete(seq, journal.Completion{Status: journal.StatusBlocked, ExitCode: 126, Cwd: c.Cwd, Stderr: "[execkit: " + reason + "]"})
			return errors.New(reason)
		}
	}
	c.Token = &observedCmd{seq: seq, out: map[string]*keptStream{"stdout": {}, "stderr": {}}}
	return nil
}

// output keeps what a command wrote, until its completion is journaled.
func (rc *recorder) output(c *capture.Cmd, stream string, p []byte) {
	ob, _ := c.Token.(*observedCmd)
	if ob == nil {
		return
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if k := ob.out[stream]; k != nil && !ob.done {
		k.write(p)
	}
}

// end journals a command's completion.
func (rc *recorder) end(c *capture.Cmd) {
	ob, _ := c.Token.(*observedCmd)
	if ob == nil {
		return
	}
	ob.mu.Lock()
	ob.done = true
	ob.mu.Unlock()
	comp := journal.Completion{Status: journal.StatusInterrupted, ExitCode: -1, Cwd: c.Cwd, DurationMS: float64(c.Duration.Microseconds()) / 1000}
	if c.Known {
		comp.ExitCode, comp.Status = c.Exit, journal.StatusOK
		if c.Exit != 0 {
			comp.Status = journal.StatusFailed
		}
	}
	comp.Stdout = rc.red.Redact(safety.Sanitize(ob.out["stdout"].text()))
	comp.Stderr = rc.red.Redact(safety.Sanitize(ob.out["stderr"].text()))
	comp.Stdout_, comp.Stderr_ = ob.out["stdout"].info(), ob.out["stderr"].info()
	rc.later(func() { rc.j.Complete(ob.seq, comp) })
}

// keptStream keeps the first and last halves of maxObserved bytes.
type keptStream struct {
	head, tail []byte
	total      int64
}

func (k *keptStream) write(p []byte) {
	k.total += int64(len(p))
	if room := maxObserved/2 - len(k.head); room > 0 {
		n := min(room, len(p))
		k.head = append(k.head, p[:n]...)
		p = p[n:]
	}
	k.tail = append(k.tail, p...)
	if len(k.tail) > maxObserved/2 {
		k.tail = append(k.tail[:0:0], k.tail[len(k.tail)-maxObserved/2:]...)
	}
}

func (k *keptStream) text() string { return string(k.head) + string(k.tail) }

func (k *keptStream) info() journal.StreamInfo {
	kept := int64(len(k.head) + len(k.tail))
	info := journal.StreamInfo{Bytes: k.total, Kept: kept, Dropped: k.total - kept}
	if info.Dropped > 0 {
		info.DroppedAt = int64(len(k.head))
	}
	return info
}

// startCapture returns the agent's command under capture, a function to
// call once it has started, and one that stops the capture once it has
// ended; or why capture cannot run (the agent then runs without it, and
// record says so).
func startCapture(ac agentCapture, agent []string, notes io.Writer) (*exec.Cmd, func(pid int), func(), error) {
	if err := capture.Supported(); err != nil {
		return nil, nil, nil, err
	}
	cmd, sock, err := capture.Command(capture.Config{Agent: agent})
	if err != nil {
		return nil, nil, nil, err
	}
	rc := &recorder{j: ac.j, policy: ac.policy, store: ac.store, ws: ac.ws,
		red: safety.NewRedactor(append(append([]safety.Secret(nil), ac.secrets...), safety.SecretEnv(os.Environ())...))}
	hooks := capture.Hooks{Begin: rc.begin, Output: rc.output, End: rc.end,
		Note: func(msg string) { fmt.Fprintf(notes, "execkit: %s\n", msg) }}
	stopc := make(chan struct{})
	done := make(chan struct{})
	var began bool
	started := func(pid int) {
		began = true
		// The helper's end of the socket is the agent's now.
		cmd.ExtraFiles[0].Close()
		go func() {
			defer close(done)
			l, err := capture.Receive(sock)
			if err != nil {
				fmt.Fprintf(notes, "execkit: the shell commands the agent starts by itself are not recorded: %v\n", err)
				return
			}
			defer l.Close()
			fmt.Fprintln(notes, "execkit: recording the shell commands the agent starts (every start of a shell its processes make)")
			if err := capture.Observe(l, pid, hooks, stopc); err != nil {
				fmt.Fprintf(notes, "execkit: recording the agent's shell commands stopped: %v\n", err)
			}
		}()
	}
	stop := func() {
		close(stopc)
		if !began {
			sock.Close()
			cmd.ExtraFiles[0].Close()
			return
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		rc.flush(true)
	}
	return cmd, started, stop, nil
}
