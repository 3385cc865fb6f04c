package journal

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Anchor is a chain head kept outside the journal, in an anchor file: one
// line per seal, appended by the writer (execkit's --anchor). Kept where
// the journal's writer or a later editor of the file cannot reach (another
// machine, append-only storage), anchors let Verify find a journal cut
// short, rewritten or re-chained, without anyone remembering a hash.
type Anchor struct {
	Genesis string    // hash of the journal's first record: which journal
	Records uint64    // how many records the chain had at the seal
	Head    string    // the hash of the last of them
	Time    time.Time // when
}

// anchorTag starts every line of an anchor file.
const anchorTag = "execkit-anchor/1"

// AnchorOf is the anchor of a seal.
func AnchorOf(s Seal) Anchor {
	return Anchor{Genesis: s.Genesis, Records: s.Records, Head: s.Head, Time: s.Time}
}

// AppendAnchor appends a to the anchor file, creating it, and syncs it.
func AppendAnchor(path string, a Anchor) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("journal: anchor: %w", err)
	}
	line := fmt.Sprintf("%s %s %d %s %s\n", anchorTag, a.Genesis, a.Records, a.Head, a.Time.UTC().Format(time.RFC3339Nano))
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("journal: anchor: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal: anchor: %w", err)
	}
	return f.Close()
}

// ReadAnchors reads an anchor file. A line that is not an anchor is an
// error naming it: an anchor file is only ever appended to by execkit.
func ReadAnchors(path string) ([]Anchor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: anchors: %w", err)
	}
	defer f.Close()
	out := []Anchor{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		var a Anchor
		var err error
		if len(fields) != 5 || fields[0] != anchorTag {
			err = errors.New("not an execkit anchor line")
		} else {
			a.Genesis, a.Head = fields[1], fields[3]
			if a.Records, err = strconv.ParseUint(fields[2], 10, 64); err == nil {
				a.Time, err = time.Parse(time.RFC3339Nano, fields[4])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("journal: anchors: %s:%d: %v", path, n, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal: anchors: %w", err)
	}
	return out, nil
}
