// Package proctab reads Linux process tables, as found in /proc/<pid>/stat,
// and picks out the processes that belong to a shell. The local transport
// feeds it this machine's table; the SSH and Docker transports feed it a
// table read on the target.
package proctab

import (
	"bytes"
	"strconv"
	"time"

	"github.com/execkit/execkit/transport"
)

// Info is what the process table tells about one process.
type Info struct {
	PID, PPID, PGID, SID int
	State                byte
	StartTicks           uint64 // clock ticks after boot
}

// ClockTicks is USER_HZ; Linux fixes it at 100 for user space.
const ClockTicks = 100

// ParseStat parses the fields of one /proc/<pid>/stat line that execkit
// needs. The command name is in parentheses and may itself contain spaces
// and ')', so the fields are counted from the last ')'.
func ParseStat(b []byte) (Info, bool) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open <= 0 || closing < open || closing+2 >= len(b) {
		return Info{}, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Info{}, false
	}
	// Fields after the name: 3=state 4=ppid 5=pgrp 6=session ... 22=starttime.
	f := bytes.Fields(b[closing+2:])
	if len(f) < 20 {
		return Info{}, false
	}
	p := Info{PID: pid, State: f[0][0]}
	p.PPID, _ = strconv.Atoi(string(f[1]))
	p.PGID, _ = strconv.Atoi(string(f[2]))
	p.SID, _ = strconv.Atoi(string(f[3]))
	p.StartTicks, _ = strconv.ParseUint(string(f[19]), 10, 64)
	return p, true
}

// ParseLines parses stat lines, one per process, as `cat /proc/[0-9]*/stat`
// prints them. Lines that do not parse are skipped.
func ParseLines(b []byte) []Info {
	var out []Info
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if p, ok := ParseStat(line); ok {
			out = append(out, p)
		}
	}
	return out
}

// Newer reports whether a process started after mark m: clearly later by
// its start time, or close to the mark (within slack ticks either way: the
// clock tick, and on a remote target the uncertainty of placing the mark on
// its clock) with a process id issued after m's (allowing for the ids
// wrapping around at pidMax).
func Newer(p Info, m transport.JobMark, markTicks, slack uint64, pidMax int) bool {
	if m.IsZero() {
		return true
	}
	switch {
	case p.StartTicks > markTicks+slack:
		return true
	case p.StartTicks+slack < markTicks:
		return false
	case m.LastPID == 0:
		return p.StartTicks >= markTicks
	}
	d := p.PID - m.LastPID
	if d < 0 {
		d += pidMax
	}
	return d > 0 && d < pidMax/2
}

// Jobs returns the live processes that belong to the shell with the given
// pid, parents before their children: its descendants, plus anything still in its process group or session
// (an orphaned grandchild re-parented to init keeps those). The shell itself
// is excluded, and so is every process started before since. When since
// carries the target's ticks they place it; otherwise nowTicks, the
// target's time since boot read with the table, places since.Time on the
// target's clock. slack (in ticks) is how far off that placing may be.
func Jobs(procs []Info, shell int, since transport.JobMark, nowTicks, slack uint64, pidMax int) []int {
	children := make(map[int][]int, len(procs))
	byPid := make(map[int]Info, len(procs))
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p.PID)
		byPid[p.PID] = p
	}
	// Breadth first from the shell, so that parents come before their
	// children: signalled in that order, a script dies before the command
	// it waits for, instead of seeing it end and running on.
	member := map[int]bool{}
	var order []int
	queue := append([]int(nil), children[shell]...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if member[pid] {
			continue
		}
		member[pid] = true
		order = append(order, pid)
		queue = append(queue, children[pid]...)
	}
	for _, p := range procs {
		if p.PID != shell && !member[p.PID] && (p.PGID == shell || p.SID == shell) {
			member[p.PID] = true
			order = append(order, p.PID) // orphans, re-parented away
		}
	}
	var markTicks uint64
	switch {
	case since.IsZero():
	case since.Ticks != 0:
		markTicks = since.Ticks
	default:
		ago := uint64(time.Since(since.Time) / (time.Second / ClockTicks))
		if nowTicks > ago {
			markTicks = nowTicks - ago
		}
	}
	if pidMax <= 0 {
		pidMax = 1 << 22
	}
	var out []int
	for _, pid := range order {
		p, ok := byPid[pid]
		if !ok || p.State == 'Z' || !Newer(p, since, markTicks, slack, pidMax) {
			continue
		}
		out = append(out, pid)
	}
	return out
}
