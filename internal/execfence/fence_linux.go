//go:build linux && (amd64 || arm64)

package execfence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Built says whether this build can hold program starts.
const Built = true

// The kernel's structures for user notification (linux/seccomp.h).
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	PID   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// tsyncESRCH lets TSYNC and NEW_LISTENER be combined (Linux 5.7).
const tsyncESRCH = 1 << 4

// Limits on what is read of a held call's arguments.
const (
	maxPath     = 4096
	maxArgBytes = 4 << 20
	maxArgs     = 1 << 16
)

// abi is one system call convention the filter traps execs of.
type abi struct {
	arch             uint32
	execve, execveat []uint32 // the call numbers
	ptr              int      // pointer size in the caller's memory
}

// filter traps execve and execveat in each of the platform's ABIs and
// lets every other call through.
func filter() []unix.SockFilter {
	type ins = unix.SockFilter
	var prog []ins
	const notify, allow = unix.SECCOMP_RET_USER_NOTIF, unix.SECCOMP_RET_ALLOW
	for _, a := range abis {
		nrs := append(append([]uint32(nil), a.execve...), a.execveat...)
		// arch == a.arch ? (nr in nrs ? notify : allow) : next abi
		prog = append(prog, ins{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4})
		prog = append(prog, ins{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: a.arch, Jt: 0, Jf: uint8(2 + 2*len(nrs))})
		prog = append(prog, ins{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0})
		for _, nr := range nrs {
			prog = append(prog, ins{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nr, Jt: 0, Jf: 1})
			prog = append(prog, ins{Code: unix.BPF_RET | unix.BPF_K, K: notify})
		}
		prog = append(prog, ins{Code: unix.BPF_RET | unix.BPF_K, K: allow})
	}
	return append(prog, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: allow})
}

// Install puts the fence on the calling process, every thread of it, and
// everything it starts from now on, and returns the listener Serve reads.
// Without CAP_SYS_ADMIN the kernel asks for no_new_privs first, which is
// then set: set-user-ID programs (sudo) no longer gain privileges below.
func Install() (*os.File, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prog := filter()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// SPEC_ALLOW: the programs below keep the speculative-execution
	// mitigations they would have without the fence (a filter otherwise
	// turns on speculative store bypass protection, slowing them down).
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC | tsyncESRCH | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW)
	install := func() (uintptr, unix.Errno) {
		fd, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
		return fd, e
	}
	fd, e := install()
	if e == unix.EACCES {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("execfence: no_new_privs: %w", err)
		}
		fd, e = install()
	}
	runtime.KeepAlive(prog)
	if e != 0 {
		if e == unix.EINVAL || e == unix.ENOSYS {
			return nil, fmt.Errorf("%w: seccomp user notification: %v", ErrUnsupported, e)
		}
		if e == unix.EBUSY {
			// The kernel allows one listener in a process's filters.
			return nil, fmt.Errorf("%w: another supervisor already holds this process's program starts (execkit record's capture, or another seccomp listener)", ErrUnsupported)
		}
		return nil, fmt.Errorf("execfence: seccomp: %w", e)
	}
	return os.NewFile(fd, "seccomp-listener"), nil
}

// Serve answers the held starts of the processes below the fence whose
// listener (from Receive) it is given, one at a time, until every such
// process has ended or stop is closed. check returns nil to let a start
// go on, or an error (a *Denied says which rule) to fail it with EACCES.
// A start whose arguments cannot be read is failed too.
func Serve(listener *os.File, check func(*Attempt) error, stop <-chan struct{}) error {
	return Watch(listener, nil, nil, func(h *Held) {
		err := h.Err
		if err == nil {
			err = check(h.Attempt)
		}
		if err == nil {
			h.Continue()
		} else {
			h.Fail(unix.EACCES)
		}
	}, stop)
}

// Held is one program start held by the fence, as Watch hands it over:
// the supervisor answers it once, with Continue or Fail, and may first
// give the process descriptors (SetFD).
type Held struct {
	fd uintptr
	n  seccompNotif
	// Attempt is the start, or nil with Err when its arguments could not
	// be read (or were read from a process that is gone).
	Attempt *Attempt
	Err     error
}

// PID is the process making the call.
func (h *Held) PID() int { return int(h.n.PID) }

// Arch is the call's ABI (an AUDIT_ARCH_ value), Nr its number.
func (h *Held) Arch() uint32 { return h.n.Data.Arch }

// Nr is the call's number.
func (h *Held) Nr() int32 { return h.n.Data.Nr }

// Valid reports whether the call is still held (its process has not died).
func (h *Held) Valid() bool {
	return ioctl(h.fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&h.n.ID)) == nil
}

// Continue lets the call go on.
func (h *Held) Continue() error {
	return ioctl(h.fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&seccompNotifResp{ID: h.n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}))
}

// Fail makes the call fail with errno.
func (h *Held) Fail(errno unix.Errno) error {
	return ioctl(h.fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&seccompNotifResp{ID: h.n.ID, Error: -int32(errno)}))
}

// SetFD puts a copy of this process's descriptor src in the calling
// process at target, replacing what was there (Linux 5.9).
func (h *Held) SetFD(src, target int) error {
	add := struct {
		ID                     uint64
		Flags, Src, New, NewFl uint32
	}{ID: h.n.ID, Flags: unix.SECCOMP_ADDFD_FLAG_SETFD, Src: uint32(src), New: uint32(target)}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, h.fd, uintptr(unix.SECCOMP_IOCTL_NOTIF_ADDFD), uintptr(unsafe.Pointer(&add)))
	if e != 0 {
		return e
	}
	return nil
}

// Watch hands each held start of the processes below the fence to onHeld,
// one at a time, until every such process has ended or stop is closed;
// onHeld must answer it. Between starts it also waits on the descriptors
// extra returns (asked again after each wake-up; nil for none) and calls
// onExtra with each that is readable: a supervisor that does more on
// this thread (ptrace, which belongs to the thread that attached) is
// woken that way.
//
// It waits on a thread of its own, in poll(2), and asks the kernel to
// hand each held start to it and back on one CPU
// (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6): a held start then
// costs two context switches, not two trips through the scheduler.
func Watch(listener *os.File, extra func() []int, onExtra func(fd int), onHeld func(*Held), stop <-chan struct{}) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd := int(listener.Fd())
	_ = ioctlValue(uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) // older kernels: EINVAL
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("execfence: %w", err)
	}
	defer unix.Close(wake[0])
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
			unix.Write(wake[1], []byte{0})
		case <-done:
		}
		unix.Close(wake[1])
	}()
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake[0]), Events: unix.POLLIN}}
		if extra != nil {
			for _, e := range extra() {
				pfd = append(pfd, unix.PollFd{Fd: int32(e), Events: unix.POLLIN})
			}
		}
		if _, err := unix.Poll(pfd, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("execfence: poll: %w", err)
		}
		if pfd[1].Revents != 0 {
			return nil
		}
		for _, p := range pfd[2:] {
			if p.Revents != 0 && onExtra != nil {
				onExtra(int(p.Fd))
			}
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			if pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				return nil // nothing is left below the fence
			}
			continue
		}
		h := &Held{fd: uintptr(fd)}
		if err := ioctl(uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&h.n)); err != nil {
			continue // EINTR, or ENOENT: the caller is gone
		}
		h.Attempt, h.Err = read(&h.n)
		// The pid read from must still be the caller, else what was read
		// may be another process's memory.
		if h.Err == nil && !h.Valid() {
			h.Attempt, h.Err = nil, errors.New("execfence: the caller is gone")
		}
		onHeld(h)
	}
}

func ioctlValue(fd uintptr, req uint, v uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), v)
	if e != 0 {
		return e
	}
	return nil
}

func ioctl(fd uintptr, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// read gathers a held call's program and arguments from the caller.
func read(n *seccompNotif) (*Attempt, error) {
	var a *abi
	for i := range abis {
		if abis[i].arch == n.Data.Arch {
			a = &abis[i]
		}
	}
	if a == nil {
		return nil, fmt.Errorf("execfence: unknown architecture %#x", n.Data.Arch)
	}
	pid := int(n.PID)
	mem := &procMem{pid: pid}
	defer mem.Close()
	args := n.Data.Args
	dirfd, pathPtr, argvPtr, flags := int32(unix.AT_FDCWD), args[0], args[1], uint64(0)
	ptr := a.ptr
	if uint32(n.Data.Nr)&x32 != 0 {
		ptr = 4
	}
	if slices.Contains(a.execveat, uint32(n.Data.Nr)) {
		dirfd, pathPtr, argvPtr, flags = int32(args[0]), args[1], args[2], args[4]
	}
	name, err := readString(mem, pathPtr, maxPath)
	if err != nil {
		return nil, fmt.Errorf("execfence: program path: %w", err)
	}
	proc := "/proc/" + strconv.Itoa(pid)
	at := Attempt{PID: pid}
	switch {
	case name == "" && flags&unix.AT_EMPTY_PATH != 0:
		fdPath := proc + "/fd/" + strconv.Itoa(int(dirfd))
		at.Path, _ = os.Readlink(fdPath)
		at.File = fdPath
	case filepath.IsAbs(name):
		at.Path = filepath.Clean(name)
	default:
		at.Cwd, _ = os.Readlink(proc + "/cwd")
		base := at.Cwd
		if dirfd != unix.AT_FDCWD {
			base, _ = os.Readlink(proc + "/fd/" + strconv.Itoa(int(dirfd)))
		}
		at.Path = filepath.Join(base, name)
	}
	at.Resolved = at.Path
	if at.File == "" {
		// Only a link as the last component changes the program's name;
		// links above it (/bin -> usr/bin) are followed by the kernel alike.
		if fi, err := os.Lstat(at.Path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if r, err := filepath.EvalSymlinks(at.Path); err == nil {
				at.Resolved = r
			}
		}
		at.File = at.Resolved
	}
	if argvPtr != 0 {
		total := 0
		for i := 0; i < maxArgs; i++ {
			p, err := readPtr(mem, argvPtr+uint64(i*ptr), ptr)
			if err != nil {
				return nil, fmt.Errorf("execfence: argv: %w", err)
			}
			if p == 0 {
				break
			}
			if total >= maxArgBytes {
				at.Truncated = true
				break
			}
			s, err := readString(mem, p, maxArgBytes-total)
			if err != nil {
				return nil, fmt.Errorf("execfence: argv: %w", err)
			}
			total += len(s) + 1
			at.Argv = append(at.Argv, s)
		}
	}
	return &at, nil
}

// procMem reads another process's memory: with process_vm_readv (one
// system call a read, no descriptor to open), or, where that is refused
// (a container's seccomp profile refuses it without CAP_SYS_PTRACE),
// through /proc/PID/mem.
type procMem struct {
	pid  int
	file *os.File // /proc/PID/mem, once process_vm_readv was refused
}

// vmReadvRefused is set once process_vm_readv has been refused here.
var vmReadvRefused atomic.Bool

// ReadAt reads len(p) bytes at addr, or fewer up to a fault.
func (m *procMem) ReadAt(p []byte, addr int64) (int, error) {
	if !vmReadvRefused.Load() {
		local := []unix.Iovec{{Base: &p[0]}}
		local[0].SetLen(len(p))
		remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(p)}}
		n, err := unix.ProcessVMReadv(m.pid, local, remote, 0)
		if err == unix.EPERM || err == unix.ENOSYS {
			vmReadvRefused.Store(true)
		} else {
			if n < 0 {
				n = 0
			}
			if err == nil && n < len(p) {
				err = errors.New("short read")
			}
			return n, err
		}
	}
	if m.file == nil {
		f, err := os.Open("/proc/" + strconv.Itoa(m.pid) + "/mem")
		if err != nil {
			return 0, err
		}
		m.file = f
	}
	return m.file.ReadAt(p, addr)
}

// Close closes /proc/PID/mem if it was opened.
func (m *procMem) Close() {
	if m.file != nil {
		m.file.Close()
	}
}

func readPtr(mem *procMem, addr uint64, size int) (uint64, error) {
	var b [8]byte
	if _, err := mem.ReadAt(b[:size], int64(addr)); err != nil {
		return 0, err
	}
	if size == 4 {
		return uint64(binary.LittleEndian.Uint32(b[:4])), nil
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// readString reads a NUL-terminated string of at most limit bytes, a page
// at a time (a read must not cross into an unmapped page).
func readString(mem *procMem, addr uint64, limit int) (string, error) {
	if addr == 0 {
		return "", errors.New("null pointer")
	}
	var out []byte
	buf := make([]byte, 4096)
	for len(out) < limit {
		chunk := 4096 - int(addr%4096)
		n, err := mem.ReadAt(buf[:chunk], int64(addr))
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		if err != nil {
			return "", err
		}
		out = append(out, buf[:n]...)
		addr += uint64(n)
	}
	return string(out[:limit]), nil
}

// Send passes the listener over a Unix socket to the supervisor.
func Send(sock *os.File, listener *os.File) error {
	rights := unix.UnixRights(int(listener.Fd()))
	return unix.Sendmsg(int(sock.Fd()), []byte{'L'}, rights, nil, 0)
}

// Receive takes a listener sent by Send, ready for Serve. When the other
// side wrote something else instead, Receive returns its first byte and no
// listener.
func Receive(sock *os.File) (*os.File, byte, error) {
	oob := make([]byte, unix.CmsgSpace(4))
	var b [1]byte
	for i := 0; i < 100; i++ {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), b[:], oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("execfence: receive the listener: %w", err)
		}
		if n == 0 {
			return nil, 0, errors.New("execfence: the fenced process ended before sending its listener")
		}
		if oobn == 0 {
			return nil, b[0], nil
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return nil, 0, errors.New("execfence: no listener in the message")
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return nil, 0, errors.New("execfence: no listener in the message")
		}
		return os.NewFile(uintptr(fds[0]), "seccomp-listener"), b[0], nil
	}
	return nil, 0, errors.New("execfence: receive the listener: interrupted")
}
