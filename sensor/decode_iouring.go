package sensor

import (
	"unsafe"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// Record types, flags and size of the io_uring kind (bpf/events.h).
const (
	recIOURingSetup  = uint16(bpf.VigilRecTypeVIGIL_REC_IOURING_SETUP)
	recIOURingSubmit = uint16(bpf.VigilRecTypeVIGIL_REC_IOURING_SUBMIT)

	iouringPath1Trunc = uint16(bpf.VigilIouringRecFlagsVIGIL_IOURING_PATH1TRUNC)
	iouringPath2Trunc = uint16(bpf.VigilIouringRecFlagsVIGIL_IOURING_PATH2TRUNC)
	iouringSQThread   = uint16(bpf.VigilIouringRecFlagsVIGIL_IOURING_SQ_THREAD)
	iouringFixedFile  = uint16(bpf.VigilIouringRecFlagsVIGIL_IOURING_FIXED_FILE)

	iouringSize = int(unsafe.Offsetof(bpf.VigilIouringRec{}.Data))
)

// decodeIOUring decodes a ring's setup or a request's submission. Each
// path is the caller's string joined to the directory the kernel resolved
// for it, when it had to; symlinkat's target stays as passed.
func decodeIOUring(raw []byte, r *Record, setup bool) DecodeReason {
	if len(raw) < iouringSize {
		return DecodeShort
	}
	x := view[bpf.VigilIouringRec](raw)
	e := &r.Event
	e.Type = event.TypeIOUringSubmit
	if setup {
		e.Type = event.TypeIOUringSetup
	}
	e.Res = x.Ret
	u := &e.IOUring
	u.Op = uint8(x.Opcode)
	u.Flags, u.Mode = x.Flags, x.Mode
	u.SQEntries, u.CQEntries = x.SqEntries, x.CqEntries
	u.FD1, u.FD2 = x.Fd1, x.Fd2
	u.Truncated1 = x.Rflags&iouringPath1Trunc != 0
	u.Truncated2 = x.Rflags&iouringPath2Trunc != 0
	u.SQThread = x.Rflags&iouringSQThread != 0
	u.FixedFile = x.Rflags&iouringFixedFile != 0
	data := raw[iouringSize:]
	path1, data, ok1 := cut(data, x.Path1Len)
	dir1, data, ok2 := cut(data, x.Dir1Len)
	path2, data, ok3 := cut(data, x.Path2Len)
	dir2, _, ok4 := cut(data, x.Dir2Len)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return DecodeStrings
	}
	if u.Op == opSymlinkat {
		u.Path1 = append(u.Path1, path1...)
	} else {
		u.Path1 = appendJoin(u.Path1, dir1, path1)
	}
	u.Path2 = appendJoin(u.Path2, dir2, path2)
	return 0
}

// opSymlinkat is IORING_OP_SYMLINKAT, whose first path is the link's
// content.
const opSymlinkat = 38
