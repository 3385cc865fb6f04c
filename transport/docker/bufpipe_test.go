package docker

import (
	"io"
	"testing"
)

// TestBufPipeBounded: a stream read while it is written, never drained to
// the last byte, keeps its buffer near the limit.
func TestBufPipeBounded(t *testing.T) {
	p := newBufPipe(1 << 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := make([]byte, 32<<10)
		for i := 0; i < 4096; i++ { // 128 MiB
			if _, err := p.Write(chunk); err != nil {
				t.Error(err)
				return
			}
		}
		p.CloseWithError(io.EOF)
	}()
	buf := make([]byte, 20<<10) // reads smaller than writes: never empty
	var total int64
	maxCap := 0
	for {
		n, err := p.Read(buf)
		total += int64(n)
		p.mu.Lock()
		if c := cap(p.buf); c > maxCap {
			maxCap = c
		}
		p.mu.Unlock()
		if err != nil {
			break
		}
	}
	<-done
	if total != 128<<20 {
		t.Errorf("read %d bytes, want %d", total, 128<<20)
	}
	if maxCap > 4<<20 {
		t.Errorf("buffer grew to %d bytes with a 1 MiB limit", maxCap)
	}
}
