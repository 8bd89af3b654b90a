package sensor

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// runSendRecvHelper sends and receives on the loopback, in the order
// TestSendRecvRecords expects, printing each result and then the ports of
// its sockets: UDP datagrams from an unconnected socket to another (twice
// to one peer by sendto, once by sendmsg), both received; a TCP exchange
// on a connection; and a sendto that fails for want of a destination.
func runSendRecvHelper() int {
	res := func(n int, err error) {
		if err != nil {
			n = errnoRes(err)
		}
		fmt.Printf("res=%d\n", n)
	}
	lo := [4]byte{127, 0, 0, 1}
	rx, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	unix.Bind(rx, &unix.SockaddrInet4{Addr: lo})
	rxAddr, _ := unix.Getsockname(rx)
	tx, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	res(5, unix.Sendto(tx, []byte("hello"), 0, rxAddr))
	buf := make([]byte, 64)
	n, _, err := unix.Recvfrom(rx, buf, 0)
	res(n, err)
	res(6, unix.Sendto(tx, []byte("hello!"), 0, rxAddr))
	res(unix.SendmsgN(tx, []byte("abc"), nil, rxAddr, 0))
	n, _, _, _, err = unix.Recvmsg(rx, buf, nil, 0)
	res(n, err)

	ln, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	unix.Bind(ln, &unix.SockaddrInet4{Addr: lo})
	unix.Listen(ln, 1)
	lnAddr, _ := unix.Getsockname(ln)
	cl, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	unix.Connect(cl, lnAddr)
	srv, _, _ := unix.Accept(ln)
	res(4, unix.Sendto(cl, []byte("ping"), 0, nil))
	n, _, err = unix.Recvfrom(srv, buf, 0)
	res(n, err)

	lone, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	res(1, unix.Sendto(lone, []byte("x"), 0, nil))

	// IPv6: a datagram over ::1 by sendmsg, received by recvmsg.
	rx6, _ := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM, 0)
	unix.Bind(rx6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}})
	rx6Addr, _ := unix.Getsockname(rx6)
	tx6, _ := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM, 0)
	unix.Bind(tx6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}})
	res(unix.SendmsgN(tx6, []byte("six"), nil, rx6Addr, 0))
	n, _, _, _, err = unix.Recvmsg(rx6, buf, nil, 0)
	res(n, err)

	port := func(fd int) int {
		sa, _ := unix.Getsockname(fd)
		switch in := sa.(type) {
		case *unix.SockaddrInet4:
			return in.Port
		case *unix.SockaddrInet6:
			return in.Port
		}
		return 0
	}
	fmt.Printf("res=%d\nres=%d\nres=%d\nres=%d\nres=%d\nres=%d\nres=%d\n", rx, port(rx), port(tx), port(ln), port(cl), port(rx6), port(tx6))
	return 0
}

// TestSendRecvRecords checks the sendrecv kind's records of real UDP and
// TCP traffic on the loopback: both ends of each call, the byte counts, the
// peer an unconnected socket named and whether it changed, and a failed
// call.
func TestSendRecvRecords(t *testing.T) {
	h := startHarness(t)
	c := h.spawn(t, t.TempDir(), "sendrecv")
	if len(c.results) != 17 {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	rxFD, rxPort, txPort, lnPort, clPort := c.results[10], c.results[11], c.results[12], c.results[13], c.results[14]
	rx6Port, tx6Port := c.results[15], c.results[16]
	ap6 := func(port int) netip.AddrPort { return netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port)) }
	ap := func(port int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	}
	// The sender never bound: the kernel gave it a port on the wildcard.
	wild := func(port int) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("0.0.0.0"), uint16(port)) }
	type want struct {
		what                              string
		typ                               event.Type
		res                               int
		local, remote                     netip.AddrPort
		proto                             uint8
		connected, peerFromCall, nameChgd bool
		accepted                          bool
		fdName                            string
	}
	var seen []captured
	for _, w := range []want{
		{"first UDP sendto", event.TypeSendto, c.results[0], wild(txPort), ap(rxPort), event.ProtoUDP, false, true, true, false,
			fmt.Sprintf("0.0.0.0:%d->127.0.0.1:%d", txPort, rxPort)},
		{"UDP recvfrom", event.TypeRecvfrom, c.results[1], ap(rxPort), ap(txPort), event.ProtoUDP, false, true, true, false,
			fmt.Sprintf("127.0.0.1:%d->127.0.0.1:%d", txPort, rxPort)},
		{"second UDP sendto to the same peer", event.TypeSendto, c.results[2], wild(txPort), ap(rxPort), event.ProtoUDP, false, true, false, false, ""},
		{"UDP sendmsg to the same peer", event.TypeSendmsg, c.results[3], wild(txPort), ap(rxPort), event.ProtoUDP, false, true, false, false, ""},
		{"UDP recvmsg from the same peer", event.TypeRecvmsg, c.results[4], ap(rxPort), ap(txPort), event.ProtoUDP, false, true, false, false, ""},
		{"TCP send", event.TypeSendto, c.results[5], ap(clPort), ap(lnPort), event.ProtoTCP, true, false, false, false,
			fmt.Sprintf("127.0.0.1:%d->127.0.0.1:%d", clPort, lnPort)},
		{"TCP recv", event.TypeRecvfrom, c.results[6], ap(lnPort), ap(clPort), event.ProtoTCP, true, false, false, true,
			fmt.Sprintf("127.0.0.1:%d->127.0.0.1:%d", clPort, lnPort)},
		{"UDP sendmsg over IPv6", event.TypeSendmsg, c.results[8], ap6(tx6Port), ap6(rx6Port), event.ProtoUDP, false, true, true, false,
			fmt.Sprintf("[::1]:%d->[::1]:%d", tx6Port, rx6Port)},
		{"UDP recvmsg over IPv6", event.TypeRecvmsg, c.results[9], ap6(rx6Port), ap6(tx6Port), event.ProtoUDP, false, true, true, false,
			fmt.Sprintf("[::1]:%d->[::1]:%d", tx6Port, rx6Port)},
	} {
		got := h.wait(t, c.pid, w.what, func(e *captured) bool {
			if e.PID != c.pid || e.Type != w.typ {
				return false
			}
			for _, s := range seen {
				if s.Num == e.Num {
					return false
				}
			}
			return true
		})
		seen = append(seen, got)
		s := got.SendRecv
		family := uint16(unix.AF_INET)
		if w.local.Addr().Is6() {
			family = unix.AF_INET6
		}
		if got.Res != int64(w.res) || s.Sock.Family != family || s.Sock.Proto != w.proto || s.Sock.Local != w.local ||
			s.Sock.Remote != w.remote || s.Connected != w.connected || s.PeerFromCall != w.peerFromCall || s.NameChanged != w.nameChgd || s.Accepted != w.accepted {
			t.Errorf("%s: res %d %+v\nwant res %d local %v remote %v proto %d connected %v peer-from-call %v name-changed %v accepted %v",
				w.what, got.Res, s, w.res, w.local, w.remote, w.proto, w.connected, w.peerFromCall, w.nameChgd, w.accepted)
		}
		if w.fdName != "" {
			f, _ := event.LookupField("fd.name")
			if name, _ := f.Str(&got.Event, event.Arg{}); name != w.fdName {
				t.Errorf("%s: fd.name %q, want %q", w.what, name, w.fdName)
			}
		}
		if w.typ == event.TypeRecvfrom && w.proto == event.ProtoUDP && s.FD != int32(rxFD) {
			t.Errorf("%s: fd %d, want %d", w.what, s.FD, rxFD)
		}
	}
	failed := h.wait(t, c.pid, "failed sendto", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeSendto && e.Res < 0 })
	if failed.Res != int64(c.results[7]) || failed.Res != -int64(unix.EDESTADDRREQ) || failed.SendRecv.Sock.Proto != event.ProtoUDP ||
		failed.SendRecv.Connected || failed.SendRecv.NameChanged {
		t.Errorf("failed sendto: res %d %+v", failed.Res, failed.SendRecv)
	}
}

// TestSendRecvFilterKeys checks the sendrecv kind's keys against the
// kernel's.
func TestSendRecvFilterKeys(t *testing.T) {
	for _, k := range []struct {
		kernel bpf.VigilSendrecvFilterKey
		goKey  int
	}{
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_UNIX, event.SendRecvKeyUnix},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_TCP, event.SendRecvKeyTCP},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_UDP, event.SendRecvKeyUDP},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_IP_OTHER, event.SendRecvKeyIPOther},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_CLASS, event.SendRecvKeyClass},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_CONNECTED, event.SendRecvKeyConnected},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_NAME_CHANGED, event.SendRecvKeyNameChanged},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_PORT, event.SendRecvKeyPort},
		{bpf.VigilSendrecvFilterKeyVIGIL_SR_KEY_ANY, event.SendRecvKeyAny},
	} {
		if int(k.kernel) != k.goKey {
			t.Errorf("kernel key %d, Go %d", k.kernel, k.goKey)
		}
	}
	if event.SendRecvKeyAny >= maxFilterKeys {
		t.Errorf("any key %d, the filter tells %d apart", event.SendRecvKeyAny, maxFilterKeys)
	}
}

// TestSendRecvFilter sets a sendrecv filter that keeps only sends from
// unconnected UDP sockets to a new peer (what Falco's outbound macro asks
// of sendto) and checks that the kernel keeps only the helper's first
// sendto and its IPv6 sendmsg, in each hook mode, and counts the rest as
// filtered.
func TestSendRecvFilter(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) {
		f := &event.Filter{Clauses: []event.Clause{{
			Types: event.TypeSetOf(event.TypeSendto, event.TypeSendmsg), Results: event.ResultSucceeded, AnyPath: true,
			Classes: 1<<(event.SendRecvKeyUDP|event.SendRecvKeyNameChanged) |
				1<<(event.SendRecvKeyUDP|event.SendRecvKeyNameChanged|event.SendRecvKeyPort),
		}}}
		if err := fh.s.SetFilter(event.KindSendRecv, f); err != nil {
			t.Fatalf("SetFilter: %v", err)
		}
		before := fh.s.Stats().Kinds[event.KindSendRecv].Filtered
		c := h.spawn(t, t.TempDir(), "sendrecv")
		fh.wait(t, c.pid, "the helper's exit", isType(c.pid, event.TypeProcExit))
		var kept []string
		for _, e := range fh.all(c.pid) {
			if e.Type.Kind() == event.KindSendRecv {
				kept = append(kept, e.String())
			}
		}
		if len(kept) != 2 || !strings.HasPrefix(kept[0], "sendto") || !strings.HasPrefix(kept[1], "sendmsg") {
			t.Errorf("the filter kept %q, want the first sendto and the IPv6 sendmsg", kept)
		}
		if got := fh.s.Stats().Kinds[event.KindSendRecv].Filtered - before; got < 8 {
			t.Errorf("filtered %d sends and receives, want at least the helper's other 8", got)
		}
	})
}

// TestSendRecvPorts sets sendrecv filters whose one clause needs the
// server's port among the filter's ports: with none, the kernel keeps
// none of the helper's calls; with every port, the new-peer UDP sends.
func TestSendRecvPorts(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) {
		every := make([]uint16, 0, 1<<16)
		for p := range 1 << 16 {
			every = append(every, uint16(p))
		}
		for _, tc := range []struct {
			ports []uint16
			want  int
		}{{nil, 0}, {every, 2}} {
			f := &event.Filter{Ports: tc.ports, Clauses: []event.Clause{{
				Types: event.TypeSetOf(event.TypeSendto, event.TypeSendmsg), Results: event.ResultSucceeded, AnyPath: true,
				Classes: 1 << (event.SendRecvKeyUDP | event.SendRecvKeyNameChanged | event.SendRecvKeyPort),
			}}}
			if err := fh.s.SetFilter(event.KindSendRecv, f); err != nil {
				t.Fatalf("SetFilter: %v", err)
			}
			c := h.spawn(t, t.TempDir(), "sendrecv")
			fh.wait(t, c.pid, "the helper's exit", isType(c.pid, event.TypeProcExit))
			var kept []string
			for _, e := range fh.all(c.pid) {
				if e.Type.Kind() == event.KindSendRecv {
					kept = append(kept, e.String())
				}
			}
			if len(kept) != tc.want {
				t.Errorf("%d ports: the filter kept %q, want %d", len(tc.ports), kept, tc.want)
			}
		}
	})
}

// TestSendRecvNeedles sets a sendrecv filter whose one clause needs
// "ping" in the data received (evt.buffer contains ping) and checks that
// the kernel keeps only the helper's TCP recvfrom of "ping", with the
// needle found as its evt.buffer, and drops the UDP receives of other
// data, in each hook mode.
func TestSendRecvNeedles(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) {
		f := &event.Filter{Clauses: []event.Clause{{
			Types: event.TypeSetOf(event.TypeRecvfrom, event.TypeRecvmsg), Results: event.AllResults, AnyPath: true,
			Classes: ^uint64(0), RawContains: "ping",
		}}}
		if err := fh.s.SetFilter(event.KindSendRecv, f); err != nil {
			t.Fatalf("SetFilter: %v", err)
		}
		c := h.spawn(t, t.TempDir(), "sendrecv")
		fh.wait(t, c.pid, "the helper's exit", isType(c.pid, event.TypeProcExit))
		var kept []captured
		for _, e := range fh.all(c.pid) {
			if e.Type.Kind() == event.KindSendRecv {
				kept = append(kept, e)
			}
		}
		buffer, _ := event.LookupField("evt.buffer")
		if len(kept) != 1 || kept[0].Type != event.TypeRecvfrom || kept[0].SendRecv.Sock.Proto != event.ProtoTCP {
			t.Fatalf("the filter kept %v, want the TCP recvfrom alone", kept)
		}
		if b, ok := buffer.Str(&kept[0].Event, event.Arg{}); !ok || b != "ping" {
			t.Errorf("evt.buffer %q, want the needle ping", b)
		}
	})
}
