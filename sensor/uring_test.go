package sensor

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// io_uring ABI (include/uapi/linux/io_uring.h), enough for the requests the
// tests make.
const (
	ioringOffSQRing      = 0
	ioringOffCQRing      = 0x8000000
	ioringOffSQEs        = 0x10000000
	ioringSetupSQPoll    = 1 << 1
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

	ioringOpNop       = 0
	ioringOpRead      = 22
	ioringOpOpenat    = 18
	ioringOpRenameat  = 35
	ioringOpUnlinkat  = 36
	ioringOpMkdirat   = 37
	ioringOpSymlinkat = 38
	ioringOpLinkat    = 39
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

// testRing is an io_uring instance driven by raw syscalls, one request at
// a time.
type testRing struct {
	fd          int
	p           ioUringParams
	sq, cq, sqe []byte
}

// newTestRing sets up a ring with setup flags (IORING_SETUP_*).
func newTestRing(flags uint32) (*testRing, error) {
	r := &testRing{}
	r.p.Flags = flags
	if flags&ioringSetupSQPoll != 0 {
		r.p.SQThreadIdle = 2000 // ms: the thread stays awake through the test
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
		r.close()
		return nil, fmt.Errorf("mapping the SQ ring: %w", err)
	}
	if r.cq, err = mmap(ioringOffCQRing, r.p.CQOff.CQEs+r.p.CQEntries*ioringCQESize); err != nil {
		r.close()
		return nil, fmt.Errorf("mapping the CQ ring: %w", err)
	}
	if r.sqe, err = mmap(ioringOffSQEs, r.p.SQEntries*ioringSQESize); err != nil {
		r.close()
		return nil, fmt.Errorf("mapping the SQEs: %w", err)
	}
	return r, nil
}

func (r *testRing) close() {
	for _, m := range [][]byte{r.sq, r.cq, r.sqe} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	unix.Close(r.fd)
}

func (r *testRing) u32(ring []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&ring[off])) }

// sqeArgs are the fields of an SQE the tests set.
type sqeArgs struct {
	op          uint8
	fd          int32
	addr, addr2 unsafe.Pointer
	len         uint32
	opFlags     uint32
}

// do submits one request and returns its CQE result (a value or -errno).
func (r *testRing) do(a sqeArgs) (int32, error) {
	sqe := r.sqe[:ioringSQESize]
	clear(sqe)
	le := binary.LittleEndian
	sqe[0] = a.op
	le.PutUint32(sqe[ioringSQEOffFD:], uint32(a.fd))
	le.PutUint64(sqe[ioringSQEOffAddr2:], uint64(uintptr(a.addr2)))
	le.PutUint64(sqe[ioringSQEOffAddr:], uint64(uintptr(a.addr)))
	le.PutUint32(sqe[ioringSQEOffLen:], a.len)
	le.PutUint32(sqe[ioringSQEOffOpFlags:], a.opFlags)

	tail := atomic.LoadUint32(r.u32(r.sq, r.p.SQOff.Tail))
	mask := *r.u32(r.sq, r.p.SQOff.RingMask)
	*r.u32(r.sq, r.p.SQOff.Array+(tail&mask)*4) = 0
	atomic.StoreUint32(r.u32(r.sq, r.p.SQOff.Tail), tail+1)

	cqTail := r.u32(r.cq, r.p.CQOff.Tail)
	head := atomic.LoadUint32(r.u32(r.cq, r.p.CQOff.Head))
	if r.p.Flags&ioringSetupSQPoll != 0 {
		// The kernel's thread picks the request up with no syscall;
		// only a sleeping thread needs a wakeup.
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
	runtime.KeepAlive(a.addr)
	runtime.KeepAlive(a.addr2)
	return res, nil
}

// cstr returns a NUL-terminated copy of s for the kernel to read.
func cstr(s string) unsafe.Pointer {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return unsafe.Pointer(p)
}

// uringOpenat opens path with io_uring's IORING_OP_OPENAT, which no open
// syscall sees, and returns the CQE result (an fd or -errno).
func uringOpenat(path string, flags int) (int32, error) {
	r, err := newTestRing(0)
	if err != nil {
		return 0, err
	}
	defer r.close()
	return r.do(sqeArgs{op: ioringOpOpenat, fd: unix.AT_FDCWD, addr: cstr(path), opFlags: uint32(flags)})
}

// helperURing makes the io_uring requests of the test named by args[0] in
// the current directory and prints each result as "res=N".
func helperURing(args []string) int {
	var setup uint32
	if args[0] == "sqpoll" {
		setup = ioringSetupSQPoll
	}
	r, err := newTestRing(setup)
	if err != nil {
		fmt.Println(err)
		return 3
	}
	defer r.close()
	var reqs []sqeArgs
	switch args[0] {
	case "openat", "sqpoll":
		// args[1] relative to the cwd: the sensor joins it.
		reqs = []sqeArgs{{op: ioringOpOpenat, fd: unix.AT_FDCWD, addr: cstr(args[1]), opFlags: unix.O_RDONLY | unix.O_CLOEXEC}}
	case "fsops":
		dir, err := unix.Open(".", unix.O_DIRECTORY|unix.O_RDONLY, 0)
		if err != nil {
			fmt.Println(err)
			return 3
		}
		reqs = []sqeArgs{
			{op: ioringOpMkdirat, fd: int32(dir), addr: cstr("d"), len: 0o750},
			{op: ioringOpRenameat, fd: unix.AT_FDCWD, addr: cstr("d"), len: uint32(dir), addr2: cstr("e")},
			{op: ioringOpSymlinkat, fd: int32(dir), addr: cstr("/etc/shadow"), addr2: cstr("l")},
			{op: ioringOpLinkat, fd: unix.AT_FDCWD, addr: cstr("f"), len: uint32(dir), addr2: cstr("g")},
			{op: ioringOpUnlinkat, fd: unix.AT_FDCWD, addr: cstr("e"), opFlags: unix.AT_REMOVEDIR},
		}
	case "benign":
		// What a ring does in ordinary use: no-ops and reads of a file
		// opened the usual way.
		fd, err := unix.Open(args[1], unix.O_RDONLY, 0)
		if err != nil {
			fmt.Println(err)
			return 3
		}
		buf := make([]byte, 64)
		reqs = []sqeArgs{{op: ioringOpNop}, {op: ioringOpRead, fd: int32(fd), addr: unsafe.Pointer(&buf[0]), len: uint32(len(buf))},
			{op: ioringOpNop}}
	default:
		return 2
	}
	for _, a := range reqs {
		res, err := r.do(a)
		if err != nil {
			fmt.Println(err)
			return 3
		}
		fmt.Printf("res=%d\n", res)
	}
	return 0
}
