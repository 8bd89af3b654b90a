package sensor

import (
	"net/netip"
	"unsafe"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// Record types, flags and sizes of the file-system, socket and dup kinds
// (bpf/events.h).
const (
	recFS     = uint16(bpf.VigilRecTypeVIGIL_REC_FS)
	recSocket = uint16(bpf.VigilRecTypeVIGIL_REC_SOCKET)
	recDup    = uint16(bpf.VigilRecTypeVIGIL_REC_DUP)

	fsPath1Trunc = uint16(bpf.VigilFsRecFlagsVIGIL_FS_PATH1TRUNC)
	fsPath2Trunc = uint16(bpf.VigilFsRecFlagsVIGIL_FS_PATH2TRUNC)
	dupNameTrunc = uint16(bpf.VigilDupRecFlagsVIGIL_DUP_NAME_TRUNC)

	fsSize     = int(unsafe.Offsetof(bpf.VigilFsRec{}.Data))
	socketSize = int(unsafe.Sizeof(bpf.VigilSocketRec{}))
	dupSize    = int(unsafe.Offsetof(bpf.VigilDupRec{}.Data))
)

// decodeFS decodes a file-system change. Each path is the caller's string
// joined to the directory the kernel resolved for it, when it had to.
func decodeFS(raw []byte, r *Record) DecodeReason {
	if len(raw) < fsSize {
		return DecodeShort
	}
	x := view[bpf.VigilFsRec](raw)
	e := &r.Event
	e.Type = syscallType(x.Syscall, event.KindFS, event.TypeLinkat)
	e.Res = x.Ret
	f := &e.FS
	f.FD1, f.FD2, f.Flags, f.Mode = x.Fd1, x.Fd2, x.Flags, x.Mode
	f.Truncated1 = x.Rflags&fsPath1Trunc != 0
	f.Truncated2 = x.Rflags&fsPath2Trunc != 0
	data := raw[fsSize:]
	raw1, data, ok1 := cut(data, x.Raw1Len)
	dir1, data, ok2 := cut(data, x.Dir1Len)
	raw2, data, ok3 := cut(data, x.Raw2Len)
	dir2, _, ok4 := cut(data, x.Dir2Len)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return DecodeStrings
	}
	f.Raw1 = append(f.Raw1, raw1...)
	f.Raw2 = append(f.Raw2, raw2...)
	if e.Type == event.TypeSymlink || e.Type == event.TypeSymlinkat {
		f.Path1 = append(f.Path1, raw1...)
	} else {
		f.Path1 = appendJoin(f.Path1, dir1, raw1)
	}
	f.Path2 = appendJoin(f.Path2, dir2, raw2)
	return 0
}

// inetAddrPort is a kernel address field (IPv4 in its first 4 bytes) and
// port as an AddrPort; ok is false when family is not IP.
func inetAddrPort(family uint16, addr [16]byte, port uint16) (netip.AddrPort, bool) {
	switch family {
	case event.AFInet:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[:4])), port), true
	case event.AFInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(addr), port), true
	}
	return netip.AddrPort{}, false
}

// sockOf converts the kernel's view of a socket.
func sockOf(x *bpf.VigilSockInfo) event.Sock {
	s := event.Sock{Family: x.Family, SockType: x.Type, Proto: uint8(x.Proto)}
	s.Local, _ = inetAddrPort(x.Family, x.Laddr, x.Lport)
	s.Remote, _ = inetAddrPort(x.Family, x.Raddr, x.Rport)
	return s
}

func decodeSocket(raw []byte, r *Record) DecodeReason {
	if len(raw) < socketSize {
		return DecodeShort
	}
	x := view[bpf.VigilSocketRec](raw)
	e := &r.Event
	e.Type = syscallType(x.Syscall, event.KindSocket, event.TypeSocket)
	e.Res = x.Ret
	e.Socket = event.SocketCall{Domain: x.Domain, Type: x.Type, Proto: x.Proto, FD: x.Fd, Flags: x.Flags, Sock: sockOf(&x.Sock)}
	return 0
}

func decodeDup(raw []byte, r *Record) DecodeReason {
	if len(raw) < dupSize {
		return DecodeShort
	}
	x := view[bpf.VigilDupRec](raw)
	e := &r.Event
	e.Type = syscallType(x.Syscall, event.KindDup, event.TypeDup)
	e.Res = x.Ret
	d := &e.Dup
	d.OldFD, d.NewFD, d.Flags, d.FileType = x.Oldfd, x.Newfd, x.Flags, x.FileType
	d.NameTruncated = x.Rflags&dupNameTrunc != 0
	d.Sock = sockOf(&x.Sock)
	name, _, ok := cut(raw[dupSize:], x.NameLen)
	if !ok {
		return DecodeStrings
	}
	d.Name = append(d.Name, name...)
	return 0
}
