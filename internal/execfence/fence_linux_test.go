//go:build linux && (amd64 || arm64)

package execfence

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary, started with fencedEnv set, installs the fence, sends
// the listener on descriptor 3 and becomes the program in its arguments.
const fencedEnv = "EXECFENCE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(fencedEnv) == "1" {
		sock := os.NewFile(3, "sock")
		l, err := Install()
		if err != nil {
			os.Stderr.WriteString("install: " + err.Error() + "\n")
			os.Exit(125)
		}
		if err := Send(sock, l); err != nil {
			os.Exit(125)
		}
		l.Close()
		sock.Close()
		path, err := exec.LookPath(os.Args[1])
		if err != nil {
			os.Exit(127)
		}
		err = syscall.Exec(path, os.Args[1:], os.Environ())
		os.Stderr.WriteString("exec: " + err.Error() + "\n")
		os.Exit(126)
	}
	os.Exit(m.Run())
}

// fenced runs argv under the fence with check and returns its combined
// output, exit code, and the attempts check saw.
func fenced(t *testing.T, dir string, check func(*Attempt) error, argv ...string) (string, int, []*Attempt) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "mine"), os.NewFile(uintptr(pair[1]), "theirs")
	defer mine.Close()
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(os.Environ(), fencedEnv+"=1")
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{theirs}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	l, _, err := Receive(mine)
	if err != nil {
		cmd.Wait()
		t.Fatalf("%v: %s", err, out.String())
	}
	var mu sync.Mutex
	var seen []*Attempt
	served := make(chan error, 1)
	go func() {
		served <- Serve(l, func(a *Attempt) error {
			mu.Lock()
			seen = append(seen, a)
			mu.Unlock()
			return check(a)
		}, nil)
	}()
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
	l.Close()
	return out.String(), code, seen
}

func denyRm(a *Attempt) error {
	if filepath.Base(a.Resolved) == "rm" || filepath.Base(a.Path) == "rm" {
		return &Denied{Rule: "deny:rm", Reason: "rm is denied"}
	}
	return nil
}

func TestFenceDeniesRuntimeStart(t *testing.T) {
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	os.WriteFile(canary, nil, 0o600)
	// A script written and run in one line: no static check sees rm.
	out, code, seen := fenced(t, dir, denyRm, "bash", "-c", `echo 'rm canary' > s.sh; bash s.sh; echo "status $?"`)
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("the canary is gone: %s", out)
	}
	if !strings.Contains(out, "Permission denied") || !strings.Contains(out, "status 126") || code != 0 {
		t.Errorf("output %q, exit %d", out, code)
	}
	var sawRm bool
	for _, a := range seen {
		if filepath.Base(a.Resolved) == "rm" {
			sawRm = true
			if strings.Join(a.Argv, " ") != "rm canary" {
				t.Errorf("attempt: %+v", a)
			}
		}
	}
	if !sawRm {
		t.Errorf("rm was never seen: %+v", seen)
	}
}

func TestFenceAllowsAndSeesArguments(t *testing.T) {
	dir := t.TempDir()
	out, code, seen := fenced(t, dir, func(*Attempt) error { return nil }, "bash", "-c", `/bin/echo "a b" 'c'"'"'d'; exit 3`)
	if out != "a b c'd\n" || code != 3 {
		t.Errorf("output %q, exit %d", out, code)
	}
	var got []string
	for _, a := range seen {
		got = append(got, a.Line())
	}
	if len(got) != 2 || got[1] != `/bin/echo 'a b' 'c'\''d'` {
		t.Errorf("attempts: %q", got)
	}
}

// TestFenceDescriptorExec: a program started through a descriptor
// (fexecve, execveat with AT_EMPTY_PATH), as from a memfd, is seen as its
// file and can be opened for identity checks.
func TestFenceDescriptorExec(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed to call fexecve")
	}
	dir := t.TempDir()
	var opened bool
	check := func(a *Attempt) error {
		if f, err := os.Open(a.File); err == nil {
			f.Close()
			opened = true
		}
		return denyRm(a)
	}
	canary := filepath.Join(dir, "canary")
	os.WriteFile(canary, nil, 0o600)
	out, _, seen := fenced(t, dir, check, "python3", "-c",
		`import os; fd = os.open("/bin/rm", os.O_RDONLY); os.execve(fd, ["x", "canary"], {})`)
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("the canary is gone: %s", out)
	}
	if !opened || len(seen) < 2 || !strings.HasSuffix(seen[len(seen)-1].Path, "/rm") {
		t.Errorf("attempts %+v, output %s", seen, out)
	}
}
