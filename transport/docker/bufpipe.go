package docker

import (
	"io"
	"sync"
)

// bufPipe is an in-memory pipe with a buffer: writes return once their
// bytes are buffered, and block only while the buffer holds more than its
// limit. The two streams of an exec share one connection, so a stream
// nobody reads yet (stdout, while Start waits for the start line on
// stderr) must not stop the other: its bytes wait here.
type bufPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	off    int
	limit  int
	err    error // set by CloseWithError: what reads return once drained
	closed bool  // the reader is gone: writes fail
}

func newBufPipe(limit int) *bufPipe {
	p := &bufPipe{limit: limit}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// setLimit changes how much may wait in the buffer.
func (p *bufPipe) setLimit(n int) {
	p.mu.Lock()
	p.limit = n
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *bufPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && p.err == nil && len(p.buf)-p.off > p.limit {
		p.cond.Wait()
	}
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	if p.err != nil {
		return 0, p.err
	}
	if p.off > 0 && p.off >= len(p.buf)/2 {
		// Move the unread bytes to the front, so that a stream that is
		// read as fast as it is written reuses one buffer.
		n := copy(p.buf, p.buf[p.off:])
		p.buf, p.off = p.buf[:n], 0
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *bufPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.off == len(p.buf) && p.err == nil && !p.closed {
		p.cond.Wait()
	}
	if p.off == len(p.buf) {
		if p.closed {
			return 0, io.ErrClosedPipe
		}
		return 0, p.err
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	if p.off == len(p.buf) {
		p.buf, p.off = p.buf[:0], 0
		if cap(p.buf) > 4<<20 {
			p.buf = nil // do not keep a flood's worth of memory
		}
	}
	p.cond.Broadcast()
	return n, nil
}

// CloseWithError ends the writing side: reads return err after the
// buffered bytes.
func (p *bufPipe) CloseWithError(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// Close ends the reading side: pending and later writes fail.
func (p *bufPipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.buf, p.off = nil, 0
	p.mu.Unlock()
	p.cond.Broadcast()
	return nil
}
