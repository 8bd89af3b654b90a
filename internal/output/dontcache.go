package output

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rwfDontCache is RWF_DONTCACHE (Linux 6.14, include/uapi/linux/fs.h): a
// buffered write whose pages leave the page cache once written back.
const rwfDontCache = 0x80

// DropBehind writes batches of records to a regular file with
// RWF_DONTCACHE, so that the event stream does not fill the page cache: on
// this project's CI machine a sustained stream into new page-cache pages
// cost 1.4-2.1 ns of kernel time a byte, against 0.4-0.6 ns with the flag
// (6 GiB in 256 KiB writes), which is most of vigil's CPU per event at
// 200,000 events/s. Whether the kernel and the file system take the flag
// is learnt at the first write: a refusal (EOPNOTSUPP, before anything is
// written: kernels before 6.14, file systems without it, such as tmpfs)
// turns it off for good and is reported to off; the batch and all later
// ones are then written normally.
type DropBehind struct {
	f   *os.File // nil: not a regular file, or the flag was refused
	fd  uintptr
	off func(error)
}

// NewDropBehind returns a DropBehind for f, active when f is a regular file;
// off, if not nil, is called once if the kernel refuses the flag. f must stay
// open while the DropBehind is used.
func NewDropBehind(f *os.File, off func(error)) *DropBehind {
	d := &DropBehind{off: off}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return d
	}
	// A regular file is not in Go's poller, so Fd leaves its mode alone.
	d.f, d.fd = f, f.Fd()
	return d
}

// Active reports whether writes still carry RWF_DONTCACHE.
func (d *DropBehind) Active() bool { return d != nil && d.f != nil }

// Write writes b to the file at its offset (appending under O_APPEND) with
// RWF_DONTCACHE, all of it, allocating nothing. It reports false, having
// written nothing, when the flag is off or was just refused: the caller
// writes b normally.
func (d *DropBehind) Write(b []byte) (bool, error) {
	if !d.Active() {
		return false, nil
	}
	for len(b) > 0 {
		iov := unix.Iovec{Base: &b[0]}
		iov.SetLen(len(b))
		// pwritev2(fd, iov, 1, pos -1 (the file's offset), 0, flags).
		n, _, errno := unix.Syscall6(unix.SYS_PWRITEV2, d.fd, uintptr(unsafe.Pointer(&iov)), 1,
			^uintptr(0), 0, rwfDontCache)
		runtime.KeepAlive(d.f)
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EOPNOTSUPP:
			d.f = nil
			if d.off != nil {
				d.off(errno)
			}
			return false, nil
		case errno != 0:
			return true, &os.PathError{Op: "write", Path: d.f.Name(), Err: errno}
		}
		b = b[n:]
	}
	return true, nil
}
