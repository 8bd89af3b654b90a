package loadgen

import "golang.org/x/sys/unix"

// dup2 issues the dup2 system call itself: unix.Dup2 issues dup3, which
// tracers see as another syscall.
func dup2(oldfd, newfd int) unix.Errno {
	_, _, errno := unix.Syscall(unix.SYS_DUP2, uintptr(oldfd), uintptr(newfd), 0)
	return errno
}
