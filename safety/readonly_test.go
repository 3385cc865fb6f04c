package safety

import "testing"

func TestReadOnly(t *testing.T) {
	yes := []string{
		"ls -la", "cat a.txt | grep x | wc -l", "pwd", "cd /tmp && ls", "git status", "git log --oneline -5",
		"git -C repo diff HEAD~1", "find . -name '*.go'", "echo hi >/dev/null 2>&1", "grep -r foo . 2>/dev/null",
		"sort -u list.txt", "X=1", "export A=b", "head -n 5 <input.txt", "if test -f x; then cat x; fi",
		"for f in *.go; do wc -l \"$f\"; done", "env", "echo $(date)",
		"xxd in.bin", "xxd -", "tree -L 2", "history", "less README", "git log -p", "rg foo src",
	}
	no := []string{
		"rm -rf build", "echo hi > out.txt", "echo hi >> log", "cat a | tee b", "make", "go build ./...",
		"git commit -am x", "git checkout main", "git stash", "find . -delete", "find . -exec rm {} +",
		"sort -o out in", "env X=1 make", "cp a b", "mv a b", "touch x", "mkdir d", "$CMD", "f() { :; }",
		"echo hi >$FILE", "python3 -c 'print(1)'", "sed -i s/a/b/ f", "npm install", "( cd x && make )",
		"cat <(ls)", "x=$(touch y)", "echo 'unterminated",
		// programs that read unless an option or an extra argument names a file to write
		"xxd in out", "xxd -r dump.hex out.bin", "tree -o f", "tree --output=f", "history -w f", "history -a",
		"less -o log file", "less --log-file=log file", "git log --output=f", "git diff --output f",
		"file -C -m magic", "rg --pre cat x", "rg --pre=cat x", "date -s 2020-01-01", "sort -ofile in",
	}
	for _, c := range yes {
		if !ReadOnly(c) {
			t.Errorf("ReadOnly(%q) = false, want true", c)
		}
	}
	for _, c := range no {
		if ReadOnly(c) {
			t.Errorf("ReadOnly(%q) = true, want false", c)
		}
	}
}
