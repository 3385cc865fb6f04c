//go:build !windows

package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/internal/proctab"
)

// The shell does not run as the transport's child but under a reaper: the
// program that runs the transport, started again (its own executable, found
// through /proc/self/exe) with reaperArg as its first argument. The reaper
// makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), starts the shell
// and waits. Every process the shell's commands start stays below it: one
// that leaves its parent (`setsid -f`, a daemon's double fork, `(cmd &)`)
// is re-parented to the reaper, not to init, so the transport finds it in
// the reaper's tree for SignalJobs and Close whatever session or process
// group it moved to. When the shell ends, the reaper kills what is left
// below it, reaps it, and exits with the shell's status.
//
// The reaper is entered from this package's init, before the program's own
// main runs, when both the argument and the environment variable say so.

// reaperArg is the reaper's first argument; reaperEnv must hold the same.
const (
	reaperArg = "execkit-local-reaper.v1"
	reaperEnv = "EXECKIT_LOCAL_REAPER"
)

func init() {
	if len(os.Args) >= 3 && os.Args[1] == reaperArg && os.Getenv(reaperEnv) == reaperArg {
		// syscall.Exit, not os.Exit: no exit hooks (the race detector's waits a
		// second at every exit of an instrumented binary).
		syscall.Exit(runReaper(os.Args[2], os.Args[3:]))
	}
}

// reaperSelf is the executable that serves as the reaper, or "" when it
// cannot be found (the shell is then started directly).
func reaperSelf() string {
	if os.Getenv("EXECKIT_NO_REAPER") != "" {
		return ""
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		return ""
	}
	return "/proc/self/exe"
}

// Descriptors the reaper is started with, after stdin, stdout and stderr:
// the command channel (passed on to the shell as 3) and the pipe on which it
// reports the shell's pid.
const (
	reaperChannelFD = 3
	reaperReportFD  = 4
)

// reaperSignals are caught by the reaper and ignored (the shell is signalled
// directly). They are caught, not set to be ignored: an ignored signal
// would stay ignored in the shell.
var reaperSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU}

// runReaper is the reaper's main: it starts path with argv and returns the
// status to exit with. The shell ends, and with it everything below the
// reaper, when the command channel closes or when the reaper's parent dies.
func runReaper(path string, argv []string) int {
	report := os.NewFile(reaperReportFD, "report")
	fail := func(err error) int {
		fmt.Fprintf(report, "E%s\n", err)
		return 125
	}
	signal.Notify(make(chan os.Signal, 1), reaperSignals...)
	parent := os.Getppid()
	if err := becomeSubreaper(); err != nil {
		return fail(fmt.Errorf("become a subreaper: %w", err))
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, reaperEnv+"=") && !strings.HasPrefix(kv, fenceEnv+"=") {
			env = append(env, kv)
		}
	}
	if os.Getenv(fenceEnv) != "" {
		// Every program start from here on is held until the transport
		// has looked at it, the shell's own first.
		if ok, err := installFence(report); err != nil {
			return fail(fmt.Errorf("exec fence: %w", err))
		} else if !ok {
			return 125
		}
	}
	channel := os.NewFile(reaperChannelFD, "channel")
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{Env: env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr, channel}})
	if err != nil {
		return fail(err)
	}
	shell := proc.Pid
	channel.Close()
	fmt.Fprintf(report, "P%d\n", shell)
	report.Close()
	go watchParent(parent)

	var status syscall.WaitStatus
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 125 // no children at all: cannot happen while the shell runs
		}
		if pid == shell {
			status = ws
			break
		}
	}
	killBelow(os.Getpid())
	switch {
	case status.Exited():
		return status.ExitStatus()
	case status.Signaled():
		return 128 + int(status.Signal())
	}
	return 125
}

// watchParent ends the session's processes when the program that started
// the reaper is gone (killed, crashed): the reaper is then re-parented, and
// nobody is left to close the session.
func watchParent(parent int) {
	for {
		time.Sleep(parentPoll)
		if os.Getppid() != parent {
			killBelow(os.Getpid())
			syscall.Exit(125)
		}
	}
}

// parentPoll is how often the reaper checks that its parent lives.
const parentPoll = 200 * time.Millisecond

// killBelow kills every process below the reaper and reaps them, in a
// bounded number of passes; it ends when the reaper has no child left.
func killBelow(self int) {
	for pass := 0; pass < 2000; pass++ {
		reap()
		procs, err := readProcs()
		if err != nil {
			return
		}
		below := descendants(procs, self)
		if len(below) == 0 {
			if _, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); errors.Is(err, syscall.ECHILD) {
				return
			}
		}
		for _, pid := range below {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
}

// reap collects every child that has ended, without waiting.
func reap() {
	for i := 0; i < 10000; i++ {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// descendants lists the live processes below root.
func descendants(procs []proctab.Info, root int) []int {
	return proctab.Jobs(procs, root, transport.JobMark{}, 0, 1, 0)
}

// readReport reads the reaper's report: the shell's pid, or why it could not
// start it.
func readReport(f io.Reader) (int, error) {
	var b [512]byte
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil || strings.IndexByte(string(b[:n]), '\n') >= 0 {
			break
		}
	}
	line, _, found := strings.Cut(string(b[:n]), "\n")
	switch {
	case !found:
		return 0, errors.New("the reaper ended before starting the shell")
	case strings.HasPrefix(line, "P"):
		pid, err := strconv.Atoi(line[1:])
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("the reaper reported %q", line)
		}
		return pid, nil
	case strings.HasPrefix(line, "E"):
		return 0, errors.New(line[1:])
	}
	return 0, fmt.Errorf("the reaper reported %q", line)
}
