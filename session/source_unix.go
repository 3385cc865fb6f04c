//go:build !windows

package session

import (
	"errors"
	"io"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// newPollSource is a pollSource of the two streams, when both are file
// descriptors that can be made non-blocking.
func newPollSource(stdout, stderr io.Reader) (outputSource, bool) {
	o, ok1 := rawFD(stdout)
	e, ok2 := rawFD(stderr)
	if ok1 && ok2 && unix.SetNonblock(o, true) == nil && unix.SetNonblock(e, true) == nil {
		return &pollSource{fds: [2]int{o, e}, buf: make([]byte, pumpBufSize), keep: [2]io.Reader{stdout, stderr}}, true
	}
	return nil, false
}

func rawFD(r io.Reader) (int, bool) {
	sc, ok := r.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil || fd < 0 {
		return 0, false
	}
	return fd, true
}

// pollSource waits on both descriptors with poll(2) from the calling
// goroutine: one wake-up per arrival, no hand-off between goroutines.
type pollSource struct {
	fds     [2]int
	keep    [2]io.Reader // the files owning the descriptors stay reachable
	buf     []byte
	ended   [2]bool // end-of-file reported
	pending [2]bool // end-of-file seen by discard, not yet reported
	turn    int
}

func (p *pollSource) next(d time.Duration) (int, []byte, bool, bool) {
	for i := range p.pending {
		if p.pending[i] && !p.ended[i] {
			p.ended[i] = true
			return i, nil, true, true
		}
	}
	deadline := time.Now().Add(d)
	for {
		var pfds [2]unix.PollFd
		var which [2]int
		n := 0
		for i := range p.fds {
			if !p.ended[i] {
				pfds[n] = unix.PollFd{Fd: int32(p.fds[i]), Events: unix.POLLIN}
				which[n] = i
				n++
			}
		}
		left := time.Until(deadline)
		if n == 0 {
			time.Sleep(left)
			return 0, nil, false, false
		}
		ms := int((left + time.Millisecond - 1) / time.Millisecond)
		if ms < 0 {
			ms = 0
		}
		k, err := unix.Poll(pfds[:n], ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || k == 0 {
			if time.Now().Before(deadline) && err == nil {
				continue // woke early
			}
			return 0, nil, false, false
		}
		for j := 0; j < n; j++ {
			jj := (j + p.turn) % n
			if pfds[jj].Revents == 0 {
				continue
			}
			i := which[jj]
			p.turn++
			m, err := unix.Read(p.fds[i], p.buf)
			if m > 0 {
				return i, p.buf[:m], false, true
			}
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			// 0 bytes, or EIO from a terminal whose last writer is gone.
			p.ended[i] = true
			return i, nil, true, true
		}
	}
}

func (p *pollSource) discard() {
	for i := range p.fds {
		for !p.ended[i] && !p.pending[i] {
			m, err := unix.Read(p.fds[i], p.buf)
			if m > 0 {
				continue
			}
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				p.pending[i] = true
			}
			break
		}
	}
}

func (p *pollSource) stop() {}
