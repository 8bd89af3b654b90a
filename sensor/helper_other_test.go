//go:build !amd64

package sensor

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// haveLegacyOpen: only amd64 of vigil's architectures has open(2) and creat(2).
const haveLegacyOpen = false

func rawOpen(string, int, int) (int, error) { return -1, unix.ENOSYS }

func rawCreat(string, int) (int, error) { return -1, unix.ENOSYS }

// helperCompat: ia32 syscalls exist on amd64 only.
func helperCompat([]string) int {
	fmt.Fprintln(os.Stderr, "no ia32 syscalls on this architecture")
	return 2
}
