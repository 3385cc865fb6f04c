//go:build linux

package execfence

import "golang.org/x/sys/unix"

// x32 marks the call numbers of the x32 ABI, which shares x86-64's
// architecture value and has 4-byte pointers.
const x32 = 0x40000000

var abis = []abi{
	{arch: unix.AUDIT_ARCH_X86_64, execve: []uint32{59, x32 | 520}, execveat: []uint32{322, x32 | 545}, ptr: 8},
	{arch: unix.AUDIT_ARCH_I386, execve: []uint32{11}, execveat: []uint32{358}, ptr: 4},
}
