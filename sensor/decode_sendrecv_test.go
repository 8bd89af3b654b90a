package sensor

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strconv"
	"testing"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

func TestLayoutSendRecv(t *testing.T) {
	if got := binary.Size(bpf.VigilSendrecvRec{}); got != sendRecvSize {
		t.Errorf("sendrecv_rec: packed size %d, decoder uses %d", got, sendRecvSize)
	}
	if sendRecvSize%8 != 0 {
		t.Errorf("sendrecv_rec: %d bytes, not a multiple of 8", sendRecvSize)
	}
}

// TestDecodeSendRecv decodes each shape of record the kernel side builds
// (bpf/kinds/sendrecv.h), and checks what the fields make of it.
func TestDecodeSendRecv(t *testing.T) {
	v6 := func(s string) [16]byte { return netip.MustParseAddr(s).As16() }
	for _, tc := range []struct {
		name string
		rec  bpf.VigilSendrecvRec
		want event.SendRecv
		typ  event.Type
		res  int64
		// fd.name, fd.cip, fd.sport, fd.l4proto, fd.typechar, fd.connected, fd.name_changed
		fields map[string]string
	}{{
		name: "unconnected UDP sendto",
		rec: bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: 5, Fd: 3, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_SENDTO),
			Rflags: srPeerArg | srNameChanged,
			Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 2, Proto: event.ProtoUDP, Laddr: v4("10.0.0.1"), Lport: 40000,
				Raddr: v4("203.0.113.9"), Rport: 3333}},
		want: event.SendRecv{FD: 3, PeerFromCall: true, NameChanged: true, Sock: event.Sock{Family: event.AFInet, SockType: 2, Proto: event.ProtoUDP,
			Local: netip.MustParseAddrPort("10.0.0.1:40000"), Remote: netip.MustParseAddrPort("203.0.113.9:3333")}},
		typ: event.TypeSendto, res: 5,
		fields: map[string]string{"fd.name": "10.0.0.1:40000->203.0.113.9:3333", "fd.cip": "10.0.0.1", "fd.sport": "3333",
			"fd.l4proto": "udp", "fd.typechar": "4", "fd.connected": "false", "fd.name_changed": "true", "fd.num": "3"},
	}, {
		name: "unconnected UDP recvfrom: the sender is the client",
		rec: bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: 12, Fd: 4, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_RECVFROM),
			Rflags: srPeerArg,
			Sock: bpf.VigilSockInfo{Family: event.AFInet6, Type: 2, Proto: event.ProtoUDP, Laddr: v6("2001:db8::1"), Lport: 53,
				Raddr: v6("2001:db8::2"), Rport: 50000}},
		want: event.SendRecv{FD: 4, PeerFromCall: true, Sock: event.Sock{Family: event.AFInet6, SockType: 2, Proto: event.ProtoUDP,
			Local: netip.MustParseAddrPort("[2001:db8::1]:53"), Remote: netip.MustParseAddrPort("[2001:db8::2]:50000")}},
		typ: event.TypeRecvfrom, res: 12,
		fields: map[string]string{"fd.name": "[2001:db8::2]:50000->[2001:db8::1]:53", "fd.cip": "2001:db8::2", "fd.sport": "53",
			"fd.l4proto": "udp", "fd.typechar": "6", "fd.connected": "false", "fd.name_changed": "false"},
	}, {
		name: "connected TCP recvmsg: the lower port is the server",
		rec: bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: 100, Fd: 5, Flags: 0x40, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_RECVMSG),
			Rflags: srConnected,
			Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 1, Proto: event.ProtoTCP, Laddr: v4("10.0.0.1"), Lport: 45000,
				Raddr: v4("198.51.100.7"), Rport: 8080}},
		want: event.SendRecv{FD: 5, Flags: 0x40, Connected: true, Sock: event.Sock{Family: event.AFInet, SockType: 1, Proto: event.ProtoTCP,
			Local: netip.MustParseAddrPort("10.0.0.1:45000"), Remote: netip.MustParseAddrPort("198.51.100.7:8080")}},
		typ: event.TypeRecvmsg, res: 100,
		fields: map[string]string{"fd.name": "10.0.0.1:45000->198.51.100.7:8080", "fd.sip": "198.51.100.7", "fd.sport": "8080",
			"fd.l4proto": "tcp", "fd.type": "ipv4", "fd.connected": "true"},
	}, {
		name: "connected TCP sendto on an accepted socket: the local end is the server",
		rec: bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: 7, Fd: 9, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_SENDTO),
			Rflags: srConnected | srAccepted,
			Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 1, Proto: event.ProtoTCP, Laddr: v4("10.0.0.1"), Lport: 50022,
				Raddr: v4("198.51.100.7"), Rport: 60000}},
		want: event.SendRecv{FD: 9, Connected: true, Accepted: true, Sock: event.Sock{Family: event.AFInet, SockType: 1, Proto: event.ProtoTCP,
			Local: netip.MustParseAddrPort("10.0.0.1:50022"), Remote: netip.MustParseAddrPort("198.51.100.7:60000")}},
		typ: event.TypeSendto, res: 7,
		fields: map[string]string{"fd.name": "198.51.100.7:60000->10.0.0.1:50022", "fd.sip": "10.0.0.1", "fd.cport": "60000"},
	}, {
		name: "recvfrom with two needles found",
		rec: bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: 300, Fd: 3, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_RECVFROM),
			Rflags: srConnected, Needles: 0b101, Needle: [4]uint64{0xbebafeca, 0xffff, 0x6f6c6c6568}, NeedleLen: [4]uint8{4, 2, 5},
			Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 1, Proto: event.ProtoTCP}},
		want: event.SendRecv{FD: 3, Connected: true, Needles: [32]byte{0xca, 0xfe, 0xba, 0xbe, 'h', 'e', 'l', 'l', 'o'}, NeedlesLen: 9,
			Sock: event.Sock{Family: event.AFInet, SockType: 1, Proto: event.ProtoTCP,
				Local: netip.MustParseAddrPort("0.0.0.0:0"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}},
		typ: event.TypeRecvfrom, res: 300,
		fields: map[string]string{"evt.buffer": "\xca\xfe\xba\xbehello"},
	}, {
		name: "failed sendmsg on a unix socket",
		rec: bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: -32, Fd: 6, Syscall: sysID(bpf.VigilSyscallIdVIGIL_SYS_SENDMSG),
			Sock: bpf.VigilSockInfo{Family: event.AFUnix, Type: 2}},
		want: event.SendRecv{FD: 6, Sock: event.Sock{Family: event.AFUnix, SockType: 2}},
		typ:  event.TypeSendmsg, res: -32,
		fields: map[string]string{"fd.typechar": "u", "evt.res": "EPIPE", "evt.rawres": "-32"},
	}} {
		r := decode(t, encode(t, tc.rec))
		e := &r.Event
		if e.Type != tc.typ || e.Res != tc.res || !reflect.DeepEqual(e.SendRecv, tc.want) {
			t.Errorf("%s:\n got %v %d %+v\nwant %v %d %+v", tc.name, e.Type, e.Res, e.SendRecv, tc.typ, tc.res, tc.want)
		}
		for name, want := range tc.fields {
			f, ok := event.LookupField(name)
			if !ok {
				t.Fatalf("no field %s", name)
			}
			if got, ok := renderField(f, e); !ok || got != want {
				t.Errorf("%s: %s = %q (%v), want %q", tc.name, name, got, ok, want)
			}
		}
		if k := event.SendRecvKey(e, []uint16{0, 53, 80, 3333, 8080, 50022}); k >= event.SendRecvKeyAny {
			t.Errorf("%s: key %d collides with the kernel's any key", tc.name, k)
		}
	}
	short := encode(t, bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv)})
	var d Decoder
	var r Record
	if err := d.Decode(short[:sendRecvSize-8], &r); err == nil {
		t.Error("short sendrecv record decoded")
	}
}

// renderField is a field's value of e as text, as a rule's literal would
// be written.
func renderField(f *event.Field, e *event.Event) (string, bool) {
	switch {
	case f.Str != nil:
		return f.Str(e, event.Arg{})
	case f.IP != nil:
		a, ok := f.IP(e, event.Arg{})
		return a.String(), ok
	}
	n, ok := f.Num(e, event.Arg{})
	if f.Type == event.FieldBool {
		return strconv.FormatBool(n != 0), ok
	}
	return strconv.FormatInt(n, 10), ok
}
