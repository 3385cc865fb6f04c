package main

import (
	"os/exec"
	"testing"
	"time"

	"github.com/execkit/execkit/internal/testbuild"
)

// BenchmarkStart is how long `execkit --version` takes from exec to exit,
// the built binary (not this test binary), against `bash -c true` in the
// same run; it reports both and their ratio.
func BenchmarkStart(b *testing.B) {
	bin := testbuild.Program(b, ".", "", "execkit")
	bash, err := exec.LookPath("bash")
	if err != nil {
		b.Skip("no bash")
	}
	run := func(argv ...string) time.Duration {
		start := time.Now()
		if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var te, tb time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		te += run(bin, "--version")
		tb += run(bash, "-c", "true")
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(ms(te), "execkit-ms")
	b.ReportMetric(ms(tb), "bash-ms")
	b.ReportMetric(te.Seconds()/tb.Seconds(), "execkit/bash")
}
