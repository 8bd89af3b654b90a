package sensor

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// helperEnv selects a helper mode: the test binary, re-executed with it set,
// does one thing in a child process and exits. The privileged tests need
// children because the sensor filters out its own process, and re-executing
// the test binary keeps them free of any tool (the kernel-matrix VMs have
// only busybox).
const helperEnv = "VIGIL_SENSOR_TEST_HELPER"

// init pins a helper's main goroutine to the process's main thread (an
// init runs there), so that the syscalls of a helper mode come from the
// thread whose id is the pid, as tests that check an event's thread
// expect; unpinned, the Go scheduler may move it to another thread
// (TestIOURingOpenat once saw its submit from tid pid+2).
func init() {
	if os.Getenv(helperEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	code := m.Run()
	closeHarness()
	os.Exit(code)
}

// runHelper runs a helper mode and returns the exit code. Results of
// syscalls are printed one per line as "res=N" (a negative errno on error).
func runHelper(mode string, args []string) int {
	switch mode {
	case "exit":
		if len(args) > 0 {
			code, _ := strconv.Atoi(args[0])
			return code
		}
		return 0
	case "open":
		for _, op := range args {
			fmt.Printf("res=%d\n", helperOpen(op))
		}
		return 0
	case "connect":
		fmt.Printf("res=%d\n", helperConnect(args[0], args[1], args[2] == "nonblock"))
		return 0
	case "execfail":
		err := syscall.Exec(args[0], args, os.Environ())
		fmt.Printf("res=%d\n", errnoRes(err))
		return 3
	case "memfd":
		// The test binary, run from a memfd as fileless malware does; the
		// new image runs helper mode "exit".
		err := testutil.ExecMemfd("vigil-test", "/proc/self/exe", []string{"vigil-memfd", "from-memfd"}, []string{helperEnv + "=exit"})
		fmt.Fprintln(os.Stderr, err)
		return 3
	case "probe":
		s, err := New(Config{})
		if err == nil {
			s.Close()
			fmt.Println("probe=ok")
			return 0
		}
		fmt.Printf("privileges=%v\n%v\n", errors.Is(err, ErrPrivileges), err)
		return 0
	case "scratch":
		return helperScratch(args)
	case "openloop":
		return helperOpenLoop(args)
	case "compat":
		return helperCompat(args)
	case "priv":
		return runPrivHelper(args)
	case "bpftarget":
		return helperBPFTarget(args)
	case "sendrecv":
		return runSendRecvHelper()
	case "fsop":
		return runFsopHelper()
	case "dup":
		return helperDup(args)
	case "fspath":
		for _, op := range args {
			fmt.Printf("res=%d\n", helperFSPath(op))
		}
		return 0
	case "uring":
		res, err := uringOpenat(args[0], unix.O_RDONLY|unix.O_CLOEXEC)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Printf("res=%d\n", res)
		return 0
	case "uringops":
		return helperURing(args)
	case "handle":
		return helperOpenByHandle(args[0])
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

func errnoRes(err error) int {
	if err == nil {
		return 0
	}
	if errno, ok := err.(syscall.Errno); ok {
		return -int(errno)
	}
	return -1000
}

// helperOpen runs one open described as "op:path" (or "dirfd:dir:rel") and
// returns the fd or -errno. Files it opens stay open until exit.
func helperOpen(op string) int {
	kind, path, _ := strings.Cut(op, ":")
	var (
		fd  int
		err error
	)
	switch kind {
	case "openat":
		fd, err = unix.Openat(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	case "openat-creat":
		fd, err = unix.Openat(unix.AT_FDCWD, path, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o640)
	case "openat2":
		fd, err = unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_DIRECTORY})
	case "open":
		fd, err = rawOpen(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	case "creat":
		fd, err = rawCreat(path, 0o600)
	case "dirfd":
		dir, rel, _ := strings.Cut(path, ":")
		var dfd int
		if dfd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			fd, err = unix.Openat(dfd, rel, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
	default:
		return -1000
	}
	if err != nil {
		return errnoRes(err)
	}
	return fd
}

// helperConnect connects a new socket to addr ("tcp4", "tcp6", "udp4" or
// "unix") and returns 0 or -errno.
func helperConnect(network, addr string, nonblock bool) int {
	typ := unix.SOCK_STREAM | unix.SOCK_CLOEXEC
	if strings.HasPrefix(network, "udp") {
		typ = unix.SOCK_DGRAM | unix.SOCK_CLOEXEC
	}
	if nonblock {
		typ |= unix.SOCK_NONBLOCK
	}
	var (
		family int
		sa     unix.Sockaddr
	)
	switch network {
	case "unix":
		family, sa = unix.AF_UNIX, &unix.SockaddrUnix{Name: addr}
	default:
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return -1000
		}
		if ap.Addr().Is4() {
			family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		} else {
			family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		}
	}
	fd, err := unix.Socket(family, typ, 0)
	if err != nil {
		return -1000
	}
	return errnoRes(unix.Connect(fd, sa))
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// upLoopback brings lo up: the kernel-matrix VMs boot with it down.
func upLoopback(t *testing.T) {
	t.Helper()
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatalf("finding lo: %v", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatalf("bringing lo up: %v", err)
	}
}

// peers are the endpoints the connect helpers reach: TCP listeners on
// 127.0.0.1 and ::1, a UDP socket on 127.0.0.1, a TCP address on
// 127.0.0.1 that refuses connections (a listener's, closed), and a unix
// socket listener.
type peers struct {
	tcp4, tcp6, unix net.Listener
	udp4             net.PacketConn
	refused          string
}

// listenPeers brings lo up and opens the peers, the unix socket in dir;
// they are closed when the test ends.
func listenPeers(t *testing.T, dir string) peers {
	t.Helper()
	upLoopback(t)
	var p peers
	listen := func(network, addr string) net.Listener {
		t.Helper()
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatalf("listening on %s %s: %v", network, addr, err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	p.tcp4 = listen("tcp4", "127.0.0.1:0")
	p.tcp6 = listen("tcp6", "[::1]:0")
	p.unix = listen("unix", filepath.Join(dir, "vigil.sock"))
	closed := listen("tcp4", "127.0.0.1:0")
	p.refused = closed.Addr().String()
	closed.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on udp4 127.0.0.1: %v", err)
	}
	t.Cleanup(func() { udp.Close() })
	p.udp4 = udp
	return p
}
