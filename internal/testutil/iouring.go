package testutil

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// io_uring ABI (include/uapi/linux/io_uring.h), enough for the requests
// vigil's tests make.
const (
	// IORingSetupSQPoll is IORING_SETUP_SQPOLL: a kernel thread of the
	// process submits the requests, with no syscall.
	IORingSetupSQPoll = 1 << 1

	// Opcodes (IORING_OP_*).
	IORingOpNop       = 0
	IORingOpConnect   = 16
	IORingOpOpenat    = 18
	IORingOpRead      = 22
	IORingOpRenameat  = 35
	IORingOpUnlinkat  = 36
	IORingOpMkdirat   = 37
	IORingOpSymlinkat = 38
	IORingOpLinkat    = 39

	ioringOffSQRing      = 0
	ioringOffCQRing      = 0x8000000
	ioringOffSQEs        = 0x10000000
	ioringEnterGetevents = 1
	ioringEnterSQWakeup  = 2
	ioringSQNeedWakeup   = 1
	ioringSQESize        = 64
	ioringCQESize        = 16
	ioringSQEOffFD       = 4
	ioringSQEOffAddr2    = 8
	ioringSQEOffAddr     = 16
	ioringSQEOffLen      = 24
	ioringSQEOffOpFlags  = 28
	ioringCQEOffRes      = 8
)

type ioSQRingOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                        uint64
}

type ioCQRingOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, CQEs, Flags, Resv1 uint32
	UserAddr                                                        uint64
}

type ioUringParams struct {
	SQEntries, CQEntries, Flags, SQThreadCPU, SQThreadIdle, Features, WQFD uint32
	Resv                                                                   [3]uint32
	SQOff                                                                  ioSQRingOffsets
	CQOff                                                                  ioCQRingOffsets
}

// URing is an io_uring instance of 4 entries driven by raw syscalls
// (io_uring_setup, mmap of the rings, io_uring_enter), one request at a
// time: what a program that avoids the open syscalls does.
type URing struct {
	fd          int
	p           ioUringParams
	sq, cq, sqe []byte
}

// NewURing sets up a ring with setup flags (IORING_SETUP_*).
func NewURing(flags uint32) (*URing, error) {
	r := &URing{}
	r.p.Flags = flags
	if flags&IORingSetupSQPoll != 0 {
		r.p.SQThreadIdle = 2000 // ms: the thread stays awake between requests
	}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&r.p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r.fd = int(fd)
	mmap := func(off int64, size uint32) ([]byte, error) {
		return unix.Mmap(r.fd, off, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	}
	var err error
	if r.sq, err = mmap(ioringOffSQRing, r.p.SQOff.Array+r.p.SQEntries*4); err != nil {
		r.Close()
		return nil, fmt.Errorf("mapping the SQ ring: %w", err)
	}
	if r.cq, err = mmap(ioringOffCQRing, r.p.CQOff.CQEs+r.p.CQEntries*ioringCQESize); err != nil {
		r.Close()
		return nil, fmt.Errorf("mapping the CQ ring: %w", err)
	}
	if r.sqe, err = mmap(ioringOffSQEs, r.p.SQEntries*ioringSQESize); err != nil {
		r.Close()
		return nil, fmt.Errorf("mapping the SQEs: %w", err)
	}
	return r, nil
}

// Close unmaps the rings and closes the ring's fd.
func (r *URing) Close() {
	for _, m := range [][]byte{r.sq, r.cq, r.sqe} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sq, r.cq, r.sqe = nil, nil, nil
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

func (r *URing) u32(ring []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&ring[off])) }

// SQE holds the fields of a submission queue entry the tests set; their
// meaning depends on the opcode (addr: the path; addr2: a second path; len:
// a mode or a second dirfd; op flags: open, AT_* or RENAME_* flags).
type SQE struct {
	Op          uint8
	FD          int32
	Addr, Addr2 unsafe.Pointer
	Len         uint32
	OpFlags     uint32
}

// Do submits one request and returns its completion's result (a value or
// -errno). An SQPOLL ring's thread picks the request up with no syscall.
func (r *URing) Do(e SQE) (int32, error) {
	sqe := r.sqe[:ioringSQESize]
	clear(sqe)
	le := binary.LittleEndian
	sqe[0] = e.Op
	le.PutUint32(sqe[ioringSQEOffFD:], uint32(e.FD))
	le.PutUint64(sqe[ioringSQEOffAddr2:], uint64(uintptr(e.Addr2)))
	le.PutUint64(sqe[ioringSQEOffAddr:], uint64(uintptr(e.Addr)))
	le.PutUint32(sqe[ioringSQEOffLen:], e.Len)
	le.PutUint32(sqe[ioringSQEOffOpFlags:], e.OpFlags)

	tail := atomic.LoadUint32(r.u32(r.sq, r.p.SQOff.Tail))
	mask := *r.u32(r.sq, r.p.SQOff.RingMask)
	*r.u32(r.sq, r.p.SQOff.Array+(tail&mask)*4) = 0
	atomic.StoreUint32(r.u32(r.sq, r.p.SQOff.Tail), tail+1)

	cqTail := r.u32(r.cq, r.p.CQOff.Tail)
	head := atomic.LoadUint32(r.u32(r.cq, r.p.CQOff.Head))
	if r.p.Flags&IORingSetupSQPoll != 0 {
		// Only a thread gone to sleep needs a wakeup.
		deadline := time.Now().Add(5 * time.Second)
		for atomic.LoadUint32(cqTail) == head {
			if atomic.LoadUint32(r.u32(r.sq, r.p.SQOff.Flags))&ioringSQNeedWakeup != 0 {
				unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 0, 0, ioringEnterSQWakeup, 0, 0)
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("no completion from the SQPOLL thread")
			}
			runtime.Gosched()
		}
	} else {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 1, ioringEnterGetevents, 0, 0)
		if errno != 0 {
			return 0, fmt.Errorf("io_uring_enter: %w", errno)
		}
		if atomic.LoadUint32(cqTail) == head {
			return 0, fmt.Errorf("io_uring_enter returned without a completion")
		}
	}
	cqMask := *r.u32(r.cq, r.p.CQOff.RingMask)
	cqe := r.cq[r.p.CQOff.CQEs+(head&cqMask)*ioringCQESize:]
	res := int32(le.Uint32(cqe[ioringCQEOffRes:]))
	atomic.StoreUint32(r.u32(r.cq, r.p.CQOff.Head), head+1)
	runtime.KeepAlive(e.Addr)
	runtime.KeepAlive(e.Addr2)
	return res, nil
}

// CString returns a NUL-terminated copy of s for the kernel to read (an
// SQE's Addr or Addr2).
func CString(s string) unsafe.Pointer {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return unsafe.Pointer(p)
}

// URingRequests makes, on a fresh ring, the requests of the scenario
// named by args[0] in the current directory, and returns their results:
//   - "openat" PATH: IORING_OP_OPENAT of PATH (read-only), as given;
//   - "sqpoll" PATH: the same through an SQPOLL ring;
//   - "fsops": in the cwd (which holds a file f): mkdirat d (dirfd),
//     renameat d to e, symlinkat /etc/shadow as l, linkat f to g,
//     unlinkat e (AT_REMOVEDIR);
//   - "benign" FILE: a no-op, a read of FILE (opened the usual way), and
//     another no-op: what a ring does in ordinary use.
func URingRequests(args []string) ([]int32, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no io_uring scenario")
	}
	var setup uint32
	if args[0] == "sqpoll" {
		setup = IORingSetupSQPoll
	}
	var reqs []SQE
	switch args[0] {
	case "openat", "sqpoll":
		if len(args) != 2 {
			return nil, fmt.Errorf("%s: want a path", args[0])
		}
		reqs = []SQE{{Op: IORingOpOpenat, FD: unix.AT_FDCWD, Addr: CString(args[1]), OpFlags: unix.O_RDONLY | unix.O_CLOEXEC}}
	case "fsops":
		dir, err := unix.Open(".", unix.O_DIRECTORY|unix.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		defer unix.Close(dir)
		reqs = []SQE{
			{Op: IORingOpMkdirat, FD: int32(dir), Addr: CString("d"), Len: 0o750},
			{Op: IORingOpRenameat, FD: unix.AT_FDCWD, Addr: CString("d"), Len: uint32(dir), Addr2: CString("e")},
			{Op: IORingOpSymlinkat, FD: int32(dir), Addr: CString("/etc/shadow"), Addr2: CString("l")},
			{Op: IORingOpLinkat, FD: unix.AT_FDCWD, Addr: CString("f"), Len: uint32(dir), Addr2: CString("g")},
			{Op: IORingOpUnlinkat, FD: unix.AT_FDCWD, Addr: CString("e"), OpFlags: unix.AT_REMOVEDIR},
		}
	case "benign":
		if len(args) != 2 {
			return nil, fmt.Errorf("benign: want a file")
		}
		fd, err := unix.Open(args[1], unix.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		buf := make([]byte, 64)
		reqs = []SQE{{Op: IORingOpNop}, {Op: IORingOpRead, FD: int32(fd), Addr: unsafe.Pointer(&buf[0]), Len: uint32(len(buf))}, {Op: IORingOpNop}}
	default:
		return nil, fmt.Errorf("unknown io_uring scenario %q", args[0])
	}
	r, err := NewURing(setup)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []int32
	for _, e := range reqs {
		res, err := r.Do(e)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// OpenByHandle opens path through a file handle, as a program that
// avoids naming the path to open does: name_to_handle_at, then
// open_by_handle_at (which needs CAP_DAC_READ_SEARCH) on a descriptor of
// the directory's mount. It reads a byte and returns the mount descriptor
// and the new one, both left open.
func OpenByHandle(path, dir string) (mountFD, fd int, err error) {
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("name_to_handle_at: %w", err)
	}
	mountFD, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, -1, err
	}
	fd, err = unix.OpenByHandleAt(mountFD, h, unix.O_RDONLY)
	if err != nil {
		return mountFD, -1, fmt.Errorf("open_by_handle_at: %w", err)
	}
	_, _ = unix.Read(fd, make([]byte, 1))
	return mountFD, fd, nil
}
