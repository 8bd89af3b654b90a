package sensor

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

func TestLayoutsFsop(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int
	}{
		{bpf.VigilFsRec{}, fsSize},
		{bpf.VigilSocketRec{}, socketSize},
		{bpf.VigilDupRec{}, dupSize},
	} {
		if got := binary.Size(tc.v); got != tc.want {
			t.Errorf("%T: packed size %d, decoder uses %d", tc.v, got, tc.want)
		}
	}
	if fsSize%8 != 0 || dupSize%8 != 0 {
		t.Errorf("string areas must start 8-byte aligned: fs %d, dup %d", fsSize, dupSize)
	}
}

func sysID(id bpf.VigilSyscallId) uint16 { return uint16(id) }

func TestDecodeFS(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		sys                    uint16
		raw1, dir1, raw2, dir2 string
		rflags                 uint16
		want                   event.Type
		path1, path2           string
	}{
		{name: "symlink keeps its target raw", sys: sysID(bpf.VigilSyscallIdVIGIL_SYS_SYMLINK),
			raw1: "../etc/shadow", raw2: "x/../lnk", dir2: "/tmp/d", want: event.TypeSymlink,
			path1: "../etc/shadow", path2: "/tmp/d/lnk"},
		{name: "symlinkat, absolute link", sys: sysID(bpf.VigilSyscallIdVIGIL_SYS_SYMLINKAT),
			raw1: "/etc/shadow", raw2: "/tmp//l", want: event.TypeSymlinkat, path1: "/etc/shadow", path2: "/tmp/l"},
		{name: "link joins both paths", sys: sysID(bpf.VigilSyscallIdVIGIL_SYS_LINK),
			raw1: "shadow", dir1: "/etc", raw2: "h", dir2: "/root", want: event.TypeLink, path1: "/etc/shadow", path2: "/root/h"},
		{name: "linkat, truncated second path", sys: sysID(bpf.VigilSyscallIdVIGIL_SYS_LINKAT), rflags: fsPath2Trunc,
			raw1: "/etc/./shadow", raw2: "n", dir2: "/", want: event.TypeLinkat, path1: "/etc/shadow", path2: "/n"},
		{name: "fchmod names its fd's file", sys: sysID(bpf.VigilSyscallIdVIGIL_SYS_FCHMOD),
			dir1: "/usr/bin/tool", want: event.TypeFchmod, path1: "/usr/bin/tool"},
		{name: "unlinkat, relative", sys: sysID(bpf.VigilSyscallIdVIGIL_SYS_UNLINKAT),
			raw1: ".bash_history", dir1: "/root", want: event.TypeUnlinkat, path1: "/root/.bash_history"},
		{name: "renameat2", sys: sysID(bpf.VigilSyscallIdVIGIL_SYS_RENAMEAT2),
			raw1: "a", dir1: "/bin", raw2: "../usr/bin/b", dir2: "/bin", want: event.TypeRenameat2, path1: "/bin/a", path2: "/usr/bin/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := bpf.VigilFsRec{Hdr: hdr(recFS), Ret: -17, Fd1: -100, Fd2: 4, Flags: 0x400, Mode: 0o755, Syscall: tc.sys, Rflags: tc.rflags,
				Raw1Len: uint16(len(tc.raw1)), Dir1Len: uint16(len(tc.dir1)), Raw2Len: uint16(len(tc.raw2)), Dir2Len: uint16(len(tc.dir2))}
			r := decode(t, encode(t, rec, []byte(tc.raw1), []byte(tc.dir1), []byte(tc.raw2), []byte(tc.dir2)))
			f := r.Event.FS
			if r.Event.Type != tc.want || r.Event.Res != -17 || string(f.Path1) != tc.path1 || string(f.Path2) != tc.path2 {
				t.Errorf("got %v res %d paths %q %q, want %v %q %q", r.Event.Type, r.Event.Res, f.Path1, f.Path2, tc.want, tc.path1, tc.path2)
			}
			if string(f.Raw1) != tc.raw1 || string(f.Raw2) != tc.raw2 || f.FD1 != -100 || f.FD2 != 4 || f.Flags != 0x400 || f.Mode != 0o755 {
				t.Errorf("fields: %+v", f)
			}
			if f.Truncated1 || f.Truncated2 != (tc.rflags&fsPath2Trunc != 0) {
				t.Errorf("truncation: %+v", f)
			}
		})
	}
}

// v4 is a 16-byte kernel address field holding an IPv4 address.
func v4(a string) (b [16]byte) {
	ip := netip.MustParseAddr(a).As4()
	copy(b[:], ip[:])
	return b
}

func TestDecodeOpenCreated(t *testing.T) {
	name := []byte("/tmp/new")
	r := decode(t, encode(t, bpf.VigilOpenRec{Hdr: hdr(recOpen), Ret: 3, Flags: 0o101, Syscall: sysOpenat, Rflags: openCreated,
		RawLen: uint16(len(name)), NameLen: uint16(len(name))}, name, name))
	if !r.Event.Open.Created || r.Event.Open.ViaHook || r.Event.Open.NameTruncated {
		t.Errorf("open flags: %+v", r.Event.Open)
	}
}

func TestDecodeSocket(t *testing.T) {
	rec := bpf.VigilSocketRec{Hdr: hdr(recSocket), Ret: 5, Domain: 2, Type: 0x80001, Proto: 6,
		Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 1, Proto: 6}}
	r := decode(t, encode(t, rec))
	want := event.SocketCall{Domain: 2, Type: 0x80001, Proto: 6, Sock: event.Sock{Family: event.AFInet, SockType: 1, Proto: 6,
		Local: netip.MustParseAddrPort("0.0.0.0:0"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}}
	if r.Event.Type != event.TypeSocket || r.Event.Res != 5 || !reflect.DeepEqual(r.Event.Socket, want) {
		t.Errorf("socket:\n got %+v\nwant %+v", r.Event.Socket, want)
	}
	accept := decode(t, encode(t, bpf.VigilSocketRec{Hdr: hdr(recSocket), Ret: 7, Fd: 3, Flags: 0x80000, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_ACCEPT4),
		Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 1, Proto: 6, Laddr: v4("192.0.2.1"), Lport: 80, Raddr: v4("198.51.100.7"), Rport: 50000}}))
	if a := accept.Event.Socket; accept.Event.Type != event.TypeAccept4 || a.FD != 3 || a.Flags != 0x80000 ||
		a.Sock.Local.String() != "192.0.2.1:80" || a.Sock.Remote.String() != "198.51.100.7:50000" {
		t.Errorf("accept4: %v %+v", accept.Event.Type, a)
	}
	failed := decode(t, encode(t, bpf.VigilSocketRec{Hdr: hdr(recSocket), Ret: -1, Domain: event.AFPacket, Type: 3, Proto: 0x300}))
	if failed.Event.Res != -1 || failed.Event.Socket.Domain != event.AFPacket || failed.Event.Socket.Sock != (event.Sock{}) {
		t.Errorf("failed socket: %+v", failed.Event.Socket)
	}
}

func TestDecodeDup(t *testing.T) {
	sock := bpf.VigilDupRec{Hdr: hdr(recDup), Ret: 1, Oldfd: 3, Newfd: 1, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_DUP2), FileType: 0o140000,
		Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 1, Proto: 6, Laddr: v4("10.0.0.2"), Lport: 40000, Raddr: v4("192.0.2.1"), Rport: 4444}}
	r := decode(t, encode(t, sock))
	want := event.Dup{OldFD: 3, NewFD: 1, FileType: 0o140000, Sock: event.Sock{Family: event.AFInet, SockType: 1, Proto: 6,
		Local: netip.MustParseAddrPort("10.0.0.2:40000"), Remote: netip.MustParseAddrPort("192.0.2.1:4444")}}
	got := r.Event.Dup
	if len(got.Name) == 0 {
		got.Name = nil
	}
	if r.Event.Type != event.TypeDup2 || r.Event.Res != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("dup2 of a socket:\n got %+v\nwant %+v", got, want)
	}

	name := []byte("/var/log/x.log")
	file := bpf.VigilDupRec{Hdr: hdr(recDup), Ret: 2, Oldfd: 4, Newfd: -1, Flags: 0o2000000, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_DUP3),
		FileType: 0o100000, Rflags: dupNameTrunc, NameLen: uint16(len(name))}
	r = decode(t, encode(t, file, name))
	d := r.Event.Dup
	if r.Event.Type != event.TypeDup3 || string(d.Name) != string(name) || !d.NameTruncated || d.Flags != 0o2000000 || d.Sock != (event.Sock{}) {
		t.Errorf("dup3 of a file: %+v", d)
	}
}
