package session

import (
	"errors"
	"io"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// outputSource delivers what a shell writes on its two streams, stdout (0)
// and stderr (1).
type outputSource interface {
	// next waits at most d for output and returns the stream it came from
	// and its bytes, valid until the next call. eof reports, once per
	// stream, that the stream ended. ok is false when d passed with nothing.
	next(d time.Duration) (stream int, data []byte, eof, ok bool)
	// discard drops output that is already waiting.
	discard()
	// stop releases the source; the streams themselves belong to the process.
	stop()
}

// newSource polls the streams directly when both are file descriptors (the
// local transport), so that output wakes the waiting goroutine itself; other
// streams get a pump goroutine each.
func newSource(stdout, stderr io.Reader) outputSource {
	o, ok1 := rawFD(stdout)
	e, ok2 := rawFD(stderr)
	if ok1 && ok2 && unix.SetNonblock(o, true) == nil && unix.SetNonblock(e, true) == nil {
		return &pollSource{fds: [2]int{o, e}, buf: make([]byte, pumpBufSize), keep: [2]io.Reader{stdout, stderr}}
	}
	return &pumpSource{p: [2]*pump{newPump(stdout), newPump(stderr)}}
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

// pumpSource reads each stream from a goroutine into a small, fixed set of
// buffers, for streams that are not file descriptors (SSH channels, Docker
// attach streams).
type pumpSource struct {
	p     [2]*pump
	last  chunk
	lastI int
}

func (s *pumpSource) next(d time.Duration) (int, []byte, bool, bool) {
	s.p[s.lastI].release(s.last)
	s.last = chunk{}
	t := time.NewTimer(d)
	defer t.Stop()
	var i int
	var c chunk
	select {
	case c = <-s.p[0].data:
		i = 0
	case c = <-s.p[1].data:
		i = 1
	case <-t.C:
		return 0, nil, false, false
	}
	if c.err != nil {
		return i, nil, true, true
	}
	s.last, s.lastI = c, i
	return i, c.b, false, true
}

func (s *pumpSource) discard() {
	s.p[s.lastI].release(s.last)
	s.last = chunk{}
	for _, p := range s.p {
	drain:
		for {
			select {
			case c := <-p.data:
				if c.err != nil {
					p.requeue(c)
					break drain
				}
				p.release(c)
			default:
				break drain
			}
		}
	}
}

func (s *pumpSource) stop() {
	for _, p := range s.p {
		p.stopPump()
	}
}

// pump reads one stream continuously into a small, fixed set of buffers, so
// that a flood costs bounded memory and never blocks the writer for long.
type pump struct {
	data    chan chunk
	free    chan []byte
	stop    chan struct{}
	stopped bool
}

type chunk struct {
	b   []byte
	buf []byte
	err error
}

const (
	pumpBuffers = 4
	pumpBufSize = 64 << 10
)

func newPump(r io.Reader) *pump {
	p := &pump{data: make(chan chunk, pumpBuffers), free: make(chan []byte, pumpBuffers), stop: make(chan struct{})}
	for i := 0; i < pumpBuffers; i++ {
		p.free <- nil // allocated on first use
	}
	go p.loop(r)
	return p
}

func (p *pump) loop(r io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-p.free:
		case <-p.stop:
			return
		}
		if buf == nil {
			buf = make([]byte, pumpBufSize)
		}
		n, err := r.Read(buf)
		if n > 0 {
			select {
			case p.data <- chunk{b: buf[:n], buf: buf}:
			case <-p.stop:
				return
			}
		} else {
			p.free <- buf
		}
		if err != nil {
			select {
			case p.data <- chunk{err: err}:
			case <-p.stop:
			}
			return
		}
	}
}

func (p *pump) release(c chunk) {
	if c.buf != nil {
		p.free <- c.buf
	}
}

// requeue puts an end-of-stream chunk back so that the next reader sees it.
func (p *pump) requeue(c chunk) {
	select {
	case p.data <- c:
	default:
	}
}

func (p *pump) stopPump() {
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
}
