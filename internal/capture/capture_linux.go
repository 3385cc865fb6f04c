//go:build linux

package capture

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() { Main() }

// Main runs this process as the setup helper or as a shim when the
// environment says it is one (it does not return then); otherwise it
// returns. Any binary that links this package calls it from init; the
// small execkit-shim binary calls it from main.
func Main() {
	if n, err := strconv.Atoi(os.Getenv(EnvRelay)); err == nil && n > 0 {
		os.Exit(relay(n))
	}
	if cfg := os.Getenv(EnvSetup); cfg != "" {
		os.Exit(setup(cfg))
	}
	if sock := os.Getenv(EnvSocket); sock != "" {
		if real, ok := shimFor(); ok {
			os.Exit(shim(sock, real))
		}
	}
}

// Supported says whether capture can run here: it needs to make a mount
// namespace (CAP_SYS_ADMIN).
func Supported() error {
	var hdr unix.CapUserHeader
	var data [2]unix.CapUserData
	hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capture: capabilities: %w", err)
	}
	if data[0].Effective&(1<<unix.CAP_SYS_ADMIN) == 0 {
		return fmt.Errorf("capture: making a mount namespace needs CAP_SYS_ADMIN (run execkit record as root)")
	}
	return nil
}

// Shells lists the shell files to replace: what bash, sh, dash and zsh,
// /bin/sh, /bin/bash, /usr/bin/bash and $SHELL resolve to, where they
// exist.
func Shells() []string {
	names := []string{"/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash", "/usr/bin/sh"}
	for _, n := range []string{"bash", "sh", "dash", "zsh"} {
		if p, err := exec.LookPath(n); err == nil {
			names = append(names, p)
		}
	}
	if s := os.Getenv("SHELL"); s != "" {
		names = append(names, s)
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
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

// ShimBinary is the small program that stands in for the shells when it
// is installed next to execkit (cmd/execkit-shim): it starts in about a
// millisecond, where execkit itself takes tens. Without it execkit stands
// in itself.
const ShimBinary = "execkit-shim"

// FindShim returns the execkit-shim next to this binary, or this binary.
func FindShim() (path string, small bool) {
	self, err := os.Executable()
	if err != nil {
		return "", false
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return "", false
	}
	shim := filepath.Join(filepath.Dir(self), ShimBinary)
	if fi, err := os.Stat(shim); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return shim, true
	}
	return self, false
}

// Command returns the command that starts the agent with capture: this
// binary as the setup helper, in a new mount namespace.
func Command(cfg Config) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(self)
	cmd.Args[0] = "execkit-capture"
	cmd.Env = append(os.Environ(), EnvSetup+"="+string(b))
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return cmd, nil
}

// setup, in the new mount namespace, replaces the shells and becomes the
// agent; it returns only on failure.
func setup(raw string) int {
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil || len(cfg.Agent) == 0 {
		fmt.Fprintln(os.Stderr, "execkit: capture: bad setup")
		return 125
	}
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "execkit: capture: %v\n", err)
		return 125
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail(fmt.Errorf("make mounts private: %w", err))
	}
	self := cfg.Shim
	if self == "" {
		return fail(fmt.Errorf("no shim"))
	}
	real := map[string]string{}
	for i, sh := range cfg.Shells {
		keep := filepath.Join(cfg.Dir, "real-"+strconv.Itoa(i)+"-"+filepath.Base(sh))
		if err := os.WriteFile(keep, nil, 0o700); err != nil {
			return fail(err)
		}
		if err := unix.Mount(sh, keep, "", unix.MS_BIND, ""); err != nil {
			return fail(fmt.Errorf("keep %s: %w", sh, err))
		}
		if err := unix.Mount(self, sh, "", unix.MS_BIND, ""); err != nil {
			return fail(fmt.Errorf("replace %s: %w", sh, err))
		}
		real[sh] = keep
	}
	rb, _ := json.Marshal(real)
	env := []string{EnvSocket + "=" + cfg.Socket, EnvReal + "=" + string(rb), EnvAgent + "=" + strconv.Itoa(os.Getpid())}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvSetup+"=") && !strings.HasPrefix(kv, EnvSocket+"=") && !strings.HasPrefix(kv, EnvReal+"=") && !strings.HasPrefix(kv, EnvAgent+"=") {
			env = append(env, kv)
		}
	}
	path, err := exec.LookPath(cfg.Agent[0])
	if err != nil {
		return fail(fmt.Errorf("start the agent: %w", err))
	}
	err = syscall.Exec(path, cfg.Agent, env)
	return fail(fmt.Errorf("start the agent: %w", err))
}

// shimFor reports whether this process is a replaced shell, and the real
// shell's file.
func shimFor() (string, bool) {
	var real map[string]string
	if json.Unmarshal([]byte(os.Getenv(EnvReal)), &real) != nil {
		return "", false
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", false
	}
	r, ok := real[exe]
	return r, ok
}

// shim runs as a replaced shell: captured when it is an agent's command,
// the real shell at once otherwise.
func shim(sock, real string) int {
	argv := os.Args
	direct := func() int {
		err := syscall.Exec(real, argv, os.Environ())
		fmt.Fprintf(os.Stderr, "execkit: capture: %v\n", err)
		return 126
	}
	if os.Getenv(EnvInner) != "" || os.Getenv(EnvAgent) == strconv.Itoa(os.Getpid()) || startedByExecKit() {
		return direct()
	}
	switch kind, _ := Parse(argv); kind {
	case "":
		return direct() // an interactive shell
	case "script":
		// A script a shell runs is part of what that shell does (a
		// wrapper's helpers); one a program runs is a command.
		if parentIsShell() {
			return direct()
		}
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return direct() // the recorder is gone: the run is ending
	}
	defer conn.Close()
	cwd, _ := os.Getwd()
	if _, err := conn.Write(encode(Message{Type: "start", Argv: argv, Cwd: cwd, PID: os.Getpid(), PPID: os.Getppid()})); err != nil {
		return direct()
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadBytes('\n')
	var verdict Message
	if err != nil || json.Unmarshal(line, &verdict) != nil {
		return direct()
	}
	if !verdict.Allow {
		fmt.Fprintf(os.Stderr, "execkit: blocked by policy: %s\n", verdict.Reason)
		return 126
	}
	var wmu sync.Mutex
	send := func(m Message) {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		conn.Write(encode(m))
	}
	// Every descriptor the shim was given goes to the shell at the same
	// number; stdout and stderr through pipes unless they are terminals.
	files, copies, err := descriptors(send)
	if err != nil {
		return direct()
	}
	env := append(os.Environ(), EnvInner+"=1")
	start := time.Now()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	p, err := os.StartProcess(real, argv, &os.ProcAttr{Env: env, Files: files})
	for _, f := range copies.childEnds {
		f.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "execkit: capture: %v\n", err)
		send(Message{Type: "end", Exit: 126})
		return 126
	}
	go func() {
		for s := range sigs {
			p.Signal(s)
		}
	}()
	st, _ := p.Wait()
	copies.finish()
	ws, _ := st.Sys().(syscall.WaitStatus)
	end := Message{Type: "end", Exit: ws.ExitStatus(), MS: time.Since(start).Milliseconds()}
	if ws.Signaled() {
		end.Signal, end.Exit = int(ws.Signal()), 128+int(ws.Signal())
	}
	send(end) // the recorder journals the completion; the agent goes on
	if ws.Signaled() {
		signal.Reset(ws.Signal())
		syscall.Kill(os.Getpid(), ws.Signal())
		time.Sleep(time.Second)
	}
	return end.Exit
}

// parentIsShell reports whether the parent process runs a shell (one of
// the replaced files, or the shim standing in for one).
func parentIsShell() bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(os.Getppid()) + "/exe")
	if err != nil {
		return false
	}
	var real map[string]string
	json.Unmarshal([]byte(os.Getenv(EnvReal)), &real)
	if _, ok := real[exe]; ok {
		return true
	}
	for _, r := range real {
		if r == exe {
			return true
		}
	}
	return false
}

// startedByExecKit reports whether the parent is execkit's own session
// reaper: its shells are framed sessions, journaled already.
func startedByExecKit() bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(os.Getppid()) + "/cmdline")
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	return argv0 == "execkit-reaper"
}

// copies are the goroutines copying the captured streams.
type copies struct {
	wg        sync.WaitGroup
	childEnds []*os.File
	mu        sync.Mutex
	open      []relayed // streams still open when the copies stopped
}

// relayed is a stream left to the relay: the pipe and where it goes.
type relayed struct{ r, out *os.File }

// finish waits for the streams to end once the shell has: a process the
// command left running in the background may hold them open, and the
// agent, which waits for the shell alone, must not wait for it. What is
// still open after a moment is handed to a relay (this program again, in
// a session of its own), which copies it on until it ends.
func (c *copies) finish() {
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(200 * time.Millisecond):
	}
	c.mu.Lock()
	for _, s := range c.open {
		s.r.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	var files []*os.File
	for _, s := range c.open {
		files = append(files, s.r, s.out)
	}
	if len(files) == 0 {
		return
	}
	self, err := os.Executable()
	if err != nil {
		return
	}
	null, _ := os.Open(os.DevNull)
	p, err := os.StartProcess(self, []string{"execkit-capture-relay"}, &os.ProcAttr{
		Env:   []string{EnvRelay + "=" + strconv.Itoa(len(files)/2)},
		Files: append([]*os.File{null, null, null}, files...),
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err == nil {
		p.Release()
	}
}

// relay copies each pair of descriptors from 3 on (a pipe, then where it
// goes) until every pipe has ended.
func relay(pairs int) int {
	var wg sync.WaitGroup
	for i := 0; i < pairs; i++ {
		r, out := os.NewFile(uintptr(3+2*i), "pipe"), os.NewFile(uintptr(4+2*i), "out")
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(out, r) }()
	}
	wg.Wait()
	return 0
}

// descriptors lists the files the shell gets: each open descriptor at its
// number, with stdout and stderr replaced by pipes copied to where they
// went and to the recorder, unless they are terminals.
func descriptors(send func(Message)) ([]*os.File, *copies, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, nil, err
	}
	max := 2
	open := map[int]bool{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// Descriptors this process made for itself are close-on-exec.
		flags, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 && n > 2 {
			continue
		}
		open[n] = true
		if n > max {
			max = n
		}
	}
	files := make([]*os.File, max+1)
	for n := range open {
		files[n] = os.NewFile(uintptr(n), "fd"+strconv.Itoa(n))
	}
	c := &copies{}
	for n, stream := range map[int]string{1: "stdout", 2: "stderr"} {
		out := files[n]
		if out == nil || isTerminal(n) {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		files[n] = w
		c.childEnds = append(c.childEnds, w)
		c.wg.Add(1)
		c.mu.Lock()
		c.open = append(c.open, relayed{r, out})
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				k, err := r.Read(buf)
				if k > 0 {
					out.Write(buf[:k]) // first to where it was going, as it comes
					send(Message{Type: "out", Stream: stream, Data: append([]byte(nil), buf[:k]...)})
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return // left to the relay (finish)
				}
				if err != nil {
					c.mu.Lock()
					for i, s := range c.open {
						if s.r == r {
							c.open = append(c.open[:i], c.open[i+1:]...)
							break
						}
					}
					c.mu.Unlock()
					r.Close()
					return
				}
			}
		}()
	}
	return files, c, nil
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
