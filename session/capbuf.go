package session

// capBuffer keeps at most max bytes of a stream: the first half and the last
// half, counting what it drops in between. It never grows past max, however
// much is written.
type capBuffer struct {
	headMax int
	head    []byte
	ring    []byte // the tail, as a ring once full
	ringMax int
	pos     int // next write position in ring when full
	full    bool
	total   int64
	tap     func([]byte) // sees every byte written, before the cap
}

func newCapBuffer(max int) *capBuffer {
	h := max / 2
	return &capBuffer{headMax: h, ringMax: max - h}
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if b.tap != nil && len(p) > 0 {
		b.tap(p)
	}
	n0 := len(p)
	b.total += int64(len(p))
	if n := b.headMax - len(b.head); n > 0 {
		if n > len(p) {
			n = len(p)
		}
		b.head = append(b.head, p[:n]...)
		p = p[n:]
	}
	if len(p) == 0 || b.ringMax == 0 {
		return n0, nil
	}
	if len(p) >= b.ringMax {
		b.ring = append(b.ring[:0], p[len(p)-b.ringMax:]...)
		b.pos, b.full = 0, true
		return n0, nil
	}
	if !b.full {
		if room := b.ringMax - len(b.ring); len(p) <= room {
			b.ring = append(b.ring, p...)
			return n0, nil
		} else {
			b.ring = append(b.ring, p[:room]...)
			p = p[room:]
			b.full, b.pos = true, 0
		}
	}
	for len(p) > 0 {
		n := copy(b.ring[b.pos:], p)
		p = p[n:]
		b.pos = (b.pos + n) % b.ringMax
	}
	return n0, nil
}

// Bytes returns the kept bytes: head then tail.
func (b *capBuffer) Bytes() []byte {
	out := make([]byte, 0, len(b.head)+len(b.ring))
	out = append(out, b.head...)
	if b.full {
		out = append(out, b.ring[b.pos:]...)
		return append(out, b.ring[:b.pos]...)
	}
	return append(out, b.ring...)
}

// Info reports totals for the result.
func (b *capBuffer) Info() StreamInfo {
	kept := int64(len(b.head) + len(b.ring))
	si := StreamInfo{Bytes: b.total, Kept: kept, Dropped: b.total - kept}
	if si.Dropped > 0 {
		si.DroppedAt = int64(len(b.head))
	}
	return si
}
