package undo

import (
	"context"
	"path/filepath"
	"testing"
)

func BenchmarkZZUnchanged(b *testing.B) {
	ws := filepath.Join(b.TempDir(), "ws")
	genWorkspace(b, ws, 10000, 10<<20)
	s, _ := OpenLocal(Options{Workspace: ws, Dir: filepath.Join(b.TempDir(), "cp")})
	s.Checkpoint(context.Background(), "first")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Checkpoint(context.Background(), "same")
	}
}
