package safety

import (
	"bytes"
	"strings"
	"testing"

	"github.com/execkit/execkit/safety/safetytest"
)

func TestRedactionCorpus(t *testing.T) {
	r := NewRedactor(nil)
	pos := safetytest.Corpus()
	kinds := map[string]bool{}
	caught := 0
	for _, p := range pos {
		kinds[p.Kind] = true
		got := r.Redact(p.Line)
		if p.Leaks(got) || !strings.Contains(got, "[REDACTED:") {
			t.Errorf("%s not redacted in %q: %q", p.Kind, p.Line, got)
			continue
		}
		caught++
	}
	recall := float64(caught) / float64(len(pos))
	t.Logf("%d positives across %d kinds, recall %.2f%%", len(pos), len(kinds), 100*recall)
	if len(pos) < 300 || len(kinds) < 40 || recall < 0.99 {
		t.Errorf("corpus %d positives, %d kinds, recall %.4f", len(pos), len(kinds), recall)
	}
	neg := safetytest.Negatives()
	kept := 0
	for _, n := range neg {
		if got := r.Redact(n); got == n {
			kept++
		} else {
			t.Logf("negative changed: %q -> %q", n, got)
		}
	}
	rate := float64(kept) / float64(len(neg))
	t.Logf("%d negatives, %.2f%% survive", len(neg), 100*rate)
	if len(neg) < 100 || rate < 0.95 {
		t.Errorf("negatives: %d, survival %.4f", len(neg), rate)
	}
}

// TestRedactionEverySplit writes each positive in two pieces, cut at every
// byte offset.
func TestRedactionEverySplit(t *testing.T) {
	r := NewRedactor(nil)
	for _, p := range safetytest.Corpus() {
		for cut := 0; cut <= len(p.Line); cut++ {
			var out bytes.Buffer
			s := r.Stream(&out)
			s.Write([]byte(p.Line[:cut]))
			s.Write([]byte(p.Line[cut:]))
			s.Close()
			if p.Leaks(out.String()) {
				t.Fatalf("%s survives a cut at %d: %q", p.Kind, cut, out.String())
			}
		}
	}
}

func TestRedactionKeepsTextAround(t *testing.T) {
	r := NewRedactor([]Secret{{Name: "DEPLOY", Value: "s3cr3t-deploy-value"}})
	in := "before ghp_" + strings.Repeat("a", 36) + " middle s3cr3t-deploy-value after"
	want := "before [REDACTED:github-token] middle [REDACTED:secret:DEPLOY] after"
	if got := r.Redact(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	pem := "x\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\ny"
	if got := r.Redact(pem); got != "x\n[REDACTED:private-key]\ny" {
		t.Errorf("pem: %q", got)
	}
	if got := r.Redact("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\nBBBB (cut off"); got != "[REDACTED:private-key]" {
		t.Errorf("unterminated pem: %q", got)
	}
	for _, p := range safetytest.Corpus() {
		once := r.Redact(p.Line)
		if twice := r.Redact(once); twice != once {
			t.Errorf("%s: redacting twice changes the text: %q -> %q", p.Kind, once, twice)
		}
	}
	for _, plain := range []string{"[reading] [Rust] [r", "[REDACTED:x", "[REDACTED:github-token] ok"} {
		if got := r.Redact(plain); got != plain {
			t.Errorf("Redact(%q) = %q", plain, got)
		}
	}
	if got := r.Redact("no secrets here\n"); got != "no secrets here\n" {
		t.Errorf("plain text changed: %q", got)
	}
	// Never an "allow" marker: text claiming to be safe is still scrubbed.
	if got := r.Redact("# gitleaks:allow pragma: allowlist secret ghp_" + strings.Repeat("b", 36)); strings.Contains(got, strings.Repeat("b", 36)) {
		t.Errorf("an allow marker suppressed redaction: %q", got)
	}
}

func TestSecretEnv(t *testing.T) {
	got := SecretEnv([]string{"GITHUB_TOKEN=abcdefgh123", "PATH=/usr/bin:/bin", "DB_PASSWORD=hunter22hunter", "SHORT_TOKEN=abc", "KUBECONFIG_FILE=/x", "MY_API_KEY=zzzzzzzzzz"})
	if len(got) != 3 || got[0].Name != "GITHUB_TOKEN" || got[2].Name != "MY_API_KEY" {
		t.Errorf("SecretEnv: %+v", got)
	}
}

func FuzzRedactor(f *testing.F) {
	for _, p := range safetytest.Corpus()[:40] {
		f.Add(p.Line, 3)
	}
	r := NewRedactor([]Secret{{Name: "X", Value: "literal-secret"}})
	f.Fuzz(func(t *testing.T, s string, cut int) {
		if cut < 0 || cut > len(s) {
			return
		}
		whole := r.Redact(s)
		var out bytes.Buffer
		st := r.Stream(&out)
		st.Write([]byte(s[:cut]))
		st.Write([]byte(s[cut:]))
		st.Close()
		if out.String() != whole {
			t.Fatalf("split at %d changes the result: %q vs %q", cut, out.String(), whole)
		}
		if strings.Contains(whole, "literal-secret") {
			t.Fatalf("literal secret survived: %q", whole)
		}
	})
}

// Six megabytes of lockfiles, build and package-manager logs, test runs and
// shell listings, rich in names that resemble credentials, come out of the
// redactor unchanged.
func TestBenignCorpus(t *testing.T) {
	text := safetytest.Benign(1, 6<<20)
	got := NewRedactor(nil).Redact(text)
	if got == text {
		return
	}
	in, out := strings.Split(text, "\n"), strings.Split(got, "\n")
	n := 0
	for i := 0; i < len(in) && i < len(out) && n < 20; i++ {
		if in[i] != out[i] {
			t.Errorf("line %d redacted:\n  %q\n  %q", i+1, in[i], out[i])
			n++
		}
	}
	if n == 0 {
		t.Error("the corpus changed")
	}
}

// TestShapedExampleKeys: a token of a credential's own shape is redacted
// even when it spells "example" (AWS documents AKIAIOSFODNN7EXAMPLE, and
// agents paste it); a value after a name that spells a placeholder is not.
func TestShapedExampleKeys(t *testing.T) {
	r := NewRedactor(nil)
	for _, in := range []string{"AKIAIOSFODNN7EXAMPLE", "k=AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"} {
		if got := r.Redact(in); strings.Contains(got, "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("%q kept: %q", in, got)
		}
	}
	for _, in := range []string{"password=changeme", "api_key=<your-key>", "token: your_token_here"} {
		if got := r.Redact(in); got != in {
			t.Errorf("placeholder %q redacted: %q", in, got)
		}
	}
}

// TestRedactionFlushed: a stream flushed for a live view after every line,
// and after a cut at every byte offset, lets no credential of the corpus
// through.
func TestRedactionFlushed(t *testing.T) {
	r := NewRedactor(nil)
	flushedOnce := 0
	for _, p := range safetytest.Corpus() {
		var out bytes.Buffer
		s := r.Stream(&out)
		for _, l := range strings.SplitAfter(p.Line, "\n") {
			s.Write([]byte(l))
			s.Flush()
		}
		if out.Len() > 0 {
			flushedOnce++
		}
		s.Close()
		if p.Leaks(out.String()) {
			t.Errorf("%s leaks when flushed line by line: %q", p.Kind, out.String())
		}
		for cut := 0; cut <= len(p.Line); cut++ {
			var out bytes.Buffer
			s := r.Stream(&out)
			s.Write([]byte(p.Line[:cut]))
			s.Flush()
			s.Write([]byte(p.Line[cut:]))
			s.Flush()
			s.Close()
			if p.Leaks(out.String()) {
				t.Fatalf("%s leaks flushed after a cut at %d: %q", p.Kind, cut, out.String())
			}
		}
	}
	t.Logf("%d of %d positives passed on something before the stream ended", flushedOnce, len(safetytest.Corpus()))
	// A flushed stream passes on complete lines at once.
	var out bytes.Buffer
	s := r.Stream(&out)
	s.Write([]byte("building\nstep 1 of 3\npartial"))
	s.Flush()
	if out.String() != "building\nstep 1 of 3\n" {
		t.Errorf("flushed %q", out.String())
	}
}
