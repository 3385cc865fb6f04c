package session

import (
	"io"
	"time"
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
	if p, ok := newPollSource(stdout, stderr); ok {
		return p
	}
	return &pumpSource{p: [2]*pump{newPump(stdout), newPump(stderr)}}
}

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
