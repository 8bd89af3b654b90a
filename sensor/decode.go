package sensor

import (
	"bytes"
	"fmt"
	"unsafe"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// Record types and flags, named once in bpf/events.h.
const (
	recExec       = uint16(bpf.VigilRecTypeVIGIL_REC_EXEC)
	recExecFailed = uint16(bpf.VigilRecTypeVIGIL_REC_EXEC_FAILED)
	recFork       = uint16(bpf.VigilRecTypeVIGIL_REC_FORK)
	recExit       = uint16(bpf.VigilRecTypeVIGIL_REC_EXIT)
	recOpen       = uint16(bpf.VigilRecTypeVIGIL_REC_OPEN)
	recConnect    = uint16(bpf.VigilRecTypeVIGIL_REC_CONNECT)
	recPriv       = uint16(bpf.VigilRecTypeVIGIL_REC_PRIV)

	sysExecve   = uint16(bpf.VigilSyscallIdVIGIL_SYS_EXECVE)
	sysExecveat = uint16(bpf.VigilSyscallIdVIGIL_SYS_EXECVEAT)
	sysOpen     = uint16(bpf.VigilSyscallIdVIGIL_SYS_OPEN)
	sysOpenat   = uint16(bpf.VigilSyscallIdVIGIL_SYS_OPENAT)
	sysOpenat2  = uint16(bpf.VigilSyscallIdVIGIL_SYS_OPENAT2)
	sysCreat    = uint16(bpf.VigilSyscallIdVIGIL_SYS_CREAT)
	sysConnect  = uint16(bpf.VigilSyscallIdVIGIL_SYS_CONNECT)
	numSyscalls = int(bpf.VigilSyscallIdVIGIL_NUM_SYSCALLS)

	execArgsTrunc     = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_ARGS_TRUNC)
	execFilenameTrunc = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_FILENAME_TRUNC)
	execExeTrunc      = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_EXE_TRUNC)
	execCwdTrunc      = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_CWD_TRUNC)
	execExeMemfd      = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_EXE_MEMFD)
	execExeDeleted    = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_EXE_DELETED)
	execEnvTrunc      = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_ENV_TRUNC)
	execExeUpper      = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_EXE_UPPER)
	execExeLower      = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_EXE_LOWER)
	execExeWritable   = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_EXE_WRITABLE)
	execInterp        = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_INTERP)
	execCompat        = uint32(bpf.VigilExecRecFlagsVIGIL_EXEC_COMPAT)

	openNameTrunc = uint16(bpf.VigilOpenRecFlagsVIGIL_OPEN_NAME_TRUNC)
	openRawTrunc  = uint16(bpf.VigilOpenRecFlagsVIGIL_OPEN_RAW_TRUNC)
	openDirTrunc  = uint16(bpf.VigilOpenRecFlagsVIGIL_OPEN_DIR_TRUNC)
	openViaHook   = uint16(bpf.VigilOpenRecFlagsVIGIL_OPEN_VIA_HOOK)
	openCreated   = uint16(bpf.VigilOpenRecFlagsVIGIL_OPEN_CREATED)

	unixPathMax = int(bpf.VigilStrBoundsVIGIL_UNIX_PATH_MAX)

	// atFDCWD is the dirfd that names the cwd (AT_FDCWD).
	atFDCWD = -100
)

// Fixed sizes of the records, from the generated layouts. A record with a
// string area ends where its flexible array starts (Go pads a struct that
// ends in a zero-size field, so Sizeof would overstate it).
const (
	hdrSize     = int(unsafe.Sizeof(bpf.VigilRecHdr{}))
	execSize    = int(unsafe.Offsetof(bpf.VigilExecRec{}.Data))
	forkSize    = int(unsafe.Sizeof(bpf.VigilForkRec{}))
	exitSize    = int(unsafe.Sizeof(bpf.VigilExitRec{}))
	openSize    = int(unsafe.Offsetof(bpf.VigilOpenRec{}.Data))
	connectSize = int(unsafe.Sizeof(bpf.VigilConnectRec{}))
	privSize    = int(unsafe.Sizeof(bpf.VigilPrivRec{}))
	// maxRecord bounds a record; the kernel's never exceed its u16 size.
	maxRecord = 1 << 16
)

// DecodeReason classifies why a record could not be decoded.
type DecodeReason uint8

// Decode failure reasons, counted separately in Stats.
const (
	// DecodeShort: the record is shorter than its header or fixed part.
	DecodeShort DecodeReason = iota + 1
	// DecodeSize: the header's size disagrees with the record's length.
	DecodeSize
	// DecodeUnknownType: the header names no known record type.
	DecodeUnknownType
	// DecodeStrings: the string lengths overrun the record.
	DecodeStrings
	numDecodeReasons
)

// NumDecodeReasons sizes tables indexed by DecodeReason; index 0 is unused.
const NumDecodeReasons = int(numDecodeReasons)

var decodeReasonNames = [numDecodeReasons]string{"", "short", "size", "unknown_type", "strings"}

// String returns the reason's metric name.
func (r DecodeReason) String() string {
	if r < numDecodeReasons {
		return decodeReasonNames[r]
	}
	return "invalid"
}

// DecodeError is the error Decode returns for a malformed record.
type DecodeError struct {
	Reason DecodeReason
	// Type is the record type from the header, if the header was readable.
	Type uint16
	// Len is the raw record's length.
	Len int
}

// Error describes the malformed record.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("decoding record type %d (%d bytes): %s", e.Type, e.Len, e.Reason)
}

// syscallTypes is the event type of each syscall id of bpf/syscall_table.h:
// the decoders name their records' types with it, and the kernel filters
// (filter.go) tell types apart by it.
var syscallTypes = [numSyscalls]event.Type{
	sysExecve:   event.TypeExecve,
	sysExecveat: event.TypeExecveat,
	sysOpen:     event.TypeOpen,
	sysOpenat:   event.TypeOpenat,
	sysOpenat2:  event.TypeOpenat2,
	sysCreat:    event.TypeCreat,
	sysConnect:  event.TypeConnect,

	uint16(bpf.VigilSyscallIdVIGIL_SYS_SYMLINK):   event.TypeSymlink,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SYMLINKAT): event.TypeSymlinkat,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_LINK):      event.TypeLink,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_LINKAT):    event.TypeLinkat,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SOCKET):    event.TypeSocket,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_DUP):       event.TypeDup,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_DUP2):      event.TypeDup2,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_DUP3):      event.TypeDup3,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_RENAME):    event.TypeRename,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_RENAMEAT):  event.TypeRenameat,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_RENAMEAT2): event.TypeRenameat2,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_UNLINK):    event.TypeUnlink,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_UNLINKAT):  event.TypeUnlinkat,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_RMDIR):     event.TypeRmdir,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_MKDIR):     event.TypeMkdir,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_MKDIRAT):   event.TypeMkdirat,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_CHMOD):     event.TypeChmod,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_FCHMOD):    event.TypeFchmod,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_FCHMODAT):  event.TypeFchmodat,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_ACCEPT):    event.TypeAccept,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_ACCEPT4):   event.TypeAccept4,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_LISTEN):    event.TypeListen,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_BIND):      event.TypeBind,

	uint16(bpf.VigilSyscallIdVIGIL_SYS_PTRACE):       event.TypePtrace,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_INIT_MODULE):  event.TypeInitModule,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_FINIT_MODULE): event.TypeFinitModule,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SETNS):        event.TypeSetns,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_UNSHARE):      event.TypeUnshare,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_BPF):          event.TypeBpf,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_USERFAULTFD):  event.TypeUserfaultfd,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SETUID):       event.TypeSetuid,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SETGID):       event.TypeSetgid,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SETREUID):     event.TypeSetreuid,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SETREGID):     event.TypeSetregid,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SETRESUID):    event.TypeSetresuid,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SETRESGID):    event.TypeSetresgid,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_CAPSET):       event.TypeCapset,

	uint16(bpf.VigilSyscallIdVIGIL_SYS_OPEN_BY_HANDLE_AT): event.TypeOpenByHandleAt,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SENDTO):            event.TypeSendto,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_SENDMSG):           event.TypeSendmsg,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_RECVFROM):          event.TypeRecvfrom,
	uint16(bpf.VigilSyscallIdVIGIL_SYS_RECVMSG):           event.TypeRecvmsg,
}

// syscallType is the event type of syscall id sys, or def for an id the
// kernel should not have given a record of this kind.
func syscallType(sys uint16, kind event.Kind, def event.Type) event.Type {
	if int(sys) < len(syscallTypes) && syscallTypes[sys].Kind() == kind {
		return syscallTypes[sys]
	}
	return def
}

// recordKind is the event kind a record type reports, KindUnknown for a
// type the decoder does not know.
func recordKind(typ uint16) event.Kind {
	switch typ {
	case recExec, recExecFailed:
		return event.KindExec
	case recFork:
		return event.KindFork
	case recExit:
		return event.KindExit
	case recOpen:
		return event.KindOpen
	case recConnect:
		return event.KindConnect
	case recFS:
		return event.KindFS
	case recSocket:
		return event.KindSocket
	case recDup:
		return event.KindDup
	case recSendRecv:
		return event.KindSendRecv
	case recPriv:
		// The syscall tells priv from cred (decodePriv).
		return event.KindPriv
	case recIOURingSetup, recIOURingSubmit:
		return event.KindIOUring
	}
	return event.KindUnknown
}

// Decoder turns raw ring-buffer records into Records. It is pure Go, needs
// no privileges, checks every length against the record and allocates
// nothing for open and connect records once its Event's buffers have grown.
// A Decoder is not safe for concurrent use.
type Decoder struct {
	// BootOffset is added to the kernel's boot-time clock (ns) to give
	// wall-clock time in ns since the Unix epoch.
	BootOffset int64
	// aligned holds a copy of a record whose bytes are not 8-byte aligned.
	aligned []uint64
	// own are the sensor's own bpf objects, set once they are loaded.
	own ownObjects
}

// Decode decodes raw into r, reusing r's buffers. On error r is left reset
// and the error is a *DecodeError.
func (d *Decoder) Decode(raw []byte, r *Record) error {
	r.reset()
	if len(raw) < hdrSize {
		return &DecodeError{Reason: DecodeShort, Len: len(raw)}
	}
	raw = d.align(raw)
	h := view[bpf.VigilRecHdr](raw)
	if int(h.Size) != len(raw) {
		return &DecodeError{Reason: DecodeSize, Type: h.Type, Len: len(raw)}
	}
	e := &r.Event
	e.Time = int64(h.TsBootNs) + d.BootOffset
	e.CPU = h.Cpu
	e.PID, e.TID = h.Tgid, h.Tid
	e.CgroupID = h.CgroupId

	var reason DecodeReason
	switch h.Type {
	case recExec, recExecFailed:
		reason = decodeExec(raw, r, h.Type == recExecFailed)
	case recFork:
		reason = decodeFork(raw, r, d.BootOffset)
	case recExit:
		reason = decodeExit(raw, r)
	case recOpen:
		reason = decodeOpen(raw, r)
	case recConnect:
		reason = decodeConnect(raw, r)
	case recPriv:
		if reason = decodePriv(raw, r); reason == 0 {
			d.privTarget(&r.Event)
		}
	case recFS:
		reason = decodeFS(raw, r)
	case recSocket:
		reason = decodeSocket(raw, r)
	case recDup:
		reason = decodeDup(raw, r)
	case recIOURingSetup, recIOURingSubmit:
		reason = decodeIOUring(raw, r, h.Type == recIOURingSetup)
	case recSendRecv:
		reason = decodeSendRecv(raw, r)
	default:
		reason = DecodeUnknownType
	}
	if reason != 0 {
		r.reset()
		return &DecodeError{Reason: reason, Type: h.Type, Len: len(raw)}
	}
	return nil
}

// align returns raw itself when a record type can be viewed in place, or a
// copy in d's 8-byte aligned buffer.
func (d *Decoder) align(raw []byte) []byte {
	if uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%8 == 0 {
		return raw
	}
	if len(raw) > maxRecord {
		raw = raw[:maxRecord]
	}
	words := (len(raw) + 7) / 8
	if cap(d.aligned) < words {
		d.aligned = make([]uint64, words, maxRecord/8)
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d.aligned[:words]))), len(raw))
	copy(buf, raw)
	return buf
}

// view returns the record layout T over b. Callers check len(b) against
// sizeof(T) first; b is 8-byte aligned (Decoder.align), which is the
// strictest alignment of any generated record type.
func view[T any](b []byte) *T {
	return (*T)(unsafe.Pointer(unsafe.SliceData(b)))
}

// cut splits the next string of length n off the string area data; ok is
// false when n overruns it.
func cut(data []byte, n uint16) (piece, rest []byte, ok bool) {
	if int(n) > len(data) {
		return nil, nil, false
	}
	return data[:n:n], data[n:], true
}

func decodeExec(raw []byte, r *Record, failed bool) DecodeReason {
	if len(raw) < execSize {
		return DecodeShort
	}
	x := view[bpf.VigilExecRec](raw)
	e := &r.Event
	e.Type = syscallType(x.Syscall, event.KindExec, event.TypeExecve)
	e.Res = x.Ret
	f := &r.Exec
	f.PPID = x.Ppid
	f.Comm = cstring(x.Comm[:])
	data := raw[execSize:]
	var ok bool
	var filename []byte
	if filename, data, ok = cut(data, x.FilenameLen); !ok {
		return DecodeStrings
	}
	e.Exec.Filename = append(e.Exec.Filename, filename...)
	e.Exec.FilenameTruncated = x.Flags&execFilenameTrunc != 0
	if failed {
		return 0
	}
	if f.Args, data, ok = cut(data, x.ArgsLen); !ok {
		return DecodeStrings
	}
	if f.ExePath, data, ok = cut(data, x.ExeLen); !ok {
		return DecodeStrings
	}
	if f.Cwd, data, ok = cut(data, x.CwdLen); !ok {
		return DecodeStrings
	}
	if f.Env, data, ok = cut(data, x.EnvLen); !ok {
		return DecodeStrings
	}
	if f.ExeRootPath, _, ok = cut(data, x.ExeRootLen); !ok {
		return DecodeStrings
	}
	f.EnvTruncated = x.Flags&execEnvTrunc != 0
	f.CapInheritable, f.CapPermitted, f.CapEffective = x.CapInheritable, x.CapPermitted, x.CapEffective
	f.VPID, f.VPGID, f.SID = x.Vpid, x.Vpgid, x.Sid
	f.ExeIno = x.ExeIno
	f.ExeCtime, f.ExeMtime = int64(x.ExeCtimeNs), int64(x.ExeMtimeNs)
	f.ExeUpperLayer = x.Flags&execExeUpper != 0
	f.ExeLowerLayer = x.Flags&execExeLower != 0
	f.ExeWritable = x.Flags&execExeWritable != 0
	f.UID, f.GID, f.EUID, f.LoginUID = x.Uid, x.Gid, x.Euid, x.Loginuid
	if x.TtyMajor != 0 || x.TtyMinor != 0 {
		f.TTY = encodeTTY(x.TtyMajor, x.TtyMinor)
	}
	f.ArgsTruncated = x.Flags&execArgsTrunc != 0
	f.ExeTruncated = x.Flags&execExeTrunc != 0
	f.Interp = x.Flags&execInterp != 0
	f.Compat = x.Flags&execCompat != 0
	f.CwdTruncated = x.Flags&execCwdTrunc != 0
	f.ExeFromMemfd = x.Flags&execExeMemfd != 0
	f.ExeDeleted = x.Flags&execExeDeleted != 0
	return 0
}

// encodeTTY encodes a device number as /proc/<pid>/stat's tty_nr does.
func encodeTTY(major, minor uint32) uint32 {
	return minor&0xff | major<<8 | (minor&^0xff)<<12
}

func decodeFork(raw []byte, r *Record, bootOffset int64) DecodeReason {
	if len(raw) < forkSize {
		return DecodeShort
	}
	x := view[bpf.VigilForkRec](raw)
	r.Event.Type = event.TypeClone
	r.Fork = ForkFacts{
		ParentPID: x.ParentTgid,
		ParentTID: x.ParentTid,
		StartTime: int64(x.StartBootNs) + bootOffset,
	}
	return 0
}

func decodeExit(raw []byte, r *Record) DecodeReason {
	if len(raw) < exitSize {
		return DecodeShort
	}
	x := view[bpf.VigilExitRec](raw)
	r.Event.Type = event.TypeProcExit
	r.Event.Res = int64(x.ExitCode)
	return 0
}

// decodeOpen decodes an open. The record holds the raw path, the path the
// kernel walked from the opened file (RealPath), and, for a relative raw
// path, the directory it was relative to, against which the raw path is
// joined into the caller's name (Name). The hook's records have the walked
// path only, which is then both.
func decodeOpen(raw []byte, r *Record) DecodeReason {
	if len(raw) < openSize {
		return DecodeShort
	}
	x := view[bpf.VigilOpenRec](raw)
	e := &r.Event
	e.Type = syscallType(x.Syscall, event.KindOpen, event.TypeOpenat)
	e.Res = x.Ret
	o := &e.Open
	o.Flags, o.Mode, o.DirFD, o.FileType = x.Flags, x.Mode, x.Dirfd, x.FileType
	o.RawTruncated = x.Rflags&openRawTrunc != 0
	o.RealPathTruncated = x.Rflags&openNameTrunc != 0
	o.NameTruncated = o.RawTruncated || x.Rflags&openDirTrunc != 0
	o.ViaHook = x.Rflags&openViaHook != 0
	o.Created = x.Rflags&openCreated != 0
	o.Dev, o.Ino, o.Nlink = x.Dev, x.Ino, x.Nlink
	data := raw[openSize:]
	rawName, data, ok1 := cut(data, x.RawLen)
	real, data, ok2 := cut(data, x.NameLen)
	dir, _, ok3 := cut(data, x.DirLen)
	if !ok1 || !ok2 || !ok3 {
		return DecodeStrings
	}
	o.Raw = append(o.Raw, rawName...)
	o.RealPath = append(o.RealPath, real...)
	switch {
	case len(rawName) == 0:
		// The hook's opens, and a raw path the kernel could not read:
		// the resolved path is the only name there is.
		o.Name = append(o.Name, real...)
		o.NameTruncated = o.NameTruncated || o.RealPathTruncated
	case rawName[0] == '/' || len(dir) > 0:
		o.Name = appendJoin(o.Name, dir, rawName)
	case o.DirFD == atFDCWD:
		// Relative to a cwd the kernel could not give: the process
		// table's (as of the last exec) is the best left.
		r.openJoin = true
	default:
		// Relative to a dirfd that was no longer open: the caller's
		// string it is.
		o.Name = append(o.Name, rawName...)
	}
	return 0
}

func decodeConnect(raw []byte, r *Record) DecodeReason {
	if len(raw) < connectSize {
		return DecodeShort
	}
	x := view[bpf.VigilConnectRec](raw)
	e := &r.Event
	e.Type = event.TypeConnect
	e.Res = x.Ret
	c := &e.Connect
	c.FD = x.Fd
	c.Family = x.Family
	c.SockType = x.SockType
	c.Proto = uint8(x.Proto)
	if ap, ok := inetAddrPort(x.Family, x.Laddr, x.Lport); ok && (x.Lport != 0 || !ap.Addr().IsUnspecified()) {
		c.Local = ap
	}
	if ap, ok := inetAddrPort(x.SaFamily, x.Raddr, x.Rport); ok {
		c.Remote = ap
	} else if x.SaFamily == event.AFUnix {
		n := min(int(x.UnixLen), unixPathMax)
		p := x.UnixPath[:n]
		if n > 0 && p[0] == 0 {
			// Abstract name: shown with a leading '@', as ss and Falco do;
			// its length is the address length, NULs included.
			c.UnixPath = append(c.UnixPath, '@')
			c.UnixPath = append(c.UnixPath, p[1:]...)
		} else {
			c.UnixPath = append(c.UnixPath, cstring(p)...)
		}
	}
	return 0
}

// cstring returns b up to its first NUL.
func cstring(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
