package safety

import (
	"io"
	"testing"

	"github.com/execkit/execkit/safety/safetytest"
)

type discard struct{ n int }

func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// BenchmarkRedactBuildLog streams a 100 MB build log through a Redactor in
// 64 KiB writes (target: at least 200 MB/s per core).
func BenchmarkRedactBuildLog(b *testing.B) {
	log := safetytest.BuildLog(100 << 20)
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
	log := safetytest.BuildLog(100 << 20)
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

// BenchmarkExecGuard is the exec fence's check of one allowed start with a
// deny list: names, the file against the denied programs, patterns.
func BenchmarkExecGuard(b *testing.B) {
	p, err := NewPolicy(nil, []string{"rm", "curl"}, []string{`git\s+push.*--force`})
	if err != nil {
		b.Fatal(err)
	}
	g := p.ExecGuard("/usr/local/bin:/usr/bin:/bin")
	argv := []string{"/bin/true", "--flag"}
	for i := 0; i < b.N; i++ {
		if d := g.Check("/bin/true", "/bin/true", "/bin/true", argv); !d.Allowed {
			b.Fatal(d)
		}
	}
}
