//go:build linux

package execfence

import "golang.org/x/sys/unix"

// x32 exists only on x86-64.
const x32 = 0

var abis = []abi{
	{arch: unix.AUDIT_ARCH_AARCH64, execve: []uint32{221}, execveat: []uint32{281}, ptr: 8},
	{arch: unix.AUDIT_ARCH_ARM, execve: []uint32{11}, execveat: []uint32{387}, ptr: 4},
}
