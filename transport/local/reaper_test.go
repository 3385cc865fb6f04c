//go:build !windows

package local_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/local"
)

// TestMain lets the test binary play a program that uses the transport and
// is then killed: with EXECKIT_TEST_ORPHAN set it starts a shell, has it
// start processes that leave its session, and waits to be killed.
func TestMain(m *testing.M) {
	if tag := os.Getenv("EXECKIT_TEST_ORPHAN"); tag != "" {
		os.Exit(orphanMaker(tag))
	}
	os.Exit(m.Run())
}

func orphanMaker(tag string) int {
	p, err := local.New().Start(context.Background(), transport.StartOptions{Argv: []string{"bash", "/dev/fd/3"}})
	if err != nil {
		fmt.Println("start:", err)
		return 1
	}
	io.WriteString(p.Input(), "setsid -f sleep "+tag+"1; setsid sleep "+tag+"2 & sleep "+tag+"3 & echo started\n")
	buf := make([]byte, 64)
	n, _ := p.Stdout().Read(buf)
	fmt.Print(string(buf[:n]))
	time.Sleep(time.Hour)
	return 0
}

// TestKilledParentLeavesNothing: when the program running the transport is
// killed (kill -9, so it closes nothing), the reaper ends the shell and
// every process below it, including those that left the shell's session.
func TestKilledParentLeavesNothing(t *testing.T) {
	tag := strconv.Itoa(700000 + os.Getpid()%100000)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EXECKIT_TEST_ORPHAN="+tag)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "started") {
		t.Fatalf("the helper printed %q", buf[:n])
	}
	for i := 1; i <= 3; i++ {
		arg := tag + strconv.Itoa(i)
		for try := 0; len(sleepers(t, arg)) != 1; try++ { // background jobs start late
			if try == 100 {
				t.Fatalf("sleep %s is not running", arg)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for i := 1; i <= 3; i++ {
		arg := tag + strconv.Itoa(i)
		var left []int
		for try := 0; try < 100; try++ { // up to ~10 s on a loaded machine
			if left = sleepers(t, arg); len(left) == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(left) != 0 {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("sleep %s survived its program's death", arg)
		}
	}
}

// sleepers lists the processes whose command line is "sleep arg".
func sleepers(t *testing.T, arg string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && string(b) == "sleep\x00"+arg+"\x00" {
			pids = append(pids, pid)
		}
	}
	return pids
}
