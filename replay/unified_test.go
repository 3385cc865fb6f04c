package replay

import (
	"fmt"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	a := "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n"
	b := "one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven"
	got := Unified(a, b, "a", "b")
	want := "--- a\n+++ b\n@@ -1,6 +1,6 @@\n one\n two\n-three\n+THREE\n four\n five\n six\n@@ -8,3 +8,4 @@\n eight\n nine\n ten\n+eleven\n\\ No newline at end of file\n"
	if got != want {
		t.Errorf("Unified:\n%s\nwant:\n%s", got, want)
	}
	if Unified("same\n", "same\n", "a", "b") != "" {
		t.Error("equal texts gave a diff")
	}
	if got := Unified("", "x\n", "a", "b"); got != "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n" {
		t.Errorf("from empty: %q", got)
	}
}

// TestUnifiedLong: two 50,000-line texts with three changed lines far
// apart give three small hunks (a table of lines × lines would need 2.5
// billion cells).
func TestUnifiedLong(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 50000; i++ {
		fmt.Fprintf(&a, "line %d\n", i)
		if i == 10 || i == 25000 || i == 49990 {
			fmt.Fprintf(&b, "changed %d\n", i)
		} else {
			fmt.Fprintf(&b, "line %d\n", i)
		}
	}
	d := Unified(a.String(), b.String(), "a", "b")
	if n := strings.Count(d, "@@ -"); n != 3 {
		t.Errorf("%d hunks:\n%s", n, d)
	}
	if !strings.Contains(d, "-line 25000\n+changed 25000\n") || strings.Count(d, "\n") > 40 {
		t.Errorf("diff:\n%s", d)
	}
}
