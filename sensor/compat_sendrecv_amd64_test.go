package sensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/internal/testutil/ia32"
)

// helperCompatSendRecv sends a UDP datagram with an ia32 sendmsg (int
// $0x80) between two loopback sockets the 64-bit calls made, and receives
// it with an ia32 recvmsg: both messages, their iovecs, addresses and data
// are in the compat layout, below 4 GiB. It prints the thread's id, the
// two results and the two sockets' ports.
func helperCompatSendRecv() int {
	runtime.LockOSThread()
	mem, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_32BIT)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap below 4 GiB:", err)
		return 3
	}
	defer unix.Munmap(mem)
	base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(mem))))
	used := uint32(0)
	// alloc reserves n bytes of mem and returns their 32-bit address.
	alloc := func(n uint32) (uint32, []byte) {
		addr := base + used
		b := mem[used : used+n]
		used = (used + n + 7) &^ 7
		return addr, b
	}
	lo := [4]byte{127, 0, 0, 1}
	rx, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	unix.Bind(rx, &unix.SockaddrInet4{Addr: lo})
	tx, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	unix.Bind(tx, &unix.SockaddrInet4{Addr: lo})
	port := func(fd int) int {
		sa, _ := unix.Getsockname(fd)
		return sa.(*unix.SockaddrInet4).Port
	}
	// msg builds a compat_msghdr naming a sockaddr_in buffer (filled with
	// addr's port when non-zero) and one iovec of n bytes holding data.
	msg := func(toPort int, data string, n uint32) uint32 {
		saAddr, sa := alloc(unix.SizeofSockaddrInet4)
		if toPort != 0 {
			binary.NativeEndian.PutUint16(sa, unix.AF_INET)
			binary.BigEndian.PutUint16(sa[2:], uint16(toPort))
			copy(sa[4:], lo[:])
		}
		dataAddr, buf := alloc(n)
		copy(buf, data)
		iovAddr, iov := alloc(8)
		binary.NativeEndian.PutUint32(iov, dataAddr)
		binary.NativeEndian.PutUint32(iov[4:], n)
		hdrAddr, hdr := alloc(28)
		binary.NativeEndian.PutUint32(hdr, saAddr)
		binary.NativeEndian.PutUint32(hdr[4:], unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint32(hdr[8:], iovAddr)
		binary.NativeEndian.PutUint32(hdr[12:], 1)
		return hdrAddr
	}
	send := msg(port(rx), "compat!", 7)
	recv := msg(0, "", 64)
	fmt.Printf("res=%d\n", unix.Gettid())
	fmt.Printf("res=%d\n", ia32.Syscall(ia32.SysSendmsg, uint32(tx), send, 0, 0))
	fmt.Printf("res=%d\n", ia32.Syscall(ia32.SysRecvmsg, uint32(rx), recv, 0, 0))
	fmt.Printf("res=%d\nres=%d\n", port(tx), port(rx))
	return 0
}

// TestCompatSendRecv checks the sendrecv kind's ia32 path: the raw
// sys_exit program reads a 32-bit caller's messages in the compat layout,
// so the peer each names and the byte counts are right.
func TestCompatSendRecv(t *testing.T) {
	h := startHarness(t)
	if !h.s.rawSyscalls {
		testutil.SkipKernelLacks(t, "the raw sys_exit hook, the only one that sees compat syscalls", h.s.rawErr)
	}
	upLoopback(t)
	c := h.spawn(t, t.TempDir(), "compat", "sendrecv")
	const ia32Emulation = "ia32 syscalls (CONFIG_IA32_EMULATION, not booted with ia32_emulation=false)"
	if len(c.results) < 2 && strings.Contains(c.stderr, "SIGSEGV") {
		testutil.SkipKernelLacks(t, ia32Emulation, errors.New("int $0x80 faults"))
	}
	if len(c.results) > 1 && c.results[1] == -int(unix.ENOSYS) {
		testutil.SkipKernelLacks(t, ia32Emulation, unix.ENOSYS)
	}
	if len(c.results) != 5 || c.results[1] != 7 || c.results[2] != 7 {
		t.Fatalf("helper results %v, want the tid, 7, 7 and two ports (stderr %s)", c.results, c.stderr)
	}
	tid, txPort, rxPort := uint32(c.results[0]), c.results[3], c.results[4]
	ap := func(port int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	}
	for _, w := range []struct {
		typ           event.Type
		local, remote netip.AddrPort
	}{
		{event.TypeSendmsg, ap(txPort), ap(rxPort)},
		{event.TypeRecvmsg, ap(rxPort), ap(txPort)},
	} {
		e := h.wait(t, c.pid, "ia32 "+w.typ.String(), func(e *captured) bool { return e.TID == tid && e.Type == w.typ })
		s := e.SendRecv
		if e.Res != 7 || !s.PeerFromCall || !s.NameChanged || s.Sock.Local != w.local || s.Sock.Remote != w.remote {
			t.Errorf("ia32 %s: res %d %+v; want 7 bytes between %v and %v, the peer from the call", w.typ, e.Res, s, w.local, w.remote)
		}
	}
}
