//go:build linux

package capture

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// nativeArch is the ABI of this build's processes.
const nativeArch = unix.AUDIT_ARCH_AARCH64

// svc0 is the instruction that makes a system call.
const svc0 = 0xd4000001

// exitWith makes a process stopped on its way back from a system call
// (here, a refused execve) call exit_group(code) instead of going on: its
// program counter goes onto the svc instruction (arm64 may have moved it
// there already, to restart the call) with exit_group's number.
func exitWith(pid, code int) error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return err
	}
	var ins [4]byte
	if _, err := unix.PtracePeekText(pid, uintptr(regs.Pc), ins[:]); err != nil || binary.LittleEndian.Uint32(ins[:]) != svc0 {
		regs.Pc -= 4
	}
	regs.Regs[8] = unix.SYS_EXIT_GROUP
	regs.Regs[0] = uint64(code)
	return unix.PtraceSetRegs(pid, &regs)
}
