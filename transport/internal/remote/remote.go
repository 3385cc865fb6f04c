// Package remote is the side channel of transports whose shell runs on
// another machine or in a container: a small POSIX sh loop on the target,
// started next to the shell, that reports the newest process id, reads the
// process table and sends signals. It is how a command is interrupted
// without writing to the shell, which is busy running it.
//
// The target must be Linux (the loop reads /proc).
package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/internal/proctab"
)

// Script is the helper loop, to be run as `sh -c Script`. Requests are one
// line each; every answer ends with the line "@@ek@@".
//
//	m               the newest process id (last field of /proc/loadavg)
//	t               uptime, pid_max, then every /proc/<pid>/stat line
//	k SIG PID...    send SIG to each PID; answer how many were signalled
const Script = `while IFS= read -r line; do
set -- $line
case $1 in
m) read -r a b c d p </proc/loadavg; printf '%s\n@@ek@@\n' "$p"; continue;;
t) cat /proc/uptime /proc/sys/kernel/pid_max && cat /proc/[0-9]*/stat 2>/dev/null;;
k) s=$2; shift 2; n=0; for p in "$@"; do kill -s "$s" "$p" 2>/dev/null && n=$((n+1)); done; echo "$n";;
*) echo "?";;
esac
echo "@@ek@@"
done`

const endLine = "@@ek@@"

// Helper talks to one running helper loop. Requests are written in order
// and answered in order, so several may be in flight: a request is on its
// way to the target once send returns, before its answer is read. Its
// methods are safe for concurrent use.
type Helper struct {
	wmu     sync.Mutex // held while writing a request and queueing its waiter
	w       io.Writer
	r       *bufio.Reader
	close   func()
	waiters chan *call

	mu     sync.Mutex
	broken error
	gone   chan struct{} // closed when the helper is broken
}

// call is one request in flight.
type call struct {
	done chan struct{}
	b    []byte
	err  error
}

// New wraps a started helper loop: w is its standard input, r its standard
// output, and closeFn ends it.
func New(w io.Writer, r io.Reader, closeFn func()) *Helper {
	h := &Helper{w: w, r: bufio.NewReaderSize(r, 64<<10), close: closeFn,
		waiters: make(chan *call, 1024), gone: make(chan struct{})}
	go h.readAnswers()
	return h
}

// requestTimeout bounds one answer; a helper that does not answer in time
// is treated as gone.
const requestTimeout = 15 * time.Second

// ErrBroken means the helper loop stopped answering.
var ErrBroken = errors.New("remote: helper loop not answering")

// fail marks the helper broken for good and ends it.
func (h *Helper) fail(err error) {
	h.mu.Lock()
	if h.broken != nil {
		h.mu.Unlock()
		return
	}
	h.broken = err
	close(h.gone)
	h.mu.Unlock()
	if h.close != nil {
		go h.close()
	}
}

func (h *Helper) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.broken
}

// readAnswers hands each answer to the oldest request waiting.
func (h *Helper) readAnswers() {
	var buf bytes.Buffer
	for {
		line, err := h.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			buf.Write(line)
			continue
		}
		if err != nil {
			h.fail(fmt.Errorf("%w: %w", ErrBroken, err))
			break
		}
		if string(line) != endLine+"\n" {
			buf.Write(line)
			continue
		}
		select {
		case c := <-h.waiters:
			c.b = append([]byte(nil), buf.Bytes()...)
			close(c.done)
		default:
			h.fail(fmt.Errorf("%w: an answer nobody asked for", ErrBroken))
		}
		buf.Reset()
	}
	// Whoever still waits learns that no answer comes.
	err := h.err()
	for {
		select {
		case c := <-h.waiters:
			c.err = err
			close(c.done)
		default:
			return
		}
	}
}

// send writes one request; its answer arrives on the returned call.
func (h *Helper) send(req string) *call {
	c := &call{done: make(chan struct{})}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if err := h.err(); err != nil {
		c.err = err
		close(c.done)
		return c
	}
	h.waiters <- c
	if _, err := io.WriteString(h.w, req+"\n"); err != nil {
		h.fail(fmt.Errorf("%w: %w", ErrBroken, err))
	}
	return c
}

// wait waits for a call's answer.
func (h *Helper) wait(ctx context.Context, c *call) ([]byte, error) {
	t := time.NewTimer(requestTimeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.b, c.err
	case <-ctx.Done():
		// The answer is still owed; the stream is out of step for good.
		h.fail(fmt.Errorf("%w: %w", ErrBroken, ctx.Err()))
	case <-t.C:
		h.fail(fmt.Errorf("%w within %s", ErrBroken, requestTimeout))
	}
	return nil, h.err()
}

// ask sends one request and waits for its answer.
func (h *Helper) ask(ctx context.Context, req string) ([]byte, error) {
	return h.wait(ctx, h.send(req))
}

// PendingPID is a request for the newest process id that is on its way.
type PendingPID struct {
	h *Helper
	c *call
}

// MarkPID asks for the newest process id on the target without waiting:
// when it returns, the request has been written, ahead of anything the
// caller writes to the target afterwards.
func (h *Helper) MarkPID() PendingPID { return PendingPID{h, h.send("m")} }

// Wait returns the answer.
func (p PendingPID) Wait(ctx context.Context) (int, error) {
	b, err := p.h.wait(ctx, p.c)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("remote: newest process id: %q", b)
	}
	return pid, nil
}

// LastPID returns the newest process id on the target.
func (h *Helper) LastPID(ctx context.Context) (int, error) {
	return h.MarkPID().Wait(ctx)
}

// Jobs returns the processes of the shell with the given pid (on the
// target) started after since; see proctab.Jobs.
func (h *Helper) Jobs(ctx context.Context, shell int, since transport.JobMark) ([]int, error) {
	sent := time.Now()
	b, err := h.ask(ctx, "t")
	if err != nil {
		return nil, err
	}
	// The target read its clock somewhere between sent and now: that much,
	// plus a second, is how far off the mark may be placed on it; within
	// it, process ids decide.
	slack := uint64(time.Since(sent)/(time.Second/proctab.ClockTicks)) + proctab.ClockTicks
	up, rest, _ := bytes.Cut(b, []byte("\n"))
	max, rest, _ := bytes.Cut(rest, []byte("\n"))
	secs, _, _ := strings.Cut(string(up), " ")
	f, err := strconv.ParseFloat(secs, 64)
	if err != nil {
		return nil, fmt.Errorf("remote: uptime: %q", up)
	}
	pidMax, _ := strconv.Atoi(strings.TrimSpace(string(max)))
	return proctab.Jobs(proctab.ParseLines(rest), shell, since, uint64(f*proctab.ClockTicks), slack, pidMax), nil
}

// Kill sends sig to pids and returns how many were signalled.
func (h *Helper) Kill(ctx context.Context, sig transport.Signal, pids []int) (int, error) {
	if !knownSignal(sig) {
		return 0, fmt.Errorf("remote: unknown signal %q", sig)
	}
	if len(pids) == 0 {
		return 0, nil
	}
	var req strings.Builder
	req.WriteString("k " + string(sig))
	for _, p := range pids {
		req.WriteString(" " + strconv.Itoa(p))
	}
	b, err := h.ask(ctx, req.String())
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// SignalJobs sends sig to the shell's jobs started after since.
func (h *Helper) SignalJobs(ctx context.Context, shell int, sig transport.Signal, since transport.JobMark) (int, error) {
	if !knownSignal(sig) {
		return 0, fmt.Errorf("remote: unknown signal %q", sig)
	}
	pids, err := h.Jobs(ctx, shell, since)
	if err != nil {
		return 0, err
	}
	return h.Kill(ctx, sig, pids)
}

// KillTree kills every process of the shell's tree and then the shell, in
// a bounded number of passes (a process may fork while it is killed).
func (h *Helper) KillTree(ctx context.Context, shell int) error {
	for pass := 0; pass < 20; pass++ {
		pids, err := h.Jobs(ctx, shell, transport.JobMark{})
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		if _, err := h.Kill(ctx, transport.SIGKILL, pids); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, err := h.Kill(ctx, transport.SIGKILL, []int{shell})
	return err
}

func knownSignal(sig transport.Signal) bool {
	switch sig {
	case transport.SIGINT, transport.SIGTERM, transport.SIGKILL, transport.SIGHUP, transport.SIGUSR2:
		return true
	}
	return false
}

// Close ends the helper loop.
func (h *Helper) Close() {
	h.fail(fmt.Errorf("%w: closed", ErrBroken))
}
