package testutil

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Fexecve runs the file open on fd, as fexecve(3) does: execveat with an
// empty path and AT_EMPTY_PATH. The kernel names the program /dev/fd/N,
// which is how fileless and deleted executables reach exec. It returns only
// on error.
func Fexecve(fd int, argv, env []string) error {
	empty, err := unix.BytePtrFromString("")
	if err != nil {
		return err
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	return fmt.Errorf("execveat: %w", errno)
}

// ExecMemfd copies the executable at src into a memfd called name and runs
// it from there with Fexecve, as fileless malware does: the process's
// executable is then /memfd:name (deleted). It returns only on error.
func ExecMemfd(name, src string, argv, env []string) error {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("creating a memfd: %w", err)
	}
	memfd := os.NewFile(uintptr(fd), "memfd:"+name)
	defer memfd.Close()
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(memfd, f); err != nil {
		return fmt.Errorf("copying %s into the memfd: %w", src, err)
	}
	return Fexecve(fd, argv, env)
}
