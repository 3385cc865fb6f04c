package session

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestMarkerScannerEverySplit(t *testing.T) {
	marker := []byte("\x1eEabc\x1e")
	input := []byte("body\x1eE\x1eEab\x1eEabc\x1eafter")
	wantBody := "body\x1eE\x1eEab"
	for cut := 0; cut <= len(input); cut++ {
		for cut2 := cut; cut2 <= len(input); cut2++ {
			s := markerScanner{marker: marker}
			var body bytes.Buffer
			var rest []byte
			found := false
			for _, part := range [][]byte{input[:cut], input[cut:cut2], input[cut2:]} {
				if found {
					rest = append(rest, part...)
					continue
				}
				var r []byte
				found, r = s.scan(part, func(b []byte) { body.Write(b) })
				rest = append(rest, r...)
			}
			if !found || body.String() != wantBody || string(rest) != "after" {
				t.Fatalf("cuts %d,%d: found %v body %q rest %q", cut, cut2, found, body.String(), rest)
			}
		}
	}
}

func TestMarkerScannerFlush(t *testing.T) {
	s := markerScanner{marker: []byte("\x1eEabc\x1e")}
	var body bytes.Buffer
	s.scan([]byte("tail\x1eEa"), func(b []byte) { body.Write(b) })
	s.flush(func(b []byte) { body.Write(b) })
	if body.String() != "tail\x1eEa" {
		t.Errorf("flush: %q", body.String())
	}
}

func TestCapBuffer(t *testing.T) {
	for _, max := range []int{1, 2, 7, 10, 64} {
		for _, total := range []int{0, 1, 5, 9, 10, 11, 100, 1000} {
			for _, chunk := range []int{1, 3, 7, 64} {
				src := make([]byte, total)
				for i := range src {
					src[i] = byte('a' + i%26)
				}
				b := newCapBuffer(max)
				for i := 0; i < total; i += chunk {
					b.Write(src[i:min(i+chunk, total)])
				}
				want := src
				if total > max {
					h := max / 2
					want = append(append([]byte(nil), src[:h]...), src[total-(max-h):]...)
				}
				info := b.Info()
				if got := b.Bytes(); !bytes.Equal(got, want) || info.Bytes != int64(total) || info.Kept != int64(len(want)) || info.Dropped != int64(total-len(want)) {
					t.Fatalf("max %d total %d chunk %d: got %q (%+v), want %q", max, total, chunk, got, info, want)
				}
			}
		}
	}
}

func TestParseExportList(t *testing.T) {
	bash := "declare -x A=\"plain\"\ndeclare -x B=\"with \\\"quotes\\\" \\$x \\`y\\` \\\\ back\"\n" +
		"declare -x C=$'a\\001b\\nc\\td\\'e\\x41\\u00e9'\ndeclare -x D\ndeclare -rx E=\"ro\"\n" +
		"declare -ax F=([0]=\"x\")\ndeclare -x G=\"multi\nline\"\n"
	got, err := parseExportList(bash)
	want := []string{"A=plain", "B=with \"quotes\" $x `y` \\ back", "C=a\x01b\nc\td'eAé", "E=ro", "G=multi\nline"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("bash: %q, %v\nwant %q", got, err, want)
	}
	dash := "export A='plain'\nexport B='it'\"'\"'s'\nexport C='it'\\''s'\nexport D\nexport E='multi\nline'\n"
	got, err = parseExportList(dash)
	want = []string{"A=plain", "B=it's", "C=it's", "E=multi\nline"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("dash: %q, %v", got, err)
	}
	for _, bad := range []string{"declare -x A=\"open", "export B='open", "bogus X=1", "declare -x C=$'open"} {
		if _, err := parseExportList(bad); err == nil {
			t.Errorf("parseExportList(%q) succeeded", bad)
		}
	}
}

func TestEscapePayload(t *testing.T) {
	for _, c := range []string{"plain", "back\\slash", "h\xc3\xa9llo", "\x01\x7f\xff", "tab\tnl\n"} {
		e := escapePayload(c)
		for i := 0; i < len(e); i++ {
			if e[i] >= 0x7f || e[i] < 0x20 && e[i] != '\n' && e[i] != '\t' {
				t.Errorf("escapePayload(%q) = %q keeps byte %#x", c, e, e[i])
			}
		}
	}
}

func TestEnvWatch(t *testing.T) {
	var w envWatch
	for cmd, want := range map[string]bool{
		"true": false, "ls -la": false, "git status": false, "cat foo.txt": false,
		"export A=1": true, "A=1": true, "unset A": true, ". ./env.sh": true, "source x": true,
		"eval $x": true, "set -a": true, "declare -x Y": true,
	} {
		if got := w.needsEnv(cmd); got != want {
			t.Errorf("needsEnv(%q) = %v, want %v", cmd, got, want)
		}
	}
	w.needsEnv("setup() { export Z=1; }")
	if !w.needsEnv("setup") || !w.needsEnv("x && setup") {
		t.Error("a call of a defined function must report the environment")
	}
}

func FuzzParseExportList(f *testing.F) {
	f.Add("declare -x A=\"x\"\n")
	f.Add("export B='y'\n")
	f.Add("declare -x C=$'\\x41\\u00e9'\n")
	f.Fuzz(func(t *testing.T, s string) {
		parseExportList(s) // must not panic or loop
	})
}

func FuzzMarkerScanner(f *testing.F) {
	f.Add([]byte("abc\x1eEn\x1edef"), 3)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if cut < 0 || cut > len(data) {
			return
		}
		m := []byte("\x1eEn\x1e")
		s := markerScanner{marker: m}
		var body bytes.Buffer
		found, rest := s.scan(data[:cut], func(b []byte) { body.Write(b) })
		if !found {
			found, rest = s.scan(data[cut:], func(b []byte) { body.Write(b) })
		} else {
			rest = append(rest, data[cut:]...)
		}
		if !found {
			s.flush(func(b []byte) { body.Write(b) })
		}
		i := bytes.Index(data, m)
		if (i >= 0) != found {
			t.Fatalf("found %v, index %d", found, i)
		}
		if found && (body.String() != string(data[:i]) || string(rest) != string(data[i+len(m):])) {
			t.Fatalf("body %q rest %q", body.String(), rest)
		}
		if !found && body.String() != string(data) {
			t.Fatalf("body %q, want all", body.String())
		}
	})
}

// TestFrameWaitsForLateNonce: a frame too big to be written at once tells
// the shell to wait for its nonce (it may arrive after the command ends),
// in its header, whether the frame loop goes first or not.
func TestFrameWaitsForLateNonce(t *testing.T) {
	nonce := newNonce()
	for _, n := range []int{0, 100, 3500, 3700, 3800, 4000, 4096, 5000, 100000} {
		cmds := []string{strings.Repeat("x", n), "trap - INT; " + strings.Repeat("y", n)}
		if n == 100000 {
			// The largest payload: every byte of the longest command escaped.
			cmds = append(cmds, strings.Repeat("\xff", MaxCommandBytes))
		}
		for _, cmd := range cmds {
			for _, inLoop := range []bool{false, true} {
				f := bashDialect.frame(nonce, cmd, true, true, true, inLoop)
				h := f
				if !inLoop {
					h = strings.TrimPrefix(f, frameLoop)
				}
				d := h[0] - '0'
				wait, traps := d&2 != 0, d&4 != 0
				if wait != (len(f) > smallFrame) || d&1 == 0 || d > 7 || traps != strings.HasPrefix(cmd, "trap") {
					t.Errorf("a %d-byte frame (loop first: %v) has the header %q", len(f), !inLoop, h[:frameHeader])
				}
				if want := strconv.Itoa(len(h) - frameHeader - len(nonce)); strings.TrimLeft(h[1:frameHeader], "0") != want {
					t.Errorf("header %q, payload of %s bytes", h[:frameHeader], want)
				}
			}
		}
	}
}

// TestFrameParserMark: the job mark a shell prints before its command is
// taken off the start of stderr however the bytes arrive, and a body
// without one is left whole.
func TestFrameParserMark(t *testing.T) {
	nonce := newNonce()
	input := "\x1eM12345.67 4242\x1eerr text\x1eE" + nonce + "\x1e0\x1eC" + nonce + "\x1e/x\x1eF" + nonce + "\x1e\x1eV" + nonce + "\x1e\x1eT" + nonce + "\x1e"
	for cut := 0; cut <= len(input); cut++ {
		p := newFrameParser(nonce, newCapBuffer(1<<20), true, nil)
		p.wantMark = true
		p.feed([]byte(input[:cut]))
		p.feed([]byte(input[cut:]))
		if got := string(p.body.Bytes()); got != "err text" || p.mark.LastPID != 4242 || p.mark.Ticks != 1234567 || !p.done {
			t.Fatalf("cut at %d: body %q, mark %+v, done %v", cut, got, p.mark, p.done)
		}
	}
	for _, body := range []string{"plain error\n", "\x1e", "\x1eX not a mark", "\x1eM" + strings.Repeat("9", 100)} {
		p := newFrameParser(nonce, newCapBuffer(1<<20), true, nil)
		p.wantMark = true
		p.feed([]byte(body))
		p.eof()
		if got := string(p.body.Bytes()); got != body || p.mark.LastPID != 0 {
			t.Errorf("body %q came out as %q, mark %+v", body, got, p.mark)
		}
	}
}
