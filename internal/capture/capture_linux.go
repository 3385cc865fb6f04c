//go:build linux && (amd64 || arm64)

package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/execkit/execkit/internal/execfence"
)

func init() { Main() }

// Main runs this process as the setup helper or as the relay when the
// environment says it is one (it does not return then); otherwise it
// returns. It is called from this package's init.
func Main() {
	if spec := os.Getenv(EnvRelay); spec != "" {
		os.Exit(relay(spec))
	}
	if cfg := os.Getenv(EnvSetup); cfg != "" {
		os.Exit(setup(cfg))
	}
}

// Supported says whether capture can run here: seccomp user notification
// with descriptors given to the held process (Linux 5.9), pidfd_getfd
// (5.6) and ptrace.
func Supported() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	if major < 5 || major == 5 && minor < 9 {
		return fmt.Errorf("capture: needs Linux 5.9 or later (this is %d.%d)", major, minor)
	}
	return nil
}

// Shells lists the shell files on this machine: what bash, sh, dash and
// zsh, /bin/sh, /bin/bash, /usr/bin/bash and $SHELL resolve to, where they
// exist. A program is also taken for a shell by its name (sh, bash, dash,
// zsh, ksh, mksh, ash), wherever it is.
func Shells() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range shellPaths() {
		r, err := filepath.EvalSymlinks(n)
		if err != nil || seen[r] {
			continue
		}
		if fi, err := os.Stat(r); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// shellPaths are the paths shells are usually started by here.
func shellPaths() []string {
	names := []string{"/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/sh"}
	for _, n := range []string{"bash", "sh", "dash", "zsh"} {
		if p, err := exec.LookPath(n); err == nil {
			names = append(names, p)
		}
	}
	if s := os.Getenv("SHELL"); s != "" {
		names = append(names, s)
	}
	return names
}

// Command returns the command that starts the agent with capture (this
// binary as the setup helper, which puts the filter on itself and then
// becomes the agent), and the recorder's end of the socket the helper
// sends the filter's listener on (Receive).
func Command(cfg Config) (*exec.Cmd, *os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("capture: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "capture"), os.NewFile(uintptr(fds[1]), "capture")
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(self)
	cmd.Args[0] = "execkit-capture"
	cmd.Env = append(os.Environ(), EnvSetup+"="+string(b))
	cmd.ExtraFiles = []*os.File{theirs}
	return cmd, mine, nil
}

// setup puts the filter on this process and becomes the agent; it returns
// only when the agent cannot start. When the filter cannot be put on, the
// agent starts without it, and the recorder is told why.
func setup(raw string) int {
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil || len(cfg.Agent) == 0 {
		fmt.Fprintln(os.Stderr, "execkit: capture: bad setup")
		return 125
	}
	sock := os.NewFile(3, "capture")
	if l, err := execfence.Install(); err != nil {
		sock.Write([]byte("E" + err.Error()))
	} else {
		if err := execfence.Send(sock, l); err != nil {
			fmt.Fprintf(os.Stderr, "execkit: capture: %v\n", err)
			return 125
		}
		l.Close()
	}
	sock.Close()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvSetup+"=") {
			env = append(env, kv)
		}
	}
	path, err := exec.LookPath(cfg.Agent[0])
	if err == nil {
		err = syscall.Exec(path, cfg.Agent, env)
	}
	fmt.Fprintf(os.Stderr, "execkit: start the agent: %v\n", err)
	return 127
}

// Receive takes the filter's listener from the helper, or the reason it
// could not put the filter on.
func Receive(sock *os.File) (*os.File, error) {
	defer sock.Close()
	l, first, err := execfence.Receive(sock)
	if err != nil || l != nil {
		return l, err
	}
	rest, _ := io.ReadAll(io.LimitReader(sock, 4096))
	if first == 'E' {
		return nil, errors.New(string(rest))
	}
	return nil, errors.New("capture: the helper sent no listener")
}

// Ptrace requests and options not named by x/sys/unix's functions.
const (
	ptraceEventStop = 0x80       // PTRACE_EVENT_STOP
	wNoThread       = 0x20000000 // __WNOTHREAD
)

// observer follows an agent's shell commands; the fields marked T belong
// to the thread Observe runs on.
type observer struct {
	hooks  Hooks
	agent  int
	shells map[string]bool
	wake   int // the write end of the observing thread's wake-up pipe

	cmds    map[int]*running // traced commands by process id (T)
	refused map[int]bool     // processes to end with 126 at their stop (T)

	mu     sync.Mutex
	noted  map[string]bool   // kinds of note given
	ending sync.WaitGroup    // End calls under way
	copies map[*copying]bool // output copies still running
	loose  map[*running]bool // commands not yet ended
}

// running is one command being followed; pidfd is its process's
// descriptor (-1 when there is none).
type running struct {
	c       *Cmd
	pidfd   int
	streams sync.WaitGroup
	open    atomic.Int32 // streams not yet ended
	once    sync.Once
	// exited: its process has ended (T); exitedAt, when it was seen.
	exited   bool
	exitedAt time.Time
}

// copying is one stream of a command copied to where it was going; done
// is closed when its copy stops.
type copying struct {
	r, out *os.File
	done   chan struct{}
}

// Observe follows the agent (process agent, started under the filter
// whose listener this is) and its processes, calling hooks for each shell
// command they start, until all of them have ended or stop is closed.
// What is still running then is handed to a relay process, which copies
// its output on and lets its processes start programs; those commands end
// unknown (Cmd.Known false).
func Observe(listener *os.File, agent int, hooks Hooks, stop <-chan struct{}) error {
	// The thread stays locked to this goroutine and ends with it, so
	// that the processes it traces are let go when it does.
	runtime.LockOSThread()
	o := &observer{hooks: hooks, agent: agent, wake: -1, shells: map[string]bool{}, cmds: map[int]*running{},
		refused: map[int]bool{}, copies: map[*copying]bool{}, loose: map[*running]bool{}, noted: map[string]bool{}}
	for _, s := range Shells() {
		o.shells[s] = true
	}
	// The names these are reached by, too ($SHELL may be a link to one).
	for _, n := range shellPaths() {
		if r, err := filepath.EvalSymlinks(n); err == nil && o.shells[r] {
			o.shells[n] = true
		}
	}
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	o.wake = wake[1]
	defer func() {
		o.mu.Lock()
		o.wake = -1
		unix.Close(wake[0])
		unix.Close(wake[1])
		o.mu.Unlock()
	}()
	chld := make(chan os.Signal, 16)
	signal.Notify(chld, syscall.SIGCHLD)
	defer signal.Stop(chld)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			select {
			case <-chld:
				o.poke()
			case <-quit:
				return
			}
		}
	}()
	err := execfence.Watch(listener, func() []int {
		// The signal pipe, and each traced command's descriptor, readable
		// once it has ended: its end reaches this thread at once (a
		// traced process is not reaped by its parent until its tracer
		// has seen it end, so the agent waits for this).
		fds := []int{wake[0]}
		for _, r := range o.cmds {
			if r.pidfd >= 0 && !r.exited {
				fds = append(fds, r.pidfd)
			}
		}
		return fds
	}, func(fd int) {
		if fd == wake[0] {
			var b [64]byte
			for {
				if n, _ := unix.Read(wake[0], b[:]); n <= 0 {
					break
				}
			}
		}
		o.reap()
	}, o.held, stop)
	o.reap()
	o.handOff(listener)
	o.ending.Wait()
	return err
}

// held decides one program start.
func (o *observer) held(h *execfence.Held) {
	if h.Err != nil {
		h.Continue()
		return
	}
	pid := h.PID()
	if pid == o.agent || o.inside(pid) {
		h.Continue()
		return
	}
	argv := o.shellArgv(h.Attempt)
	if argv == nil {
		h.Continue()
		return
	}
	kind, text := Parse(argv)
	ppid := parentOf(pid)
	if kind == "" || kind == "script" && o.isShell(exeOf(ppid)) || startedByExecKit(ppid) {
		// An interactive shell; a script a shell runs (part of what that
		// shell does); the shell of one of execkit's own sessions.
		h.Continue()
		return
	}
	cwd := h.Attempt.Cwd
	if cwd == "" {
		cwd, _ = os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	}
	c := &Cmd{PID: pid, PPID: ppid, Argv: argv, Cwd: cwd, Kind: kind, Text: text, Start: time.Now()}
	if err := o.hooks.Begin(c); err != nil {
		o.refuse(h, err.Error())
		return
	}
	r := &running{c: c, pidfd: -1}
	o.mu.Lock()
	o.loose[r] = true
	o.mu.Unlock()
	o.tee(h, r)
	if err := seize(pid); err != nil {
		// Followed by its descriptor only: its end is seen, not its status.
		o.note("trace", fmt.Sprintf("a command could not be traced (ptrace: %v), so how it ended is not recorded (its entry ends unknown)", err))
		go o.untraced(r)
	} else {
		o.cmds[pid] = r
	}
	h.Continue()
}

// shellArgv returns the arguments of a start that runs a shell (for a
// script with a shell's #! line, as the kernel will start it), or nil.
func (o *observer) shellArgv(a *execfence.Attempt) []string {
	if len(a.Argv) == 0 {
		return nil
	}
	if o.isShell(a.Resolved) || o.isShell(a.Path) {
		return a.Argv
	}
	f, err := os.Open(a.File)
	if err != nil {
		return nil
	}
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	f.Close()
	interp := shebang(head[:n])
	if interp == nil || !o.isShell(interp[0]) {
		return nil
	}
	// The kernel passes the script as its caller named it.
	script := a.Path
	if n := a.Argv[0]; n == a.Path || a.Cwd != "" && filepath.Join(a.Cwd, n) == a.Path {
		script = n
	}
	return append(append(interp, script), a.Argv[1:]...)
}

// isShell says whether the program at path (as named, or resolved) is a
// shell: one of the shell files, or a program with a shell's name.
func (o *observer) isShell(path string) bool {
	return path != "" && (o.shells[path] || shellNames[filepath.Base(path)])
}

// inside says whether pid is a recorded command or runs below one.
func (o *observer) inside(pid int) bool {
	for i := 0; i < 64 && pid > 1 && pid != o.agent; i++ {
		if o.cmds[pid] != nil {
			return true
		}
		pid = parentOf(pid)
	}
	return false
}

// tee replaces the command's stdout and stderr, unless they are
// terminals, by pipes copied to where they went and to the recorder.
func (o *observer) tee(h *execfence.Held, r *running) {
	pidfd, err := unix.PidfdOpen(r.c.PID, unix.PIDFD_NONBLOCK)
	if err != nil {
		o.note("pidfd", fmt.Sprintf("a command's output could not be copied (pidfd_open: %v), so it is not recorded", err))
		return
	}
	r.pidfd = pidfd
	for _, s := range []struct {
		fd   int
		name string
	}{{1, "stdout"}, {2, "stderr"}} {
		orig, err := unix.PidfdGetfd(pidfd, s.fd, 0)
		if err != nil {
			if err != unix.EBADF { // EBADF: the command has no such stream
				o.note("getfd", fmt.Sprintf("a command's %s could not be copied (pidfd_getfd: %v), so it is not recorded", s.name, err))
			}
			continue
		}
		if _, err := unix.IoctlGetTermios(orig, unix.TCGETS); err == nil {
			unix.Close(orig) // a terminal: the command keeps it
			continue
		}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			unix.Close(orig)
			continue
		}
		if err := h.SetFD(p[1], s.fd); err != nil {
			o.note("addfd", fmt.Sprintf("a command's %s could not be copied (seccomp addfd: %v), so it is not recorded", s.name, err))
			unix.Close(p[0])
			unix.Close(p[1])
			unix.Close(orig)
			continue
		}
		unix.Close(p[1])
		// Non-blocking, so that a read can be stopped (handOff).
		unix.SetNonblock(p[0], true)
		cp := &copying{r: os.NewFile(uintptr(p[0]), s.name), out: os.NewFile(uintptr(orig), s.name), done: make(chan struct{})}
		o.mu.Lock()
		o.copies[cp] = true
		o.mu.Unlock()
		r.streams.Add(1)
		r.open.Add(1)
		go o.copy(r, cp, s.name)
	}
}

// copy copies one stream, first to where it was going, as it comes.
func (o *observer) copy(r *running, cp *copying, stream string) {
	defer r.streams.Done()
	defer close(cp.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := cp.r.Read(buf)
		if n > 0 {
			cp.out.Write(buf[:n])
			o.hooks.Output(r.c, stream, buf[:n])
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return // handed to the relay
		}
		if err != nil {
			o.mu.Lock()
			delete(o.copies, cp)
			o.mu.Unlock()
			cp.r.Close()
			cp.out.Close()
			if r.open.Add(-1) == 0 {
				o.poke() // the command may be let go now
			}
			return
		}
	}
}

// streamGrace is how long a command's streams are waited for once it has
// ended: a process it left in the background may hold them open.
const streamGrace = 200 * time.Millisecond

// end calls End once the command's streams are done or after streamGrace.
func (o *observer) end(r *running) {
	r.once.Do(func() {
		o.ending.Add(1)
		go func() {
			defer o.ending.Done()
			done := make(chan struct{})
			go func() { r.streams.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(streamGrace):
			}
			o.mu.Lock()
			delete(o.loose, r)
			o.mu.Unlock()
			o.hooks.End(r.c)
		}()
	})
}

// untraced waits for the end of a command that could not be traced.
func (o *observer) untraced(r *running) {
	if r.pidfd >= 0 {
		pfd := []unix.PollFd{{Fd: int32(r.pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
				break
			}
		}
		unix.Close(r.pidfd)
	}
	r.c.Duration, r.c.Exit = time.Since(r.c.Start), -1
	o.end(r)
}

// reap takes the events of the traced processes. A command that has
// ended is let go (and so reaped by its parent, the agent) only once its
// output has been copied on, or after streamGrace when a process it left
// in the background holds its streams: the agent, which goes on when its
// command ends, would otherwise print its next words before the last of
// the command's.
func (o *observer) reap() {
	now := time.Now()
	for pid, r := range o.cmds {
		if !r.exited && r.pidfd >= 0 {
			pfd := []unix.PollFd{{Fd: int32(r.pidfd), Events: unix.POLLIN}}
			if n, _ := unix.Poll(pfd, 0); n > 0 {
				r.exited, r.exitedAt = true, now
				time.AfterFunc(streamGrace, o.poke)
			}
		}
		if !r.exited {
			o.step(pid, r)
			continue
		}
		if r.open.Load() > 0 && now.Sub(r.exitedAt) < streamGrace {
			continue
		}
		var ws unix.WaitStatus
		p, err := unix.Wait4(pid, &ws, unix.WALL|wNoThread, nil)
		o.ended(pid, r, ws, p == pid && err == nil)
	}
	for pid := range o.refused {
		o.step(pid, nil)
	}
}

// step takes one waiting event of a traced process, if it has one.
func (o *observer) step(pid int, r *running) {
	var ws unix.WaitStatus
	p, err := unix.Wait4(pid, &ws, unix.WNOHANG|unix.WALL|wNoThread, nil)
	if err != nil || p != pid {
		if err == unix.ECHILD {
			delete(o.refused, pid)
		}
		return
	}
	switch {
	case ws.Exited() || ws.Signaled():
		delete(o.refused, pid)
		if r != nil {
			o.ended(pid, r, ws, true)
		}
	case !ws.Stopped():
	case int(ws)>>16 == ptraceEventStop:
		if o.refused[pid] {
			exitWith(pid, 126)
			unix.PtraceCont(pid, 0)
			return
		}
		switch ws.StopSignal() {
		case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
			// A group stop: it stays stopped until continued.
			unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_LISTEN, uintptr(pid), 0, 0, 0, 0)
		default:
			unix.PtraceCont(pid, 0)
		}
	default:
		// A signal on its way to the command: passed on.
		unix.PtraceCont(pid, int(ws.StopSignal()))
	}
}

// ended records how a traced command ended, once it has been reaped here.
func (o *observer) ended(pid int, r *running, ws unix.WaitStatus, known bool) {
	delete(o.cmds, pid)
	r.c.Duration = time.Since(r.c.Start)
	if known {
		setStatus(r.c, ws)
	} else {
		r.c.Exit = -1
	}
	if r.pidfd >= 0 {
		unix.Close(r.pidfd)
		r.pidfd = -1
	}
	o.end(r)
}

// note tells the recorder, once for each kind, what it cannot record.
func (o *observer) note(kind, msg string) {
	o.mu.Lock()
	seen := o.noted[kind]
	o.noted[kind] = true
	o.mu.Unlock()
	if !seen && o.hooks.Note != nil {
		o.hooks.Note(msg)
	}
}

// poke wakes the observing thread, while it observes.
func (o *observer) poke() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.wake >= 0 {
		unix.Write(o.wake, []byte{0})
	}
}

// setStatus sets the command's end from a wait status.
func setStatus(c *Cmd, ws unix.WaitStatus) {
	c.Known = true
	switch {
	case ws.Signaled():
		c.Signal = int(ws.Signal())
		c.Exit = 128 + c.Signal
	default:
		c.Exit = ws.ExitStatus()
	}
}

// refuse keeps a command from running: the reason on its stderr, and the
// process ends with 126, as a shell's refused command does. (It is made to
// call exit_group in place of its execve; where that cannot be done, its
// execve fails with EACCES.)
func (o *observer) refuse(h *execfence.Held, reason string) {
	pid := h.PID()
	if pidfd, err := unix.PidfdOpen(pid, 0); err == nil {
		if fd, err := unix.PidfdGetfd(pidfd, 2, 0); err == nil {
			unix.Write(fd, []byte("execkit: blocked by policy: "+reason+"\n"))
			unix.Close(fd)
		}
		unix.Close(pidfd)
	}
	if h.Arch() == nativeArch && h.Nr()&0x40000000 == 0 {
		if err := seize(pid); err == nil {
			if err := unix.PtraceInterrupt(pid); err == nil {
				o.refused[pid] = true
			}
		}
	}
	h.Fail(unix.EACCES)
}

// handOff, once the agent has ended, hands what is still running to a
// relay: the copies of commands' output, and the listener (so that the
// processes left can still start programs). Commands not ended yet end
// unknown.
func (o *observer) handOff(listener *os.File) {
	o.mu.Lock()
	var cps []*copying
	for cp := range o.copies {
		cp.r.SetReadDeadline(time.Now())
		cps = append(cps, cp)
	}
	var loose []*running
	for r := range o.loose {
		loose = append(loose, r)
	}
	o.mu.Unlock()
	for _, r := range loose {
		o.end(r)
	}
	// The copies stop at their deadline (or have ended).
	for _, cp := range cps {
		select {
		case <-cp.done:
		case <-time.After(2 * time.Second):
		}
	}
	var files []*os.File
	o.mu.Lock()
	for cp := range o.copies {
		files = append(files, cp.r, cp.out)
	}
	o.mu.Unlock()
	live := true
	pfd := []unix.PollFd{{Fd: int32(listener.Fd()), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
		live = false
	}
	if len(files) == 0 && !live {
		return
	}
	self, err := os.Executable()
	if err != nil {
		return
	}
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	env := strconv.Itoa(len(files) / 2)
	third := null
	if live {
		env, third = env+"+listener", listener
	}
	p, err := os.StartProcess(self, []string{"execkit-capture-relay"}, &os.ProcAttr{
		Env:   []string{EnvRelay + "=" + env},
		Files: append([]*os.File{null, null, null, third}, files...),
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err == nil {
		p.Release()
	}
}

// relay copies each pair of descriptors from 4 on (a pipe, then where it
// goes) until every pipe has ended, and lets the starts held by the
// listener at 3 (when it is one) go on until no process is left under it.
func relay(spec string) int {
	n, listener := strings.CutSuffix(spec, "+listener")
	pairs, _ := strconv.Atoi(n)
	var wg sync.WaitGroup
	for i := 0; i < pairs; i++ {
		r, out := os.NewFile(uintptr(4+2*i), "pipe"), os.NewFile(uintptr(5+2*i), "out")
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(out, r) }()
	}
	if listener {
		l := os.NewFile(3, "listener")
		wg.Add(1)
		go func() {
			defer wg.Done()
			execfence.Serve(l, func(*execfence.Attempt) error { return nil }, nil)
		}()
	}
	wg.Wait()
	return 0
}

// seize traces pid for its exit only.
func seize(pid int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// seizeOnly traces pid with no events.
func seizeOnly(pid int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// parentOf reads a process's parent from /proc (0 when it cannot).
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func exeOf(pid int) string {
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return exe
}

// startedByExecKit reports whether pid is execkit's own session reaper:
// its shells are framed sessions, journaled already.
func startedByExecKit(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	return argv0 == "execkit-reaper"
}
