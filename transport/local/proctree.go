package local

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/execkit/execkit/transport"
)

// procInfo is what the process table tells about one process.
type procInfo struct {
	pid, ppid, pgid, sid int
	state                byte
	startTicks           uint64 // clock ticks after boot
}

// clockTicks is USER_HZ; Linux fixes it at 100 for user space.
const clockTicks = 100

// readProcs reads /proc/<pid>/stat for every process. Processes that vanish
// while it reads are skipped.
func readProcs() ([]procInfo, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make([]procInfo, 0, len(names))
	buf := make([]byte, 1024)
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		if p, ok := readStat(n, buf); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func readStat(pid string, buf []byte) (procInfo, bool) {
	f, err := os.Open("/proc/" + pid + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	n, _ := f.Read(buf)
	f.Close()
	return parseStat(buf[:n])
}

// parseStat parses the fields of /proc/<pid>/stat that execkit needs. The
// command name is in parentheses and may itself contain spaces and ')', so
// the fields are counted from the last ')'.
func parseStat(b []byte) (procInfo, bool) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open <= 0 || closing < open || closing+2 >= len(b) {
		return procInfo{}, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return procInfo{}, false
	}
	// Fields after the name: 3=state 4=ppid 5=pgrp 6=session ... 22=starttime.
	f := bytes.Fields(b[closing+2:])
	if len(f) < 20 {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, state: f[0][0]}
	p.ppid, _ = strconv.Atoi(string(f[1]))
	p.pgid, _ = strconv.Atoi(string(f[2]))
	p.sid, _ = strconv.Atoi(string(f[3]))
	p.startTicks, _ = strconv.ParseUint(string(f[19]), 10, 64)
	return p, true
}

// uptimeTicks reads the time since boot in clock ticks.
func uptimeTicks() (uint64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, false
	}
	return uint64(ts.Sec)*clockTicks + uint64(ts.Nsec)/(1e9/clockTicks), true
}

// loadavg stays open: a pread of it is one system call, where opening it
// again for every command costs far more.
var loadavg struct {
	sync.Mutex
	f *os.File
}

// lastPID reads the newest process id on the system from /proc/loadavg
// (its last field), or 0.
func lastPID() int {
	loadavg.Lock()
	defer loadavg.Unlock()
	if loadavg.f == nil {
		f, err := os.Open("/proc/loadavg")
		if err != nil {
			return 0
		}
		loadavg.f = f
	}
	var buf [128]byte
	n, err := loadavg.f.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		return 0
	}
	f := bytes.Fields(buf[:n])
	if len(f) < 5 {
		return 0
	}
	pid, _ := strconv.Atoi(string(f[4]))
	return pid
}

// pidMax is the kernel's limit, past which process ids wrap.
func pidMax() int {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err == nil {
		if n, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil {
			return n
		}
	}
	return 1 << 22
}

// newerThan reports whether a process started after mark m: clearly later
// by its start time, or in the same clock tick with a process id issued
// after m's (allowing for the ids wrapping around).
func newerThan(p procInfo, m transport.JobMark, markTicks uint64, max int) bool {
	if m.IsZero() {
		return true
	}
	switch {
	case p.startTicks > markTicks+1:
		return true
	case p.startTicks+1 < markTicks:
		return false
	case m.LastPID == 0:
		return p.startTicks >= markTicks
	}
	d := p.pid - m.LastPID
	if d < 0 {
		d += max
	}
	return d > 0 && d < max/2
}

// jobsOf returns the live processes that belong to the shell with the given
// pid: its descendants, plus anything still in its process group or session
// (an orphaned grandchild re-parented to init keeps those). The shell itself
// is excluded, and so is every process started before since.
func jobsOf(shell int, since transport.JobMark) ([]int, error) {
	procs, err := readProcs()
	if err != nil {
		return nil, err
	}
	children := make(map[int][]int, len(procs))
	byPid := make(map[int]procInfo, len(procs))
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
		byPid[p.pid] = p
	}
	member := map[int]bool{}
	stack := append([]int(nil), children[shell]...)
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if member[pid] {
			continue
		}
		member[pid] = true
		stack = append(stack, children[pid]...)
	}
	for _, p := range procs {
		if p.pid != shell && (p.pgid == shell || p.sid == shell) {
			member[p.pid] = true
		}
	}
	var markTicks uint64
	if !since.IsZero() {
		now, _ := uptimeTicks()
		ago := uint64(time.Since(since.Time) / (time.Second / clockTicks))
		if now > ago {
			markTicks = now - ago
		}
	}
	max := pidMax()
	var out []int
	for pid := range member {
		p, ok := byPid[pid]
		if !ok || p.state == 'Z' || !newerThan(p, since, markTicks, max) {
			continue
		}
		out = append(out, pid)
	}
	return out, nil
}
