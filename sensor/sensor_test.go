package sensor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// The tests below load the real programs and run real processes (children
// of the test binary, see helperEnv); each asserts on the decoded events of
// its own children. They need root and run unchanged on every kernel of the
// matrix.

func realTempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// selfFacts are what a child inherits from the test process.
type selfFacts struct {
	cgroupID uint64
	loginUID uint32
	tty      uint32
}

func readSelf(t *testing.T) selfFacts {
	t.Helper()
	fs := procDir{root: "/proc", cgroupRoot: findCgroup2("/proc")}
	p, ok := fs.read(uint32(os.Getpid()), &userDB{path: "/nonexistent"})
	if !ok {
		t.Fatal("cannot read /proc/self")
	}
	return selfFacts{cgroupID: p.CgroupID, loginUID: p.LoginUID, tty: p.TTY}
}

func isType(pid uint32, typ event.Type) func(*captured) bool {
	return func(c *captured) bool { return c.PID == pid && c.Type == typ }
}

func TestHooks(t *testing.T) {
	h := startHarness(t)
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	t.Logf("kernel %s: hooks %v", unix.ByteSliceToString(uts.Release[:]), h.s.Hooks())
	// One line per hook family, for the kernel-matrix summary.
	var families []string
	for _, hook := range h.s.Hooks() {
		if f, _, _ := strings.Cut(hook, "/"); f == "tp_btf" || f == "tracepoint" {
			hook = f
		}
		if !slices.Contains(families, hook) {
			families = append(families, hook)
			t.Logf("hook active: %s", hook)
		}
	}
	if h.s.fileOpenErr != nil {
		t.Logf("kernel lacks file_open hook: %v", h.s.fileOpenErr)
	}
	want := []string{
		"tp_btf/sched_process_exec", "tp_btf/sched_process_fork", "tp_btf/sched_process_exit",
		"tracepoint/syscalls/sys_enter_execve", "tracepoint/syscalls/sys_exit_execveat",
	}
	if h.s.rawSyscalls {
		t.Logf("syscall hooks: raw sys_exit (direct loads: %v)", h.s.rawDirect)
		want = append(want, "tp_btf/sys_exit")
		// Direct loads need bpf_rdonly_cast (Linux 6.2); a kernel that
		// has it and still reads through helpers has a broken probe.
		if !h.s.rawDirect && kernelAtLeast(6, 2) {
			t.Errorf("raw sys_exit hook without direct loads on a kernel >= 6.2")
		}
	} else {
		t.Logf("syscall hooks: tracepoints (raw sys_exit unavailable: %v)", h.s.rawErr)
		// The raw program needs x86-64 and tp_btf, which every kernel
		// vigil supports has: on x86-64, falling back is a broken probe.
		if runtime.GOARCH == "amd64" {
			t.Errorf("raw sys_exit hook not used on x86-64: %v", h.s.rawErr)
		}
		want = append(want,
			"tracepoint/syscalls/sys_enter_openat", "tracepoint/syscalls/sys_exit_openat2",
			"tracepoint/syscalls/sys_enter_connect", "tracepoint/syscalls/sys_exit_connect")
	}
	if h.s.iouringErr == nil {
		want = append(want, "tp_btf/io_uring_create", "tp_btf/io_uring_submit_req")
	} else {
		t.Logf("io_uring kind off: %v", h.s.iouringErr)
		// A 6.0+ kernel that has the io_uring tracepoints and still
		// turns the kind off has a broken probe.
		if _, err := os.Stat(filepath.Join(tracefsPath, "events/io_uring/io_uring_submit_req")); err == nil && kernelAtLeast(6, 0) {
			t.Errorf("io_uring kind off on a kernel with io_uring_submit_req: %v", h.s.iouringErr)
		}
	}
	hooks := strings.Join(h.s.Hooks(), " ")
	for _, want := range want {
		if !strings.Contains(hooks, want) {
			t.Errorf("hook %s not attached", want)
		}
	}
}

func TestExecArgs(t *testing.T) {
	h := startHarness(t)
	self := readSelf(t)
	dir := realTempDir(t)
	start := time.Now()
	c := h.spawn(t, dir, "exit", "alpha", "beta gamma", "")
	ev := h.wait(t, c.pid, "execve", isType(c.pid, event.TypeExecve))

	exePath, err := filepath.EvalSymlinks(h.bin)
	if err != nil {
		t.Fatal(err)
	}
	comm := filepath.Base(h.bin)
	if len(comm) > 15 {
		comm = comm[:15]
	}
	p := ev.Proc
	if ev.Res != 0 || ev.TID != c.pid || string(ev.Exec.Filename) != h.bin {
		t.Errorf("exec event: %s", ev.String())
	}
	if p.PID != c.pid || p.PPID != h.self || p.Parent == nil || p.Parent.PID != h.self {
		t.Errorf("process identity: pid %d ppid %d parent %+v", p.PID, p.PPID, p.Parent)
	}
	if p.Name != comm || p.Exe != h.bin || p.ExePath != exePath || p.Args != "alpha beta gamma " ||
		p.Cmdline != comm+" alpha beta gamma " || p.ArgsTruncated || p.Cwd != dir {
		t.Errorf("process image: %+v", p)
	}
	if p.UID != uint32(os.Getuid()) || p.EUID != uint32(os.Geteuid()) || p.GID != uint32(os.Getgid()) ||
		p.LoginUID != self.loginUID || p.TTY != self.tty || p.ExeFromMemfd || p.ExeDeleted {
		t.Errorf("process credentials: %+v, want loginuid %d tty %d", p, self.loginUID, self.tty)
	}
	if ev.CgroupID != self.cgroupID || p.CgroupID != self.cgroupID {
		t.Errorf("cgroup id %d (process %d), want %d", ev.CgroupID, p.CgroupID, self.cgroupID)
	}
	if when := time.Unix(0, ev.Time); when.Before(start.Add(-time.Second)) || when.After(time.Now().Add(time.Second)) {
		t.Errorf("event time %v outside [%v, now]", when, start)
	}
	if p.StartTime != ev.Time {
		t.Errorf("start time %d, want the exec time %d", p.StartTime, ev.Time)
	}
}

func TestExecArgsTruncated(t *testing.T) {
	h := startHarness(t)
	args := make([]string, 60)
	for i := range args {
		args[i] = fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 96))
	}
	c := h.spawn(t, "", "exit", args...)
	ev := h.wait(t, c.pid, "execve", isType(c.pid, event.TypeExecve))
	full := strings.Join(args, " ")
	if !ev.Proc.ArgsTruncated || len(ev.Proc.Args) == 0 || len(ev.Proc.Args) >= len(full) || !strings.HasPrefix(full, ev.Proc.Args) {
		t.Errorf("truncated argv: truncated=%v len %d of %d: %.80q...", ev.Proc.ArgsTruncated, len(ev.Proc.Args), len(full), ev.Proc.Args)
	}
	// argv[0], its NUL, then the rest up to the bound.
	if n := len(h.bin) + 1 + len(ev.Proc.Args); n != int(bpf.VigilStrBoundsVIGIL_STR_MAX) {
		t.Errorf("kept %d argv bytes, want the %d-byte bound", n, bpf.VigilStrBoundsVIGIL_STR_MAX)
	}
}

func TestExecFailed(t *testing.T) {
	h := startHarness(t)
	const missing = "/nonexistent-vigil-test/prog"
	c := h.spawn(t, "", "execfail", missing)
	if len(c.results) != 1 || c.results[0] != -int(unix.ENOENT) {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	ev := h.wait(t, c.pid, "failed execve", func(c2 *captured) bool {
		return c2.PID == c.pid && c2.Type == event.TypeExecve && c2.Res != 0
	})
	if ev.Res != -int64(unix.ENOENT) || string(ev.Exec.Filename) != missing || ev.Proc == nil || ev.Proc.PID != c.pid {
		t.Errorf("failed exec: %s", ev.String())
	}
	// The process keeps its image: still the helper.
	if ev.Proc.ExePath == "" || ev.Proc.Exe != h.bin {
		t.Errorf("failed exec changed the process: %+v", ev.Proc)
	}
}

func TestExecMemfd(t *testing.T) {
	h := startHarness(t)
	c := h.spawn(t, "", "memfd")
	ev := h.wait(t, c.pid, "execveat from a memfd", isType(c.pid, event.TypeExecveat))
	p := ev.Proc
	if ev.Res != 0 || !p.ExeFromMemfd || p.ExeDeleted || !strings.HasPrefix(p.ExePath, "/memfd:vigil-test") ||
		p.Exe != "vigil-memfd" || p.Args != "from-memfd" || !bytes.HasPrefix(ev.Exec.Filename, []byte("/dev/fd/")) {
		t.Errorf("memfd exec: %s process %+v (helper stderr %q)", ev.String(), p, c.stderr)
	}
}

func TestForkExit(t *testing.T) {
	h := startHarness(t)
	c := h.spawn(t, "", "exit", "3")
	fork := h.wait(t, c.pid, "clone", isType(c.pid, event.TypeClone))
	if fork.Proc.PID != c.pid || fork.Proc.PPID != h.self || fork.Proc.Parent == nil || fork.Proc.Parent.PID != h.self || fork.TID != c.pid {
		t.Errorf("clone: %s parent %+v", fork.String(), fork.Proc.Parent)
	}
	exit := h.wait(t, c.pid, "procexit", isType(c.pid, event.TypeProcExit))
	if exit.Res != 3<<8 || exit.Proc.PID != c.pid || exit.Proc.Exe != h.bin {
		t.Errorf("exit: %s", exit.String())
	}
	var freed bool
	h.onRunGoroutine(t, func() { freed = h.s.Table().Lookup(c.pid) == nil })
	if !freed {
		t.Errorf("process %d still in the table after its exit was delivered", c.pid)
	}
}

// openCase is one open a helper performs and the event it must produce.
type openCase struct {
	op       string // helperOpen's "kind:path"
	typ      event.Type
	raw      string
	name     string // the caller's name
	real     string // the resolved path, when it is not name (success only)
	res      int    // 0: a file descriptor; else the errno result
	flags    uint32
	mode     uint32
	fileType uint32
	dirfd    bool // DirFD is a real descriptor, not AT_FDCWD
}

func TestOpen(t *testing.T) {
	h := startHarness(t)
	dir := realTempDir(t)
	weird := "we\nird\"'\xff\xfe.txt"
	for _, f := range []string{"file.txt", weird} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file.txt")
	rdonly := uint32(unix.O_RDONLY | unix.O_CLOEXEC)
	cases := []openCase{
		{op: "openat:sub/../file.txt", typ: event.TypeOpenat, raw: "sub/../file.txt", name: file, flags: rdonly, fileType: unix.S_IFREG},
		{op: "openat:link", typ: event.TypeOpenat, raw: "link", name: filepath.Join(dir, "link"), real: file, flags: rdonly, fileType: unix.S_IFREG},
		{op: "openat:" + dir + "//sub/./../link", typ: event.TypeOpenat, raw: dir + "//sub/./../link", name: filepath.Join(dir, "link"), real: file,
			flags: rdonly, fileType: unix.S_IFREG},
		{op: "openat:missing/nope", typ: event.TypeOpenat, raw: "missing/nope", name: filepath.Join(dir, "missing/nope"), res: -int(unix.ENOENT), flags: rdonly},
		{op: "openat:" + filepath.Join(dir, weird), typ: event.TypeOpenat, raw: filepath.Join(dir, weird), name: filepath.Join(dir, weird), flags: rdonly, fileType: unix.S_IFREG},
		{op: "openat-creat:new.txt", typ: event.TypeOpenat, raw: "new.txt", name: filepath.Join(dir, "new.txt"), flags: unix.O_CREAT | unix.O_WRONLY | unix.O_CLOEXEC, mode: 0o640, fileType: unix.S_IFREG},
		{op: "openat2:sub", typ: event.TypeOpenat2, raw: "sub", name: filepath.Join(dir, "sub"), flags: rdonly | unix.O_DIRECTORY, fileType: unix.S_IFDIR},
		{op: "dirfd:" + filepath.Join(dir, "sub") + ":../file.txt", typ: event.TypeOpenat, raw: "../file.txt", name: file, flags: rdonly, fileType: unix.S_IFREG, dirfd: true},
		{op: "dirfd:" + filepath.Join(dir, "sub") + ":gone", typ: event.TypeOpenat, raw: "gone", name: filepath.Join(dir, "sub", "gone"), res: -int(unix.ENOENT), flags: rdonly, dirfd: true},
	}
	if haveLegacyOpen {
		cases = append(cases,
			openCase{op: "open:./file.txt", typ: event.TypeOpen, raw: "./file.txt", name: file, flags: rdonly, fileType: unix.S_IFREG},
			openCase{op: "creat:made.txt", typ: event.TypeCreat, raw: "made.txt", name: filepath.Join(dir, "made.txt"), flags: unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC, mode: 0o600, fileType: unix.S_IFREG})
	}
	ops := make([]string, len(cases))
	for i, tc := range cases {
		ops[i] = tc.op
	}
	c := h.spawn(t, dir, "open", ops...)
	if len(c.results) != len(cases) {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	for i, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			res := c.results[i]
			if (tc.res == 0 && res < 0) || (tc.res != 0 && res != tc.res) {
				t.Fatalf("helper got %d, want %d", res, tc.res)
			}
			ev := h.wait(t, c.pid, "open of "+tc.raw, func(e *captured) bool {
				return e.PID == c.pid && e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == tc.raw
			})
			o := ev.Open
			real := tc.real
			if real == "" && tc.res == 0 {
				real = tc.name
			}
			if ev.Type != tc.typ || ev.Res != int64(res) || string(o.Name) != tc.name || string(o.RealPath) != real || o.Flags != tc.flags ||
				o.Mode != tc.mode || o.FileType != tc.fileType || o.NameTruncated || o.RealPathTruncated || o.RawTruncated || o.ViaHook {
				t.Errorf("got  %s\nwant type %s res %d name %q realpath %q flags %#o mode %#o ftype %#o", ev.String(), tc.typ, res, tc.name,
					real, tc.flags, tc.mode, tc.fileType)
			}
			if (o.DirFD >= 0) != tc.dirfd || (!tc.dirfd && o.DirFD != unix.AT_FDCWD) {
				t.Errorf("dirfd %d, want a descriptor: %v", o.DirFD, tc.dirfd)
			}
			if ev.Proc == nil || ev.Proc.PID != c.pid || ev.Proc.Cwd != dir {
				t.Errorf("process %+v", ev.Proc)
			}
		})
	}
	// Each open is reported once, by the syscall hooks, even where the
	// file_open hook is attached too.
	h.wait(t, c.pid, "procexit", isType(c.pid, event.TypeProcExit))
	n := 0
	for _, e := range h.all(c.pid) {
		if e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == "link" || e.Open.ViaHook {
			n++
		}
	}
	if n != 1 {
		t.Errorf("open of %q reported %d times:\n%s", "link", n, h.dump(c.pid))
	}
}

type connectCase struct {
	name           string
	network, addr  string
	nonblock       bool
	res            int
	family         uint16
	sockType, prot uint8
}

func TestConnectInet(t *testing.T) {
	h := startHarness(t)
	p := listenPeers(t, realTempDir(t))

	const stream, dgram = unix.SOCK_STREAM, unix.SOCK_DGRAM
	for _, tc := range []connectCase{
		{"tcp4 blocking", "tcp4", p.tcp4.Addr().String(), false, 0, event.AFInet, stream, event.ProtoTCP},
		{"tcp4 non-blocking", "tcp4", p.tcp4.Addr().String(), true, -int(unix.EINPROGRESS), event.AFInet, stream, event.ProtoTCP},
		{"tcp6 blocking", "tcp6", p.tcp6.Addr().String(), false, 0, event.AFInet6, stream, event.ProtoTCP},
		{"tcp6 non-blocking", "tcp6", p.tcp6.Addr().String(), true, -int(unix.EINPROGRESS), event.AFInet6, stream, event.ProtoTCP},
		{"udp4", "udp4", p.udp4.LocalAddr().String(), false, 0, event.AFInet, dgram, event.ProtoUDP},
		{"tcp4 refused", "tcp4", p.refused, false, -int(unix.ECONNREFUSED), event.AFInet, stream, event.ProtoTCP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := h.connect(t, tc)
			remote := netip.MustParseAddrPort(tc.addr)
			if ev.Connect.Remote != remote {
				t.Errorf("remote %v, want %v", ev.Connect.Remote, remote)
			}
			if tc.res != -int(unix.ECONNREFUSED) && (ev.Connect.Local.Addr() != remote.Addr() || ev.Connect.Local.Port() == 0) {
				t.Errorf("local %v, want %v and a port", ev.Connect.Local, remote.Addr())
			}
		})
	}
}

// connect runs a connect helper for tc and returns its event, checked for
// the fields every case shares.
func (h *harness) connect(t *testing.T, tc connectCase) captured {
	t.Helper()
	mode := "block"
	if tc.nonblock {
		mode = "nonblock"
	}
	c := h.spawn(t, "", "connect", tc.network, tc.addr, mode)
	if len(c.results) != 1 || c.results[0] != tc.res {
		t.Fatalf("helper results %v, want [%d] (stderr %s)", c.results, tc.res, c.stderr)
	}
	ev := h.wait(t, c.pid, "connect", isType(c.pid, event.TypeConnect))
	k := ev.Connect
	if ev.Res != int64(tc.res) || k.Family != tc.family || k.SockType != uint16(tc.sockType) || k.Proto != tc.prot || k.FD < 0 {
		t.Errorf("got  %s\nwant res %d family %d type %d proto %d", ev.String(), tc.res, tc.family, tc.sockType, tc.prot)
	}
	if ev.Proc == nil || ev.Proc.PID != c.pid {
		t.Errorf("process %+v", ev.Proc)
	}
	return ev
}

func TestConnectUnix(t *testing.T) {
	h := startHarness(t)
	path := listenPeers(t, realTempDir(t)).unix.Addr().String()
	ev := h.connect(t, connectCase{network: "unix", addr: path, family: event.AFUnix, sockType: unix.SOCK_STREAM})
	if string(ev.Connect.UnixPath) != path || ev.Connect.Local.IsValid() || ev.Connect.Remote.IsValid() {
		t.Errorf("unix connect: %s", ev.String())
	}
}

// TestConnectNetns connects to a host that is not loopback: a listener in a
// network namespace of its own, behind a veth pair, with addresses from the
// benchmarking range 198.18.0.0/15.
func TestConnectNetns(t *testing.T) {
	h := startHarness(t)
	upLoopback(t)
	hostIP, nsIP := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	ln := listenInNetns(t, hostIP, nsIP)
	addr := netip.AddrPortFrom(nsIP, uint16(ln.Addr().(*net.TCPAddr).Port))
	ev := h.connect(t, connectCase{network: "tcp4", addr: addr.String(), family: event.AFInet, sockType: unix.SOCK_STREAM, prot: event.ProtoTCP})
	if ev.Connect.Remote != addr || ev.Connect.Local.Addr() != hostIP || ev.Connect.Local.Port() == 0 {
		t.Errorf("connect across the veth: %s", ev.String())
	}
}

// listenInNetns creates a network namespace linked to this one by a veth
// pair (hostIP here, nsIP there, a /30) and returns a TCP listener on nsIP
// inside it. Everything is removed when the test ends.
func listenInNetns(t *testing.T, hostIP, nsIP netip.Addr) net.Listener {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("getting the network namespace: %v", err)
	}
	defer orig.Close()
	ns, err := netns.New() // switches this thread into the new namespace
	if err != nil {
		t.Fatalf("creating a network namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	if err := netns.Set(orig); err != nil {
		t.Fatalf("returning to the original namespace: %v", err)
	}

	hostName, nsName := fmt.Sprintf("vgh%d", os.Getpid()), fmt.Sprintf("vgn%d", os.Getpid())
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostName}, PeerName: nsName}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("adding veth pair: %v", err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })
	peer, err := netlink.LinkByName(nsName)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsFd(peer, int(ns)); err != nil {
		t.Fatalf("moving the peer into the namespace: %v", err)
	}
	host, err := netlink.LinkByName(hostName)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: prefixNet(hostIP, 30)}); err != nil {
		t.Fatalf("addressing %s: %v", hostName, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		t.Fatal(err)
	}

	nh, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink in the namespace: %v", err)
	}
	defer nh.Close()
	inner, err := nh.LinkByName(nsName)
	if err != nil {
		t.Fatal(err)
	}
	if err := nh.AddrAdd(inner, &netlink.Addr{IPNet: prefixNet(nsIP, 30)}); err != nil {
		t.Fatalf("addressing %s: %v", nsName, err)
	}
	for _, l := range []netlink.Link{inner} {
		if err := nh.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}

	// A socket belongs to the namespace of the thread that creates it.
	if err := netns.Set(ns); err != nil {
		t.Fatal(err)
	}
	ln, lerr := net.Listen("tcp4", netip.AddrPortFrom(nsIP, 0).String())
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}
	if lerr != nil {
		t.Fatalf("listening in the namespace: %v", lerr)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func prefixNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}

func TestSetKinds(t *testing.T) {
	h := startHarness(t)
	dir := realTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	noOpen := AllKinds()
	noOpen[event.KindOpen] = false
	if err := h.s.SetKinds(noOpen); err != nil {
		t.Fatal(err)
	}
	off := h.spawn(t, dir, "open", "openat:marker")
	// Records are ordered: the exit comes after any open of the process.
	h.wait(t, off.pid, "procexit", isType(off.pid, event.TypeProcExit))
	if err := h.s.SetKinds(AllKinds()); err != nil {
		t.Fatal(err)
	}
	for _, e := range h.all(off.pid) {
		if e.Type.Kind() == event.KindOpen {
			t.Errorf("open delivered while disabled: %s", e.String())
		}
	}
	on := h.spawn(t, dir, "open", "openat:marker")
	h.wait(t, on.pid, "open once re-enabled", func(e *captured) bool {
		return e.PID == on.pid && string(e.Open.Raw) == "marker"
	})
}

func TestStats(t *testing.T) {
	h := startHarness(t)
	c := h.spawn(t, "", "open", "openat:/")
	h.wait(t, c.pid, "procexit", isType(c.pid, event.TypeProcExit))
	st := h.s.Stats()
	t.Logf("stats: %+v", st)
	for _, k := range []event.Kind{event.KindExec, event.KindFork, event.KindExit, event.KindOpen} {
		if ks := st.Kinds[k]; ks.Emitted == 0 || ks.Delivered == 0 {
			t.Errorf("%s: %+v", k, ks)
		}
	}
	// Drops are logged above, not asserted: they depend on what else the
	// machine runs (the benchmarks flood the ring buffer on purpose); the
	// drop budget is measured by `make bench`.
	for k, ks := range st.Kinds {
		if ks.Delivered > ks.Emitted {
			t.Errorf("%s: delivered %d of %d emitted", event.Kind(k), ks.Delivered, ks.Emitted)
		}
	}
	if st.DecodeErrors != ([numDecodeReasons]uint64{}) {
		t.Errorf("decode errors: %v", st.DecodeErrors)
	}
	if st.Processes == 0 {
		t.Error("empty process table")
	}
}

// TestIOUringOpen opens a file with io_uring, which bypasses the open
// syscalls: only a file_open hook sees it. Each hook kind runs in a sensor of
// its own, where the kernel has it.
func TestIOUringOpen(t *testing.T) {
	startHarness(t)
	for _, hook := range []string{FileOpenHookFentry, FileOpenHookLSM} {
		t.Run(hook, func(t *testing.T) {
			if err := probeFileOpenHook(hook); err != nil {
				testutil.SkipKernelLacks(t, hook+" file_open hook", err)
			}
			h, err := newHarness(Config{Kinds: AllKinds(), FileOpenHook: hook})
			if err != nil {
				t.Fatalf("starting a sensor with the %s hook: %v", hook, err)
			}
			defer h.close()
			t.Logf("hook active: %s", h.s.Hooks()[len(h.s.Hooks())-1])
			dir := realTempDir(t)
			file := filepath.Join(dir, "ring.txt")
			if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			c := h.spawn(t, dir, "uring", file)
			if len(c.results) != 1 || c.results[0] < 0 {
				t.Fatalf("io_uring openat: %v (stderr %s)", c.results, c.stderr)
			}
			ev := h.wait(t, c.pid, "io_uring open", func(e *captured) bool {
				return e.PID == c.pid && e.Open.ViaHook && string(e.Open.Name) == file
			})
			if ev.Type != event.TypeOpenat || ev.Res != 0 || ev.Open.FileType != unix.S_IFREG || len(ev.Open.Raw) != 0 {
				t.Errorf("io_uring open: %s", ev.String())
			}
			// An ordinary open in the same sensor is reported once, by
			// the syscall hooks.
			o := h.spawn(t, dir, "open", "openat:ring.txt")
			h.wait(t, o.pid, "procexit", isType(o.pid, event.TypeProcExit))
			n := 0
			for _, e := range h.all(o.pid) {
				if string(e.Open.Name) == file {
					n++
					if e.Open.ViaHook || string(e.Open.Raw) != "ring.txt" {
						t.Errorf("syscall open: %s", e.String())
					}
				}
			}
			if n != 1 {
				t.Errorf("open of %s reported %d times:\n%s", file, n, h.dump(o.pid))
			}
		})
	}
}

// TestLifecycle runs a second sensor: events already in the ring buffer
// when the context ends are still delivered, and Close is idempotent.
func TestLifecycle(t *testing.T) {
	h := startHarness(t)
	s, err := New(Config{Kinds: AllKinds()})
	if err != nil {
		t.Fatal(err)
	}
	dir := realTempDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	found := make(chan struct{}, 1)
	var child uint32
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(e *event.Event) {
			<-ready
			if e.PID == child && string(e.Open.Raw) == "drained" {
				select {
				case found <- struct{}{}:
				default:
				}
			}
		})
	}()
	c := h.spawn(t, dir, "open", "openat:drained")
	child = c.pid
	close(ready)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancel")
	}
	select {
	case <-found:
	default:
		t.Error("an event in the ring buffer at shutdown was not delivered")
	}
	if err := s.Run(context.Background(), func(*event.Event) {}); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.SetKinds(AllKinds()); !errors.Is(err, os.ErrClosed) {
		t.Errorf("SetKinds after Close: %v", err)
	}
	if _, err := New(Config{FileOpenHook: "kprobe"}); err == nil || !strings.Contains(err.Error(), "unknown file_open hook") {
		t.Errorf("New with an unknown hook: %v", err)
	}
}

// TestProbeUnprivileged runs New as an unprivileged user: the probe must name
// the missing privilege instead of failing somewhere in the loader.
func TestProbeUnprivileged(t *testing.T) {
	testutil.RequireRoot(t)
	// The helper runs as nobody, from a copy of the test binary.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := testutil.ExecutableForNobody(t, self, "helper")
	cmd := testutil.AsNobody(exec.Command(bin))
	cmd.Env = []string{helperEnv + "=probe"}
	cmd.Dir = filepath.Dir(bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "privileges=true\n") || !strings.Contains(string(out), "CAP_BPF and CAP_PERFMON") {
		t.Errorf("unprivileged New: %s", out)
	}
}
