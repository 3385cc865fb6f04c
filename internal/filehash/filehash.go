// Package filehash hashes files.
package filehash

import (
	"crypto/sha256"
	"io"
	"os"
)

// SHA256 is the SHA-256 of the file's content.
func SHA256(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
