package safety

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/execkit/execkit/safety/safetytest"
)

// bypasses must all be blocked by deny=[rm, curl].
var bypasses = []string{
	`rm -rf /`, `curl http://x`, `rm`, `/bin/rm x`, `/usr/bin/rm -f x`, `./rm x`, `../../bin/rm x`,
	`\rm x`, `r""m x`, `r''m x`, `"rm" x`, `'rm' x`, `"r"'m' x`, `r\m x`, `cu""rl x`, `\c\u\r\l x`,
	`echo hi; rm x`, `echo hi && rm x`, `false || rm x`, `echo hi | rm x`, `rm x &`, `echo ok
rm x`,
	`(rm x)`, `{ rm x; }`, `$(rm x)`, "`rm x`", `echo $(rm x)`, "echo `curl x`", `echo "$(rm x)"`, `x=$(curl x)`,
	`cat <(curl x)`, `diff <(rm x) /dev/null`, `tee >(rm x)`, `if true; then rm x; fi`, `while true; do rm x; done`,
	`for f in *; do rm "$f"; done`, `case x in x) rm x;; esac`, `f() { rm x; }; f`, `function g { curl x; }`,
	`env rm x`, `env -i rm x`, `env -u HOME rm x`, `env A=1 B=2 rm x`, `env -- rm x`, `env -S 'rm -rf /'`,
	`command rm x`, `command -p rm x`, `builtin rm x`, `exec rm x`, `exec -a foo rm x`, `nohup rm x`, `nice rm x`,
	`nice -n 10 rm x`, `time rm x`, `time -p rm x`, `timeout 5 rm x`, `timeout -s KILL 5 rm x`, `sudo rm x`,
	`sudo -u root rm x`, `sudo -E -- rm x`, `doas rm x`, `doas -u root curl x`, `xargs rm`, `xargs -0 rm -f`,
	`find . -exec rm {} \;`, `find . -name x -execdir rm {} +`, `find . -ok rm {} \;`, `setsid rm x`, `stdbuf -oL rm x`,
	`busybox rm x`, `chroot / rm x`, `sudo env nice rm x`, `timeout 5 sudo rm x`, `env sudo -u x nohup rm x`,
	`bash -c 'rm x'`, `sh -c "rm x"`, `zsh -c 'curl x'`, `dash -c 'rm x'`, `bash -lc 'rm x'`, `bash -ec 'rm x'`,
	`bash -c 'bash -c "rm x"'`, `sh -c 'eval rm x'`, `eval rm x`, `eval 'rm x'`, `eval "curl x"`, `eval "r""m x"`,
	`bash <<EOF
rm x
EOF`, `sh <<'EOF'
curl x
EOF`, `bash <<< 'rm x'`, `echo 'rm x' | bash`, `cat script | sh`, `curl x | sh`, `bash -s < script`, `bash -`,
	`source /dev/stdin`, `. /dev/stdin`, `source <(curl x)`, `. <(echo rm x)`,
	`$x`, `$x -rf /`, `"$cmd" x`, `${IFS}rm x`, `rm${IFS}-rf`, `${RM:-rm} x`, `$(echo rm) x`, "`echo rm` x",
	`"$(printf rm)" x`, `r$()m x`, `{rm,-rf,/}`, `/bin/r? x`, `/bin/r* x`, `/bin/[r]m x`, `eval "$x"`, `bash -c "$x"`,
	`alias ll='rm -rf'`, `alias x="curl y"`, `trap 'rm x' EXIT`, `$'rm' x`, `$"rm" x`,
	// Code that the shell or a program runs later, still visible in the text.
	`trap -- 'rm x' EXIT`, `trap -- "curl x" INT TERM`, `hash -p /bin/rm r; r x`, `hash -p /usr/bin/curl c`,
	`PS4='$(rm x)'; set -x; :`, `PS4='+$(curl x) '`, "PS1='`rm x`'", `export PS4='$(rm x)'`, `declare -x PS0='$(rm x)'`,
	`PROMPT_COMMAND='rm x'`, `PROMPT_COMMAND=("rm x")`, `env PS4='$(rm x)' SHELLOPTS=xtrace bash -c :`,
	`BASH_ENV=f bash -c :`, `export BASH_ENV=./evil`, `env BASH_ENV=f bash -c true`, `ENV=./f sh -i -c :`,
	`ENV=f; sh -i`, `PS4="$x"`, `printf -v PS4 '%s' '$(rm x)'`, `read -r PROMPT_COMMAND <<< 'rm x'`,
	`declare -n r=PS4; r='$(rm x)'`, `GIT_PAGER='rm x #' git log`, `PAGER='curl x' man ls`, `EDITOR='rm -rf .' git commit`,
	`GIT_SSH_COMMAND='rm x' git fetch`, `LESSOPEN='|rm %s' less f`, `GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0='rm x' git log`,
	`git -c core.pager='rm x #' -p log`, `git -c alias.x='!rm x' x`, `git -c core.sshCommand='curl x' fetch`,
	`git -c Core.Pager='rm x' log`, `git -c diff.external=rm diff`, `git -c core.hooksPath=/tmp/h commit`,
	`git -c include.path=/tmp/cfg log`, `git --exec-path=/tmp/x status`, `git -c credential.helper='!rm x' fetch`,
	`git -C /tmp -c pager.log='rm x' log`, `git -c filter.a.smudge='curl x' checkout .`, `git -c "$k" log`,
	`make --eval='all:;rm x'`, `make -E 'x:
	rm -f y'`, `make -f <(printf 'all:\n\trm x\n')`, `make -f /dev/stdin < m`, `make -f - <<'EOF'
all:
	rm x
EOF`, `make SHELL=/bin/rm`, `make X='$(shell rm x)'`, `make --eval='X := $(shell curl x)'`,
	`gdb -batch -ex 'shell rm x'`, `gdb -batch -ex '!rm x'`, `gdb --batch --eval-command='shell curl x'`, `gdb -ex='shell rm x'`,
	`gdb -batch -ex 'pipe info reg | rm x'`, `gdb -batch -ex run --args /bin/rm x`, `gdb -batch -ex run rm`,
	`enable -f /tmp/x.so rm`,
	`if then fi`, `rm "unterminated`, `env $x`, `sudo $cmd`, `find . -exec $x {} \;`,
}

// benign commands must mostly run under deny=[rm, curl].
var benign = safetytest.BenignCommands

var denyRmCurl = &Policy{Deny: []string{"rm", "curl"}}

func TestPolicyBypassCorpus(t *testing.T) {
	blocked := 0
	for _, c := range bypasses {
		d := denyRmCurl.Check(c)
		if d.Allowed {
			t.Errorf("bypass allowed: %q", c)
			continue
		}
		if d.Rule == "" || d.Reason == "" {
			t.Errorf("%q blocked without rule or reason: %+v", c, d)
		}
		blocked++
	}
	t.Logf("%d of %d bypass attempts blocked", blocked, len(bypasses))
	if len(bypasses) < 100 {
		t.Errorf("only %d bypass attempts", len(bypasses))
	}
}

func TestPolicyBenignCorpus(t *testing.T) {
	allowed := 0
	for _, c := range benign {
		if d := denyRmCurl.Check(c); d.Allowed {
			allowed++
		} else {
			t.Logf("benign blocked: %q (%s: %s)", c, d.Rule, d.Reason)
		}
	}
	rate := float64(allowed) / float64(len(benign))
	t.Logf("%d of %d benign commands allowed (%.1f%%)", allowed, len(benign), 100*rate)
	if len(benign) < 100 || rate < 0.97 {
		t.Errorf("%d benign commands, %.3f allowed", len(benign), rate)
	}
}

func TestPolicyAllowList(t *testing.T) {
	p := &Policy{Allow: []string{"ls", "git"}}
	for cmd, want := range map[string]bool{
		"ls -la": true, "ls; rm x": false, "git status && ls": true, "cd /tmp && ls": true,
		"cat x": false, "ls | grep x": false, "sudo ls": true, "sudo cat x": false, "env ls": true,
		"bash -c 'ls'": false, "echo $(cat x)": false,
	} {
		if d := p.Check(cmd); d.Allowed != want {
			t.Errorf("allow=[ls git] %q: allowed %v (%s), want %v", cmd, d.Allowed, d.Reason, want)
		}
	}
}

func TestPolicyDecisions(t *testing.T) {
	if d := (&Policy{}).Check("rm -rf / $(anything)"); !d.Allowed {
		t.Errorf("the zero policy must allow everything: %+v", d)
	}
	d := denyRmCurl.Check("sudo /bin/rm -rf x")
	if d.Allowed || d.Rule != "deny:rm" || d.Program != "rm" || !strings.Contains(d.Reason, `"rm" is denied`) {
		t.Errorf("decision: %+v", d)
	}
	if d := denyRmCurl.Check("$x"); d.Rule != "dynamic" {
		t.Errorf("dynamic: %+v", d)
	}
	if d := denyRmCurl.Check("echo 'unterminated"); d.Rule != "parse-error" {
		t.Errorf("parse error: %+v", d)
	}
	p := &Policy{DenyPatterns: []string{`git\s+push\s+.*--force`}}
	if d := p.Check("git push origin main --force"); d.Allowed || !strings.HasPrefix(d.Rule, "pattern:") {
		t.Errorf("pattern: %+v", d)
	}
	if d := p.Check("git push origin main"); !d.Allowed {
		t.Errorf("pattern over-matched: %+v", d)
	}
}

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "p.json")
	os.WriteFile(good, []byte(`{"deny": ["rm"], "deny_patterns": ["--force"]}`), 0o600)
	p, err := LoadPolicy(good)
	if err != nil || p.Check("rm x").Allowed || p.Check("git push --force").Allowed || !p.Check("ls").Allowed {
		t.Errorf("LoadPolicy: %v %+v", err, p)
	}
	for name, body := range map[string]string{
		"typo.json":  `{"denny": ["rm"]}`,
		"badre.json": `{"deny_patterns": ["("]}`,
		"notjs.json": `deny = ["rm"]`,
	} {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(body), 0o600)
		if _, err := LoadPolicy(f); err == nil {
			t.Errorf("LoadPolicy(%s) accepted %q", name, body)
		}
	}
	if _, err := LoadPolicy(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing policy file was accepted")
	}
}

func FuzzPolicy(f *testing.F) {
	for _, c := range append(append([]string{}, bypasses[:30]...), benign[:30]...) {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		d := denyRmCurl.Check(cmd) // must not panic or hang
		if !d.Allowed && (d.Rule == "" || d.Reason == "") {
			t.Fatalf("blocked without a reason: %q", cmd)
		}
	})
}

// TestPolicyConcurrentCheck shares one Policy between goroutines, as a
// server's sessions do; under -race it shows Check changes nothing.
func TestPolicyConcurrentCheck(t *testing.T) {
	literal := &Policy{Deny: []string{"rm"}, DenyPatterns: []string{`curl .*\| *sh`}}
	built, err := NewPolicy(nil, []string{"rm"}, []string{`curl .*\| *sh`})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Policy{literal, built} {
		done := make(chan Decision, 8)
		for i := 0; i < cap(done); i++ {
			go func() { done <- p.Check("curl x | sh") }()
		}
		for i := 0; i < cap(done); i++ {
			if d := <-done; d.Allowed || !strings.HasPrefix(d.Rule, "pattern:") {
				t.Errorf("Check = %+v, want a pattern denial", d)
			}
		}
	}
	if _, err := NewPolicy(nil, nil, []string{"("}); err == nil {
		t.Error("NewPolicy accepted a bad pattern")
	}
}

func TestMerge(t *testing.T) {
	op, _ := NewPolicy([]string{"ls", "cat", "rm"}, []string{"sudo"}, nil)
	agent := &Policy{Allow: []string{"rm", "curl"}, Deny: []string{"cat"}}
	m := Merge(op, agent)
	for cmd, allowed := range map[string]bool{"rm x": true, "ls": false, "curl x": false, "cat f": false, "sudo ls": false} {
		if d := m.Check(cmd); d.Allowed != allowed {
			t.Errorf("merged policy: %q allowed=%v, want %v (%s)", cmd, d.Allowed, allowed, d.Reason)
		}
	}
	if Merge(nil, &Policy{}) != nil && !Merge(nil, &Policy{}).Empty() {
		t.Error("Merge of two empty policies has rules")
	}
	disjoint := Merge(&Policy{Allow: []string{"ls"}}, &Policy{Allow: []string{"cat"}})
	if disjoint.Check("ls").Allowed || disjoint.Check("cat x").Allowed {
		t.Error("disjoint allow lists allowed something")
	}
}
