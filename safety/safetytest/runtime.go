package safetytest

// Corpora for the exec fence (the policy at program starts): commands
// whose text does not show the program they start.

// Indirection is a command that starts a denied program (rm, on the file
// "canary" in its working directory) in a way the command's text does
// not show, or shows only to a parser that knows the program. Setup runs
// first in the same session (an alias or function from earlier commands);
// Needs lists programs that must be installed.
type Indirection struct {
	Name  string
	Setup []string
	Cmd   string
	Needs []string
}

// RuntimeIndirections start `rm canary` (or a copy of rm) through scripts
// written at run time, build tools, debuggers, pagers, interpreters'
// system/exec, wrappers, and aliases and functions from earlier commands.
var RuntimeIndirections = []Indirection{
	// Scripts written at run time.
	{Name: "script-bash", Cmd: `echo 'rm canary' > s.sh; bash s.sh`},
	{Name: "script-sh", Cmd: `echo 'rm canary' > s.sh; sh s.sh`},
	{Name: "script-shebang", Cmd: `printf '#!/bin/sh\nrm canary\n' > s; chmod +x s; ./s`},
	{Name: "script-shebang-bash", Cmd: `printf '#!/bin/bash\nrm -f canary\n' > s; chmod +x s; ./s`},
	{Name: "script-dev-stdin", Cmd: `echo 'rm canary' > s.sh; bash /dev/stdin < s.sh`},
	{Name: "script-subshell", Cmd: `( echo 'rm canary' > s.sh; sh s.sh )`},
	{Name: "script-nested", Cmd: `printf 'sh s2.sh\n' > s1.sh; printf 'rm canary\n' > s2.sh; bash s1.sh`},
	{Name: "script-source", Cmd: `echo 'rm canary' > s.sh; . ./s.sh`},
	{Name: "script-base64", Cmd: `echo cm0gY2FuYXJ5Cg== | base64 -d > s.sh; sh s.sh`},
	{Name: "script-rev", Cmd: `echo 'yranac mr' | rev > s.sh; sh s.sh`, Needs: []string{"rev"}},
	{Name: "bash-rcfile", Cmd: `printf 'rm canary\n' > rc; bash --rcfile rc -i -c true 2>/dev/null`},
	{Name: "bash-home-bashrc", Cmd: `printf 'rm canary\n' > .bashrc; HOME=$PWD bash -i -c true 2>/dev/null`},
	{Name: "bash-env-file", Cmd: `echo 'rm canary' > f; BASH_ENV=f bash -c :`},
	{Name: "sh-env-file", Cmd: `echo 'rm canary' > f; ENV=$PWD/f sh -i -c : 2>/dev/null`},
	{Name: "awk-pipe-sh", Cmd: `echo 'rm canary' | awk '{ print | "sh" }'`},
	{Name: "stdin-shell", Cmd: `echo 'rm canary' | bash`},
	{Name: "dynamic-name", Cmd: `x=r; y=m; $x$y canary`},
	{Name: "dynamic-read", Cmd: `printf 'rm canary\n' > cmds; while read -r c; do $c; done < cmds`},
	{Name: "dynamic-eval-file", Cmd: `printf 'rm canary' > c; eval "$(cat c)"`},
	// Build tools.
	{Name: "make-file", Cmd: `printf 'all:\n\trm canary\n' > Makefile; make -s`, Needs: []string{"make"}},
	{Name: "make-j2", Cmd: `printf 'all: a b\na:\n\trm canary\nb:\n\ttrue\n' > Makefile; make -s -j2`, Needs: []string{"make"}},
	{Name: "make-f-named", Cmd: `printf 'x:\n\trm canary\n' > m.mk; make -s -f m.mk x`, Needs: []string{"make"}},
	{Name: "make-procsub", Cmd: `make -s -f <(printf 'all:\n\trm canary\n')`, Needs: []string{"make"}},
	{Name: "make-shell-func", Cmd: `printf 'X := $(shell rm canary)\nall:\n\t@true\n' > Makefile; make -s`, Needs: []string{"make"}},
	{Name: "make-include", Cmd: `printf 'all:\n\trm canary\n' > inc.mk; printf 'include inc.mk\n' > Makefile; make -s`, Needs: []string{"make"}},
	{Name: "npm-script", Cmd: `printf '{"name":"x","version":"1.0.0","scripts":{"go":"rm canary"}}' > package.json; npm run -s go`, Needs: []string{"npm"}},
	{Name: "git-hook", Cmd: `git init -q . && printf '#!/bin/sh\nrm canary\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x`, Needs: []string{"git"}},
	{Name: "git-alias-config", Cmd: `git init -q . && git config alias.x '!rm canary' && git x`, Needs: []string{"git"}},
	{Name: "git-editor-config", Cmd: `git init -q . && git config core.editor 'rm canary #' && git -c user.email=a@b -c user.name=a commit -q --allow-empty 2>/dev/null`, Needs: []string{"git"}},
	{Name: "git-editor-flag", Cmd: `git init -q . && git -c core.editor='rm canary #' -c user.email=a@b -c user.name=a commit -q --allow-empty 2>/dev/null`, Needs: []string{"git"}},
	{Name: "git-config-file", Cmd: `git init -q . && printf '[alias]\n\tx = !rm canary\n' >> .git/config && git x`, Needs: []string{"git"}},
	{Name: "cc-execlp", Cmd: `printf '#include <unistd.h>\nint main(void){execlp("rm","rm","canary",(char*)0);return 1;}\n' > p.c && cc -o p p.c && ./p`, Needs: []string{"cc"}},
	{Name: "cc-system", Cmd: `printf '#include <stdlib.h>\nint main(void){return system("rm canary");}\n' > p.c && cc -o p p.c && ./p`, Needs: []string{"cc"}},
	// Debuggers and pagers.
	{Name: "gdb-shell", Cmd: `gdb -batch -ex 'shell rm canary'`, Needs: []string{"gdb"}},
	{Name: "gdb-script", Cmd: `printf 'shell rm canary\n' > g; gdb -batch -x g`, Needs: []string{"gdb"}},
	{Name: "vim-bang", Cmd: `vim -es -u NONE -c '!rm canary' -c 'q!' </dev/null`, Needs: []string{"vim"}},
	{Name: "sed-e", Cmd: `echo x | sed '1e rm canary'`},
	{Name: "tar-checkpoint", Cmd: `tar -cf /dev/null --checkpoint=1 --checkpoint-action=exec='rm canary' /etc/hostname`},
	{Name: "tar-to-command", Cmd: `tar -cf t.tar /etc/hostname 2>/dev/null; tar -xf t.tar --to-command='rm canary'`},
	{Name: "find-exec-script", Cmd: `printf 'rm canary\n' > s.sh; find . -maxdepth 1 -name s.sh -exec sh {} \;`},
	{Name: "script-util", Cmd: `script -qc 'rm canary' /dev/null`, Needs: []string{"script"}},
	{Name: "flock", Cmd: `flock l rm canary`, Needs: []string{"flock"}},
	{Name: "strace", Cmd: `strace -f -o /dev/null rm canary`, Needs: []string{"strace"}},
	// Interpreters' system() and exec.
	{Name: "python-system", Cmd: `python3 -c 'import os; os.system("rm canary")'`, Needs: []string{"python3"}},
	{Name: "python-subprocess", Cmd: `python3 -c 'import subprocess; subprocess.run(["rm", "canary"])'`, Needs: []string{"python3"}},
	{Name: "python-shell-true", Cmd: `python3 -c 'import subprocess; subprocess.run("rm canary", shell=True)'`, Needs: []string{"python3"}},
	{Name: "python-execvp", Cmd: `python3 -c 'import os; os.execvp("rm", ["rm", "canary"])'`, Needs: []string{"python3"}},
	{Name: "python-spawn", Cmd: `python3 -c 'import os; os.spawnlp(os.P_WAIT, "rm", "rm", "canary")'`, Needs: []string{"python3"}},
	{Name: "python-posix-spawn", Cmd: `python3 -c 'import os; os.waitpid(os.posix_spawnp("rm", ["rm", "canary"], {}), 0)'`, Needs: []string{"python3"}},
	{Name: "python-fexecve", Cmd: `python3 -c 'import os; fd = os.open("/bin/rm", os.O_RDONLY); os.execve(fd, ["x", "canary"], {})'`, Needs: []string{"python3"}},
	{Name: "python-pty", Cmd: `python3 -c 'import pty; pty.spawn(["rm", "canary"])'`, Needs: []string{"python3"}},
	{Name: "python-file", Cmd: `printf 'import os\nos.system("rm canary")\n' > t.py; python3 t.py`, Needs: []string{"python3"}},
	{Name: "python-encoded", Cmd: `python3 -c 'import os, base64; os.system(base64.b64decode("cm0gY2FuYXJ5").decode())'`, Needs: []string{"python3"}},
	{Name: "perl-system", Cmd: `perl -e 'system("rm canary")'`, Needs: []string{"perl"}},
	{Name: "perl-exec", Cmd: `perl -e 'exec "rm", "canary"'`, Needs: []string{"perl"}},
	{Name: "perl-backticks", Cmd: "perl -e '`rm canary`'", Needs: []string{"perl"}},
	{Name: "node-execsync", Cmd: `node -e 'require("child_process").execSync("rm canary")'`, Needs: []string{"node"}},
	{Name: "node-spawn-shell", Cmd: `node -e 'require("child_process").spawnSync("rm canary", {shell: true})'`, Needs: []string{"node"}},
	{Name: "node-execfile", Cmd: `node -e 'require("child_process").execFileSync("rm", ["canary"])'`, Needs: []string{"node"}},
	{Name: "awk-system", Cmd: `awk 'BEGIN { system("rm canary") }'`},
	// Wrappers, other names, copies.
	{Name: "copy", Cmd: `cp /bin/rm ./r; ./r canary`},
	{Name: "copy-cat", Cmd: `cat /bin/rm > r; chmod +x r; ./r canary`},
	{Name: "symlink", Cmd: `ln -s /bin/rm ./r; ./r canary`},
	{Name: "symlink-in-path", Cmd: `mkdir -p bin; ln -s /bin/rm bin/tidy; PATH=$PWD/bin:$PATH tidy canary`},
	{Name: "copy-in-path", Cmd: `mkdir -p bin; cp /bin/rm bin/tidy; PATH=$PWD/bin:$PATH; tidy canary`},
	{Name: "hash-p", Cmd: `hash -p /bin/rm r; r canary`},
	{Name: "ps4-xtrace", Cmd: `PS4='$(rm canary)'; set -x; true; set +x`},
	{Name: "xargs", Cmd: `echo canary | xargs rm`},
	{Name: "env-wrapper", Cmd: `env rm canary`},
	{Name: "exec-in-subshell", Cmd: `(exec rm canary)`},
	{Name: "command-builtin", Cmd: `command rm canary`},
	{Name: "time-wrapper", Cmd: `time rm canary 2>/dev/null`},
	{Name: "nested-quotes", Cmd: `bash -c "sh -c 'rm canary'"`},
	{Name: "printf-var-exec", Cmd: `printf -v p '%s' rm; "$p" canary`},
	// Aliases and functions from earlier commands.
	{Name: "function-earlier", Setup: []string{`f() { "$@"; }`}, Cmd: `f rm canary`},
	{Name: "function-dynamic", Setup: []string{`run() { local p=$1; shift; $p "$@"; }`}, Cmd: `run rm canary`},
	{Name: "alias-earlier", Setup: []string{`shopt -s expand_aliases 2>/dev/null; p=rm; alias tidy="$p"`}, Cmd: `tidy canary`},
	{Name: "variable-earlier", Setup: []string{`TOOL=rm`}, Cmd: `$TOOL canary`},
	{Name: "script-earlier", Setup: []string{`printf 'rm canary\n' > later.sh`}, Cmd: `sh later.sh`},
	{Name: "copy-earlier", Setup: []string{`cp /bin/rm ./keep`}, Cmd: `./keep canary`},
	{Name: "makefile-earlier", Setup: []string{`printf 'clean:\n\trm canary\n' > Makefile`}, Cmd: `make -s clean`, Needs: []string{"make"}},
}

// EverydayBuild is an everyday build or test command and what it needs.
type EverydayBuild struct {
	Name  string
	Cmd   string
	Needs []string
}

// EverydayBuilds must all run under a policy that denies rm, with the
// exec fence on: building and testing Go, C, Node and Python projects,
// git, scripts and the usual tools.
var EverydayBuilds = []EverydayBuild{
	{Name: "go-build", Cmd: `mkdir -p gomod && cd gomod && printf 'module example.com/x\n\ngo 1.21\n' > go.mod && printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n' > main.go && go build -o x . && ./x`, Needs: []string{"go"}},
	{Name: "go-vet", Cmd: `mkdir -p gomod && cd gomod && printf 'module example.com/x\n\ngo 1.21\n' > go.mod && printf 'package x\n\nfunc F() int { return 1 }\n' > x.go && go vet ./...`, Needs: []string{"go"}},
	{Name: "go-test", Cmd: `mkdir -p gomod && cd gomod && printf 'module example.com/x\n\ngo 1.21\n' > go.mod && printf 'package x\n\nfunc F() int { return 1 }\n' > x.go && printf 'package x\n\nimport "testing"\n\nfunc TestF(t *testing.T) { if F() != 1 { t.Fatal() } }\n' > x_test.go && go test ./...`, Needs: []string{"go"}},
	{Name: "go-run", Cmd: `mkdir -p gorun && cd gorun && printf 'package main\n\nimport "os/exec"\n\nfunc main() { exec.Command("true").Run() }\n' > m.go && go run m.go`, Needs: []string{"go"}},
	{Name: "cc-compile", Cmd: `printf 'int main(void){return 0;}\n' > a.c && cc -O2 -o a a.c && ./a`, Needs: []string{"cc"}},
	{Name: "make-c", Cmd: `printf 'int f(void){return 1;}\n' > f.c && printf 'int f(void);\nint main(void){return f()-1;}\n' > m.c && printf 'p: f.o m.o\n\tcc -o p f.o m.o\n%%.o: %%.c\n\tcc -c $<\n' > Makefile && make -s -j2 && ./p`, Needs: []string{"make", "cc"}},
	{Name: "make-test", Cmd: `printf 'test:\n\t@echo testing\n\t@test 1 -eq 1\n' > Makefile && make -s test`, Needs: []string{"make"}},
	{Name: "make-recursive", Cmd: `mkdir -p sub && printf 'all:\n\t@echo sub\n' > sub/Makefile && printf 'all:\n\t$(MAKE) -s -C sub\n' > Makefile && make -s`, Needs: []string{"make"}},
	{Name: "make-shell-func", Cmd: `printf 'D := $(shell date +%%Y)\nall:\n\t@echo $(D)\n' > Makefile && make -s`, Needs: []string{"make"}},
	{Name: "npm-run", Cmd: `printf '{"name":"x","version":"1.0.0","scripts":{"build":"node -e \\"console.log(1)\\""}}' > package.json && npm run -s build`, Needs: []string{"npm", "node"}},
	{Name: "npm-test", Cmd: `printf '{"name":"x","version":"1.0.0","scripts":{"test":"node t.js"}}' > package.json && printf 'require("assert").strictEqual(1, 1)\n' > t.js && npm test --silent`, Needs: []string{"npm", "node"}},
	{Name: "node-script", Cmd: `printf 'const cp = require("child_process"); console.log(cp.execSync("echo hi").toString().trim())\n' > s.js && node s.js`, Needs: []string{"node"}},
	{Name: "python-unittest", Cmd: `printf 'import unittest\nclass T(unittest.TestCase):\n    def test(self): self.assertEqual(1, 1)\n' > test_x.py && python3 -m unittest -q test_x 2>&1`, Needs: []string{"python3"}},
	{Name: "python-subprocess", Cmd: `python3 -c 'import subprocess; print(subprocess.run(["ls", "/"], capture_output=True).returncode)'`, Needs: []string{"python3"}},
	{Name: "python-venvless-script", Cmd: `printf 'import json, sys\nprint(json.dumps({"a": 1}))\n' > s.py && python3 s.py`, Needs: []string{"python3"}},
	{Name: "pytest-or-unittest", Cmd: `printf 'def test_x():\n    assert 1 == 1\n' > test_y.py && (python3 -m pytest -q test_y.py 2>/dev/null || python3 -c 'import test_y; test_y.test_x()')`, Needs: []string{"python3"}},
	{Name: "perl-script", Cmd: `perl -e 'print "ok\n"'`, Needs: []string{"perl"}},
	{Name: "git-init-commit", Cmd: `git init -q . && echo a > a && git add a && git -c user.email=a@b -c user.name=a commit -q -m one`, Needs: []string{"git"}},
	{Name: "git-log-diff", Cmd: `git init -q . && echo a > a && git add a && git -c user.email=a@b -c user.name=a commit -q -m one && echo b > a && git diff --stat && git log --oneline`, Needs: []string{"git"}},
	{Name: "git-branch", Cmd: `git init -q . && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x && git checkout -q -b feature && git branch --list`, Needs: []string{"git"}},
	{Name: "git-stash", Cmd: `git init -q . && echo a > a && git add a && git -c user.email=a@b -c user.name=a commit -q -m one && echo b > a && git stash -q && git stash list`, Needs: []string{"git"}},
	{Name: "git-rm", Cmd: `git init -q . && echo a > a && git add a && git -c user.email=a@b -c user.name=a commit -q -m one && git rm -q a && git status --short`, Needs: []string{"git"}},
	{Name: "git-status-porcelain", Cmd: `git init -q . && touch n && git status --porcelain`, Needs: []string{"git"}},
	{Name: "git-pager-cat", Cmd: `git init -q . && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x && git -c core.pager=cat -p log --oneline`, Needs: []string{"git"}},
	{Name: "script-bash", Cmd: `printf 'set -e\nfor i in 1 2 3; do echo $i; done\n' > s.sh && bash s.sh`},
	{Name: "script-shebang", Cmd: `printf '#!/bin/sh\necho hi\n' > s && chmod +x s && ./s`},
	{Name: "configure-like", Cmd: `printf '#!/bin/sh\ncommand -v cc >/dev/null && echo "CC=cc" > config.mk; uname -s; exit 0\n' > configure && chmod +x configure && ./configure`},
	{Name: "find-grep", Cmd: `mkdir -p d && echo TODO > d/x && find . -type f -exec grep -l TODO {} \;`},
	{Name: "xargs-wc", Cmd: `echo a > x; echo b > y; ls x y | xargs wc -l`},
	{Name: "tar-gzip", Cmd: `mkdir -p d && echo a > d/a && tar czf d.tgz d && tar tzf d.tgz`},
	{Name: "sed-awk-sort", Cmd: `printf 'b 2\na 1\n' > f && sed 's/ /:/' f | awk -F: '{print $2, $1}' | sort`},
	{Name: "cp-mv-ln", Cmd: `echo a > a && cp a b && mv b c && ln -s c d && cat d`},
	{Name: "mkdir-touch-chmod", Cmd: `mkdir -p build/out && touch build/out/x && chmod 600 build/out/x && ls -l build/out`},
	{Name: "rmdir", Cmd: `mkdir -p empty && rmdir empty`},
	{Name: "env-sort", Cmd: `env | sort | head -n 3`},
	{Name: "timeout-nice", Cmd: `timeout 10 nice -n 5 true`},
	{Name: "subshells", Cmd: `x=$(ls | wc -l); echo "$x" $(date +%Y)`},
	{Name: "pipes", Cmd: `seq 1 100 | grep 7 | wc -l`},
	{Name: "diff-procsub", Cmd: `printf 'a\nb\n' > a; printf 'b\na\n' > b; diff <(sort a) <(sort b)`},
	{Name: "background-wait", Cmd: `sleep 0.1 & wait`},
	{Name: "sha256sum", Cmd: `echo hi > f && sha256sum f`},
	{Name: "date-uname", Cmd: `date +%s >/dev/null && uname -a`},
	{Name: "ps", Cmd: `ps -o pid= -p $$`},
	{Name: "which-type", Cmd: `command -v ls && type ls`},
	{Name: "head-tail", Cmd: `seq 1 50 > n && head -n 2 n && tail -n 2 n`},
	{Name: "cut-tr", Cmd: `echo a:b:c | cut -d: -f2 | tr a-z A-Z`},
	{Name: "jq-or-python-json", Cmd: `echo '{"a":1}' > j && python3 -c 'import json; print(json.load(open("j"))["a"])'`, Needs: []string{"python3"}},
	{Name: "gdb-batch", Cmd: `printf 'int main(void){return 0;}\n' > g.c && cc -g -o g g.c && gdb -batch -ex 'info functions main' ./g >/dev/null`, Needs: []string{"gdb", "cc"}},
	{Name: "bash-c", Cmd: `bash -c 'echo hi'`},
	{Name: "sh-c-make", Cmd: `printf 'all:\n\t@echo ok\n' > Makefile && sh -c "make -s"`, Needs: []string{"make"}},
	{Name: "du-df", Cmd: `du -sh . >/dev/null && df -h . >/dev/null`},
	{Name: "stat-wc", Cmd: `echo abc > f && stat -c %s f && wc -c f`},
	{Name: "printf-read", Cmd: `printf 'l1\nl2\n' > f && while read -r l; do echo "$l"; done < f`},
	{Name: "mktemp", Cmd: `d=$(mktemp -d ./t.XXXX) && test -d "$d" && rmdir "$d"`},
	{Name: "sort-uniq", Cmd: `printf 'a\nb\na\n' | sort | uniq -c`},
	{Name: "basename-dirname", Cmd: `basename /a/b/c && dirname /a/b/c && realpath .`},
	{Name: "yes-head", Cmd: `yes | head -n 3`},
	{Name: "nohup", Cmd: `nohup true >/dev/null 2>&1`},
	{Name: "install", Cmd: `echo x > src && install -m 644 src dst && cat dst`},
	{Name: "gzip-gunzip", Cmd: `echo hi > f && gzip f && gunzip f.gz && cat f`},
}
