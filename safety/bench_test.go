package safety

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/execkit/execkit/safety/safetytest"
)

type discard struct{ n int }

func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// buildLog makes about n bytes of a realistic build log: compiler and test
// output, timestamps, paths, hashes, URLs, and a credential every few
// thousand lines.
func buildLog(n int) []byte {
	rng := rand.New(rand.NewSource(1))
	var b bytes.Buffer
	pos := safetytest.Corpus()
	lines := []string{
		"2026-11-24T12:%02d:%02d.%03dZ INFO  [builder] compiling package github.com/example/project/internal/pkg%d (%d files)\n",
		"go: downloading golang.org/x/tools v0.%d.%d\n",
		"=== RUN   TestHandler/case_%d_with_%d_inputs\n",
		"--- PASS: TestHandler/case_%d (0.%02ds)\n",
		"src/components/widget%d.tsx:%d:14 - warning: unused variable 'tmp%d' (no-unused-vars)\n",
		"Step %d/%d : RUN apt-get install -y build-essential && rm -rf /var/lib/apt/lists/*\n",
		"Fetched https://registry.npmjs.org/package-%d/-/package-%d-1.2.3.tgz in %dms\n",
		"commit %x%x (HEAD -> main, origin/main)\n",
		"ok  \tgithub.com/example/project/pkg%d\t0.%03ds\tcoverage: %d.%d%% of statements\n",
	}
	i := 0
	for b.Len() < n {
		if i%3000 == 2999 {
			b.WriteString(pos[rng.Intn(len(pos))].Line + "\n")
		}
		l := lines[rng.Intn(len(lines))]
		args := []any{rng.Intn(60), rng.Intn(60), rng.Intn(1000), rng.Intn(1 << 31), rng.Intn(100)}
		verbs := strings.Count(l, "%") - 2*strings.Count(l, "%%")
		fmt.Fprintf(&b, l, args[:verbs]...)
		i++
	}
	return b.Bytes()
}

// BenchmarkRedactBuildLog streams a 100 MB build log through a Redactor in
// 64 KiB writes (target: at least 200 MB/s per core).
func BenchmarkRedactBuildLog(b *testing.B) {
	log := buildLog(100 << 20)
	r := NewRedactor([]Secret{{Name: "DEPLOY", Value: "deploy-secret-value-123"}})
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var d discard
		s := r.Stream(&d)
		for off := 0; off < len(log); off += 64 << 10 {
			s.Write(log[off:min(off+64<<10, len(log))])
		}
		s.Close()
		if d.n < len(log)/2 {
			b.Fatal("output lost")
		}
	}
}

// keepFirst is a Writer that counts everything and keeps the first max
// bytes, like a session's capped buffer.
type keepFirst struct {
	n    int
	kept []byte
	max  int
}

func (k *keepFirst) Write(p []byte) (int, error) {
	k.n += len(p)
	if room := k.max - len(k.kept); room > 0 {
		k.kept = append(k.kept, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// BenchmarkRedactShapeBuildLog is the whole path a session applies to a
// stream: redact all 100 MB as it arrives, keep 1 MiB, then sanitise it and
// shape it with a head+tail budget (target: 200 MB/s per core).
func BenchmarkRedactShapeBuildLog(b *testing.B) {
	log := buildLog(100 << 20)
	r := NewRedactor(nil)
	budget := Budget{Mode: "head+tail", Lines: 50, MaxChars: 20000}
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := &keepFirst{max: 1 << 20}
		s := r.Stream(k)
		for off := 0; off < len(log); off += 64 << 10 {
			s.Write(log[off:min(off+64<<10, len(log))])
		}
		s.Close()
		out, sh := budget.Apply(Sanitize(string(k.kept)))
		if len(out) == 0 || sh.LinesKept != 100 {
			b.Fatal("shaping failed", sh)
		}
	}
}

// BenchmarkRedactBenign is the redactor alone over the generated benign
// corpus (lockfiles, build logs), dense with credential-like names.
func BenchmarkRedactBenign(b *testing.B) {
	text := []byte(safetytest.Benign(7, 8<<20))
	r := NewRedactor(nil)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := r.Stream(io.Discard)
		st.Write(text)
		st.Close()
	}
}
