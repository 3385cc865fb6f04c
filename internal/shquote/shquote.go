// Package shquote quotes words for a POSIX shell.
package shquote

import "strings"

// Quote quotes s for a POSIX shell when it holds anything but plain word
// characters.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// Join joins words into one command line, quoting those that need it.
func Join(words []string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = Quote(w)
	}
	return strings.Join(parts, " ")
}
