package filehash

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

func TestSHA256(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, []byte("content\n"), 0o600)
	if got, err := SHA256(f); err != nil || got != sha256.Sum256([]byte("content\n")) {
		t.Errorf("%x %v", got, err)
	}
	if _, err := SHA256(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file hashed")
	}
}
