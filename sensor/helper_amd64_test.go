package sensor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// haveLegacyOpen: amd64 has the open(2) and creat(2) syscalls; newer
// architectures (arm64) only have openat.
const haveLegacyOpen = true

func rawOpen(path string, flags, mode int) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	fd, _, errno := unix.Syscall(unix.SYS_OPEN, uintptr(unsafe.Pointer(p)), uintptr(flags), uintptr(mode))
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func rawCreat(path string, mode int) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	fd, _, errno := unix.Syscall(unix.SYS_CREAT, uintptr(unsafe.Pointer(p)), uintptr(mode), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
