//go:build linux

package capture

import "golang.org/x/sys/unix"

// nativeArch is the ABI of this build's processes.
const nativeArch = unix.AUDIT_ARCH_X86_64

// exitWith makes a process stopped on its way back from a system call
// (here, a refused execve) call exit_group(code) instead of going on: its
// instruction pointer goes back onto the syscall instruction (two bytes)
// with exit_group's number, and the kernel is kept from restarting the
// call it came back from.
func exitWith(pid, code int) error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return err
	}
	regs.Rip -= 2
	regs.Rax = unix.SYS_EXIT_GROUP
	regs.Orig_rax = ^uint64(0)
	regs.Rdi = uint64(code)
	return unix.PtraceSetRegs(pid, &regs)
}
