//go:build !windows

package local

import (
	"bytes"
	"os"
	"strconv"
	"sync"

	"github.com/execkit/execkit/transport"
	"github.com/execkit/execkit/transport/internal/proctab"
)

// readProcs reads /proc/<pid>/stat for every process. Processes that vanish
// while it reads are skipped.
func readProcs() ([]proctab.Info, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make([]proctab.Info, 0, len(names))
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

func readStat(pid string, buf []byte) (proctab.Info, bool) {
	f, err := os.Open("/proc/" + pid + "/stat")
	if err != nil {
		return proctab.Info{}, false
	}
	n, _ := f.Read(buf)
	f.Close()
	return proctab.ParseStat(buf[:n])
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

// jobsOf returns the live processes below root (the reaper, or the shell
// when it runs without one), started after since (see proctab.Jobs), less
// the shell itself.
func jobsOf(root, shell int, since transport.JobMark) ([]int, error) {
	procs, err := readProcs()
	if err != nil {
		return nil, err
	}
	now, _ := uptimeTicks()
	jobs := proctab.Jobs(procs, root, since, now, 1, pidMax())
	out := jobs[:0]
	for _, pid := range jobs {
		if pid != shell {
			out = append(out, pid)
		}
	}
	return out, nil
}
