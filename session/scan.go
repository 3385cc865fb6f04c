package session

import "bytes"

// markerScanner finds one marker in a stream delivered in chunks of any size;
// a marker split across chunks is still found.
type markerScanner struct {
	marker []byte
	held   []byte // a suffix of the input so far that may begin the marker
}

// scan consumes p. Bytes that are certainly not part of the marker are passed
// to emit in order. When the marker is found it returns true and the bytes
// that follow it (which the scanner has not consumed).
func (s *markerScanner) scan(p []byte, emit func([]byte)) (found bool, rest []byte) {
	if len(s.held) > 0 {
		p = append(s.held, p...)
		s.held = nil
	}
	if i := bytes.Index(p, s.marker); i >= 0 {
		emit(p[:i])
		return true, p[i+len(s.marker):]
	}
	k := partialSuffix(p, s.marker)
	emit(p[:len(p)-k])
	if k > 0 {
		s.held = append([]byte(nil), p[len(p)-k:]...)
	}
	return false, nil
}

// flush returns bytes held back at the end of the stream.
func (s *markerScanner) flush(emit func([]byte)) {
	if len(s.held) > 0 {
		emit(s.held)
		s.held = nil
	}
}

// partialSuffix returns the length of the longest suffix of p that is a
// proper prefix of m.
func partialSuffix(p, m []byte) int {
	from := len(p) - len(m) + 1
	if from < 0 {
		from = 0
	}
	for j := from; j < len(p); j++ {
		if p[j] == m[0] && bytes.HasPrefix(m, p[j:]) {
			return len(p) - j
		}
	}
	return 0
}
