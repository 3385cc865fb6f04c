package replay

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBuiltins(t *testing.T) {
	n, err := ParseNormalize("all")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"built in 1.25s, tests 340ms":               "built in <DURATION>, tests <DURATION>",
		"real\t0m0.003s":                            "real\t<DURATION>",
		"at 2026-11-24T21:28:32.123Z ok":            "at <TIME> ok",
		"Tue Nov 24 21:28:32 UTC 2026":              "<TIME>",
		"started pid 4242, ppid=1":                  "started pid <PID>, ppid=<PID>",
		"[1] 31337":                                 "[1] <PID>",
		"wrote /tmp/tmp.Xb12/out.txt":               "wrote <TMP>/out.txt",
		"commit 3f9a1c2e done":                      "commit <HEX> done",
		"\x1b[31mred\x1b[0m":                        "red",
		"trailing   \nspaces\t":                     "trailing\nspaces",
		"plain words and 42 numbers deadbeef, face": "plain words and 42 numbers deadbeef, face",
		"epoch 1764019712 ms 1764019712123":         "epoch <EPOCH> ms <EPOCH>",
	}
	for in, want := range cases {
		if got := n.Apply(in); got != want {
			t.Errorf("Apply(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseNormalize(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules")
	os.WriteFile(rules, []byte("# build ids\nbuild-[0-9]+ => build-N\n\nhost=\\S+ => host=H\n"), 0o644)
	n, err := ParseNormalize("space,@" + rules)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Apply("build-42 on host=ci-7  \n"); got != "build-N on host=H\n" {
		t.Errorf("user rules: %q", got)
	}
	none, _ := ParseNormalize("none")
	if got := none.Apply("1.5s"); got != "1.5s" {
		t.Errorf("none: %q", got)
	}
	for _, bad := range []string{"bogus", "@/nonexistent/rules"} {
		if _, err := ParseNormalize(bad); err == nil {
			t.Errorf("ParseNormalize(%q) accepted", bad)
		}
	}
	os.WriteFile(rules, []byte("no arrow here\n"), 0o644)
	if _, err := ParseNormalize("@" + rules); err == nil {
		t.Error("a rule without => accepted")
	}
	os.WriteFile(rules, []byte("( => x\n"), 0o644)
	if _, err := ParseNormalize("@" + rules); err == nil {
		t.Error("a bad regexp accepted")
	}
}
