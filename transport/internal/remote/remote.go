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
m) read -r a b c d p </proc/loadavg && echo "$p";;
t) cat /proc/uptime /proc/sys/kernel/pid_max && cat /proc/[0-9]*/stat 2>/dev/null;;
k) s=$2; shift 2; n=0; for p in "$@"; do kill -s "$s" "$p" 2>/dev/null && n=$((n+1)); done; echo "$n";;
*) echo "?";;
esac
echo "@@ek@@"
done`

const endLine = "@@ek@@"

// Helper talks to one running helper loop. Its methods are safe for
// concurrent use; requests are answered one at a time.
type Helper struct {
	mu     sync.Mutex
	w      io.Writer
	r      *bufio.Reader
	close  func()
	broken error
}

// New wraps a started helper loop: w is its standard input, r its standard
// output, and closeFn ends it.
func New(w io.Writer, r io.Reader, closeFn func()) *Helper {
	return &Helper{w: w, r: bufio.NewReaderSize(r, 64<<10), close: closeFn}
}

// requestTimeout bounds one answer; a helper that does not answer in time
// is treated as gone.
const requestTimeout = 15 * time.Second

// ErrBroken means the helper loop stopped answering.
var ErrBroken = errors.New("remote: helper loop not answering")

// ask sends one request and returns the answer's lines before the end line.
func (h *Helper) ask(ctx context.Context, req string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.broken != nil {
		return nil, h.broken
	}
	type answer struct {
		b   []byte
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		if _, err := io.WriteString(h.w, req+"\n"); err != nil {
			ch <- answer{err: err}
			return
		}
		var buf bytes.Buffer
		for {
			line, err := h.r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				buf.Write(line)
				continue
			}
			if err != nil {
				ch <- answer{err: err}
				return
			}
			if string(line) == endLine+"\n" {
				ch <- answer{b: buf.Bytes()}
				return
			}
			buf.Write(line)
		}
	}()
	t := time.NewTimer(requestTimeout)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.err != nil {
			h.broken = fmt.Errorf("%w: %v", ErrBroken, a.err)
			return nil, h.broken
		}
		return a.b, nil
	case <-ctx.Done():
		h.broken = fmt.Errorf("%w: %v", ErrBroken, ctx.Err())
	case <-t.C:
		h.broken = fmt.Errorf("%w within %s", ErrBroken, requestTimeout)
	}
	// The answer is still owed; the stream is out of step for good.
	if h.close != nil {
		go h.close()
	}
	return nil, h.broken
}

// LastPID returns the newest process id on the target.
func (h *Helper) LastPID(ctx context.Context) (int, error) {
	b, err := h.ask(ctx, "m")
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("remote: newest process id: %q", b)
	}
	return pid, nil
}

// Jobs returns the processes of the shell with the given pid (on the
// target) started after since; see proctab.Jobs.
func (h *Helper) Jobs(ctx context.Context, shell int, since transport.JobMark) ([]int, error) {
	b, err := h.ask(ctx, "t")
	if err != nil {
		return nil, err
	}
	up, rest, _ := bytes.Cut(b, []byte("\n"))
	max, rest, _ := bytes.Cut(rest, []byte("\n"))
	secs, _, _ := strings.Cut(string(up), " ")
	f, err := strconv.ParseFloat(secs, 64)
	if err != nil {
		return nil, fmt.Errorf("remote: uptime: %q", up)
	}
	pidMax, _ := strconv.Atoi(strings.TrimSpace(string(max)))
	return proctab.Jobs(proctab.ParseLines(rest), shell, since, uint64(f*proctab.ClockTicks), pidMax), nil
}

// Kill sends sig to pids and returns how many were signalled.
func (h *Helper) Kill(ctx context.Context, sig transport.Signal, pids []int) (int, error) {
	switch sig {
	case transport.SIGINT, transport.SIGTERM, transport.SIGKILL, transport.SIGHUP:
	default:
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
	if _, err := h.Kill(ctx, sig, nil); err != nil {
		return 0, err
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

// Close ends the helper loop.
func (h *Helper) Close() {
	h.mu.Lock()
	if h.broken == nil {
		h.broken = fmt.Errorf("%w: closed", ErrBroken)
	}
	h.mu.Unlock()
	if h.close != nil {
		h.close()
	}
}
