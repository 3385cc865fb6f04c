package replay

import udiff "github.com/aymanbagabas/go-udiff"

// Unified returns a unified diff (3 lines of context) from a to b, or ""
// when they are equal. The edit script is a Myers line diff
// (github.com/aymanbagabas/go-udiff), linear in memory however long the
// texts.
func Unified(a, b, nameA, nameB string) string {
	if a == b {
		return ""
	}
	return udiff.Unified(nameA, nameB, a, b)
}
