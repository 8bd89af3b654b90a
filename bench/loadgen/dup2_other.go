//go:build !amd64

package loadgen

import "golang.org/x/sys/unix"

// dup2 issues dup3 with no flags: the newer syscall ABIs (arm64, riscv64)
// have no dup2, and their C libraries implement it so.
func dup2(oldfd, newfd int) unix.Errno {
	_, _, errno := unix.Syscall(unix.SYS_DUP3, uintptr(oldfd), uintptr(newfd), 0)
	return errno
}
