package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
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

// recorder journals the commands the capture shims report.
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

// serve answers one shim: the verdict, after the intent is journaled, then
// the output and the end, journaled as the completion.
func (rc *recorder) serve(conn net.Conn) {
	defer conn.Close()
	rd := bufio.NewReader(conn)
	var start capture.Message
	line, err := rd.ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &start) != nil || start.Type != "start" {
		return
	}
	reply := func(m capture.Message) { b, _ := json.Marshal(m); conn.Write(append(b, '\n')) }
	_, cmd := capture.Parse(start.Argv)
	d := rc.policy.Check(cmd)
	argv := make([]string, len(start.Argv))
	for i, a := range start.Argv {
		argv[i] = rc.red.RedactCommand(a)
	}
	if err := rc.session(); err != nil {
		reply(capture.Message{Type: "verdict", Reason: "the journal cannot record it: " + err.Error()})
		return
	}
	in := journal.Intent{Session: observedSession, Kind: "observed", Command: rc.red.RedactCommand(cmd), CwdBefore: start.Cwd,
		Argv: argv, PID: start.PID, ParentPID: start.PPID,
		Decision: journal.Decision{Allowed: d.Allowed, Rule: d.Rule, Reason: d.Reason}}
	seq, err := rc.j.Intent(in)
	if err != nil {
		// Nothing runs that the journal cannot record.
		reply(capture.Message{Type: "verdict", Reason: "the journal cannot record it: " + err.Error()})
		return
	}
	if !d.Allowed {
		reply(capture.Message{Type: "verdict", Reason: d.Reason + " (" + d.Rule + ")"})
		return
	}
	if rc.store != nil && !safety.ReadOnly(cmd) {
		// As for a session's command: no checkpoint, no run.
		cp, err := rc.store.Checkpoint(context.Background(), "before: "+in.Command)
		if err == nil {
			err = rc.j.Checkpointed(seq, cp.ID)
		}
		if err != nil {
			reason := "the workspace checkpoint failed, so the command did not run: " + err.Error()
			rc.j.Complete(seq, journal.Completion{Status: journal.StatusBlocked, ExitCode: 126, Cwd: start.Cwd, Stderr: "[execkit: " + reason + "]"})
			reply(capture.Message{Type: "verdict", Reason: reason})
			return
		}
	}
	reply(capture.Message{Type: "verdict", Allow: true})
	out := map[string]*keptStream{"stdout": {}, "stderr": {}}
	c := journal.Completion{Status: journal.StatusInterrupted, ExitCode: -1, Cwd: start.Cwd}
	for {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			break
		}
		var m capture.Message
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		if m.Type == "out" {
			if k := out[m.Stream]; k != nil {
				k.write(m.Data)
			}
			continue
		}
		if m.Type == "end" {
			c.ExitCode, c.DurationMS = m.Exit, float64(m.MS)
			c.Status = journal.StatusOK
			if m.Exit != 0 {
				c.Status = journal.StatusFailed
			}
			break
		}
	}
	c.Stdout = rc.red.Redact(safety.Sanitize(out["stdout"].text()))
	c.Stderr = rc.red.Redact(safety.Sanitize(out["stderr"].text()))
	c.Stdout_, c.Stderr_ = out["stdout"].info(), out["stderr"].info()
	rc.j.Complete(seq, c)
	reply(capture.Message{Type: "verdict", Allow: true}) // the completion is recorded
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

// startCapture listens for shims in dir and returns the agent's command
// under capture, or why capture cannot run (the agent then runs without
// it, and record says so).
func startCapture(dir string, ac agentCapture, agent []string, notes io.Writer) (*exec.Cmd, func(), error) {
	if err := capture.Supported(); err != nil {
		return nil, nil, err
	}
	sock := dir + "/capture"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, nil, err
	}
	os.Chmod(sock, 0o600)
	rc := &recorder{j: ac.j, policy: ac.policy, store: ac.store, ws: ac.ws,
		red: safety.NewRedactor(append(append([]safety.Secret(nil), ac.secrets...), safety.SecretEnv(os.Environ())...))}
	var wg sync.WaitGroup
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); rc.serve(conn) }()
		}
	}()
	shells := capture.Shells()
	shim, small := capture.FindShim()
	cmd, err := capture.Command(capture.Config{Dir: dir, Shells: shells, Socket: sock, Shim: shim, Agent: agent})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	fmt.Fprintf(notes, "execkit: recording the shell commands the agent starts (%s)\n", strings.Join(shells, ", "))
	if !small {
		fmt.Fprintf(notes, "execkit: %s is not installed next to execkit, so execkit itself stands in for the shells (each shell start costs it; `make build` or `go install ./cmd/...` installs both)\n", capture.ShimBinary)
	}
	stop := func() {
		ln.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
	return cmd, stop, nil
}
