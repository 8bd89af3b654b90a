package sensor

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// io_uring ABI (include/uapi/linux/io_uring.h), enough for one openat.
const (
	ioringOffSQRing       = 0
	ioringOffCQRing       = 0x8000000
	ioringOffSQEs         = 0x10000000
	ioringOpOpenat        = 18
	ioringEnterGetevents  = 1
	ioringSQESize         = 64
	ioringCQESize         = 16
	ioringSQEOffFD        = 4
	ioringSQEOffAddr      = 16
	ioringSQEOffLen       = 24
	ioringSQEOffOpenFlags = 28
	ioringCQEOffRes       = 8
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

// uringOpenat opens path with io_uring's IORING_OP_OPENAT, which no open
// syscall sees, and returns the CQE result (an fd or -errno).
func uringOpenat(path string, flags int) (int32, error) {
	var p ioUringParams
	r, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return 0, fmt.Errorf("io_uring_setup: %w", errno)
	}
	fd := int(r)
	defer unix.Close(fd)
	mmap := func(off int64, size uint32) ([]byte, error) {
		return unix.Mmap(fd, off, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	}
	sq, err := mmap(ioringOffSQRing, p.SQOff.Array+p.SQEntries*4)
	if err != nil {
		return 0, fmt.Errorf("mapping the SQ ring: %w", err)
	}
	defer unix.Munmap(sq)
	cq, err := mmap(ioringOffCQRing, p.CQOff.CQEs+p.CQEntries*ioringCQESize)
	if err != nil {
		return 0, fmt.Errorf("mapping the CQ ring: %w", err)
	}
	defer unix.Munmap(cq)
	sqes, err := mmap(ioringOffSQEs, p.SQEntries*ioringSQESize)
	if err != nil {
		return 0, fmt.Errorf("mapping the SQEs: %w", err)
	}
	defer unix.Munmap(sqes)

	name, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	sqe := sqes[:ioringSQESize]
	clear(sqe)
	sqe[0] = ioringOpOpenat
	le := binary.LittleEndian
	dirfd := int32(unix.AT_FDCWD)
	le.PutUint32(sqe[ioringSQEOffFD:], uint32(dirfd))
	le.PutUint64(sqe[ioringSQEOffAddr:], uint64(uintptr(unsafe.Pointer(name))))
	le.PutUint32(sqe[ioringSQEOffLen:], 0)
	le.PutUint32(sqe[ioringSQEOffOpenFlags:], uint32(flags))

	u32 := func(ring []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&ring[off])) }
	tail := atomic.LoadUint32(u32(sq, p.SQOff.Tail))
	mask := *u32(sq, p.SQOff.RingMask)
	*u32(sq, p.SQOff.Array+(tail&mask)*4) = 0
	atomic.StoreUint32(u32(sq, p.SQOff.Tail), tail+1)

	_, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), 1, 1, ioringEnterGetevents, 0, 0)
	runtime.KeepAlive(name)
	if errno != 0 {
		return 0, fmt.Errorf("io_uring_enter: %w", errno)
	}
	head := atomic.LoadUint32(u32(cq, p.CQOff.Head))
	if atomic.LoadUint32(u32(cq, p.CQOff.Tail)) == head {
		return 0, fmt.Errorf("io_uring_enter returned without a completion")
	}
	cqMask := *u32(cq, p.CQOff.RingMask)
	cqe := cq[p.CQOff.CQEs+(head&cqMask)*ioringCQESize:]
	res := int32(le.Uint32(cqe[ioringCQEOffRes:]))
	atomic.StoreUint32(u32(cq, p.CQOff.Head), head+1)
	return res, nil
}
