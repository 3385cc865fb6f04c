package shquote

import (
	"os/exec"
	"testing"
)

// TestJoinRoundTrip: sh reads each joined line back into the same words.
func TestJoinRoundTrip(t *testing.T) {
	words := []string{"plain", "", "two words", "it's", `"dq"`, "$HOME", "a\nb", "*", "x=y", "-n", `back\slash`}
	got, err := exec.Command("sh", "-c", "printf '%s\\0' "+Join(words)).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, w := range words {
		want += w + "\x00"
	}
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
