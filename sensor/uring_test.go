package sensor

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// uringOpenat opens path with io_uring's IORING_OP_OPENAT, which no open
// syscall sees, and returns the CQE result (an fd or -errno).
func uringOpenat(path string, flags int) (int32, error) {
	r, err := testutil.NewURing(0)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return r.Do(testutil.SQE{Op: testutil.IORingOpOpenat, FD: unix.AT_FDCWD, Addr: testutil.CString(path), OpFlags: uint32(flags)})
}

// helperURing makes the io_uring requests of testutil.URingRequests'
// scenario args and prints each result as "res=N".
func helperURing(args []string) int {
	res, err := testutil.URingRequests(args)
	for _, r := range res {
		fmt.Printf("res=%d\n", r)
	}
	if err != nil {
		fmt.Println(err)
		return 3
	}
	return 0
}

// helperOpenByHandle opens path through a file handle and prints the mount
// descriptor and the new one as "res=N" lines.
func helperOpenByHandle(path string) int {
	mfd, fd, err := testutil.OpenByHandle(path, filepath.Dir(path))
	if err != nil {
		fmt.Println(err)
		return 3
	}
	fmt.Printf("res=%d\nres=%d\n", mfd, fd)
	return 0
}
