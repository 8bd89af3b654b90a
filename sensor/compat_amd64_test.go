package sensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/internal/testutil/ia32"
)

// helperCompat makes ia32 syscalls with int $0x80 from this 64-bit process,
// all from one thread: openat(AT_FDCWD, args[0]), open(args[1]),
// creat(args[2]), openat2(AT_FDCWD, args[3], O_DIRECTORY), open(args[4]) of
// a missing file, and connect to the TCP address args[5] with a socket made
// by the 64-bit call. The strings, the open_how and the sockaddr live below
// 4 GiB, where 32-bit registers reach. It prints the thread's id and then
// each syscall's result (socket's too, before connect's).
func helperCompat(args []string) int {
	if len(args) > 0 && args[0] == "sendrecv" {
		return helperCompatSendRecv()
	}
	runtime.LockOSThread()
	mem, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_32BIT)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap below 4 GiB:", err)
		return 3
	}
	defer unix.Munmap(mem)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	if base+uintptr(len(mem)) > 1<<32 {
		fmt.Fprintf(os.Stderr, "MAP_32BIT memory at %#x\n", base)
		return 3
	}
	used := 0
	// place copies b into mem and returns its 32-bit address.
	place := func(b []byte) uint32 {
		addr := uint32(base) + uint32(used)
		used += copy(mem[used:], b)
		used = (used + 7) &^ 7
		return addr
	}
	str := func(s string) uint32 { return place(append([]byte(s), 0)) }
	ap, err := netip.ParseAddrPort(args[5])
	if err != nil || !ap.Addr().Is4() {
		fmt.Fprintln(os.Stderr, "not an IPv4 address:", args[5])
		return 3
	}
	sa := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(sa, unix.AF_INET)
	binary.BigEndian.PutUint16(sa[2:], ap.Port())
	ip := ap.Addr().As4()
	copy(sa[4:], ip[:])
	how := make([]byte, unix.SizeofOpenHow)
	binary.NativeEndian.PutUint64(how, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_DIRECTORY)

	openatPath, openPath, creatPath, openat2Path, missingPath := str(args[0]), str(args[1]), str(args[2]), str(args[3]), str(args[4])
	howAddr, saAddr := place(how), place(sa)
	cwd := int32(unix.AT_FDCWD)
	rdonly := uint32(unix.O_RDONLY | unix.O_CLOEXEC)

	fmt.Printf("res=%d\n", unix.Gettid())
	var fds []int32
	for _, call := range [][5]uint32{
		{ia32.SysOpenat, uint32(cwd), openatPath, rdonly, 0},
		{ia32.SysOpen, openPath, rdonly, 0, 0},
		{ia32.SysCreat, creatPath, 0o600, 0, 0},
		{ia32.SysOpenat2, uint32(cwd), openat2Path, howAddr, unix.SizeofOpenHow},
		{ia32.SysOpen, missingPath, rdonly, 0, 0},
	} {
		fd := ia32.Syscall(call[0], call[1], call[2], call[3], call[4])
		fmt.Printf("res=%d\n", fd)
		fds = append(fds, fd)
	}
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "socket:", err)
		return 3
	}
	fmt.Printf("res=%d\n", sock)
	fmt.Printf("res=%d\n", ia32.Syscall(ia32.SysConnect, uint32(sock), saAddr, unix.SizeofSockaddrInet4, 0))
	for _, fd := range append(fds, int32(sock)) {
		if fd >= 0 {
			unix.Close(int(fd))
		}
	}
	return 0
}

// rawSensors are the sensors on the raw sys_exit program: the shared one,
// and where that one loads kernel fields directly (bpf_rdonly_cast, Linux
// 6.2), a second shared one on the variant with helper reads that older
// kernels run, so that this kernel tests both. It skips where the raw
// program is unavailable.
func rawSensors(t *testing.T) map[string]*harness {
	t.Helper()
	h := startHarness(t)
	if !h.s.rawSyscalls {
		testutil.SkipKernelLacks(t, "the raw sys_exit hook, the only one that sees compat syscalls", h.s.rawErr)
	}
	out := map[string]*harness{"auto": h}
	if !h.s.rawDirect {
		return out
	}
	sharedRead.once.Do(func() {
		sharedRead.h, sharedRead.err = newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, rawRead: true})
	})
	if sharedRead.err != nil {
		t.Fatalf("starting a sensor on the raw sys_exit program with helper reads: %v", sharedRead.err)
	}
	rd := sharedRead.h
	if !rd.s.rawSyscalls || rd.s.rawDirect {
		t.Fatalf("rawRead did not select the helper-read raw program: raw %v, direct %v", rd.s.rawSyscalls, rd.s.rawDirect)
	}
	out["helper reads"] = rd
	return out
}

// compatTracepoints is the sensor on the syscalls tracepoints that the
// compat tests share: each load costs tens of seconds in the kernel
// matrix's emulated guests.
func compatTracepoints(t *testing.T) *harness {
	t.Helper()
	sharedTP.once.Do(func() {
		sharedTP.h, sharedTP.err = newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: SyscallHooksTracepoint})
	})
	if sharedTP.err != nil {
		t.Fatalf("starting a sensor on the syscalls tracepoints: %v", sharedTP.err)
	}
	return sharedTP.h
}

// TestCompatSyscalls makes 32-bit syscalls (int $0x80 from a 64-bit helper,
// as an ia32 program would) and requires the raw sys_exit program, in both
// its variants, to report them with their arguments read from the 32-bit
// registers. The syscalls tracepoints skip compat syscalls on x86-64, so a
// sensor on them must not.
func TestCompatSyscalls(t *testing.T) {
	sensors := rawSensors(t)
	h := sensors["auto"]
	tp := compatTracepoints(t)

	upLoopback(t)
	dir := realTempDir(t)
	for _, f := range []string{"compat-openat.txt", "compat-open.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "compat-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	remote := netip.MustParseAddrPort(ln.Addr().String())

	openPath := filepath.Join(dir, "compat-open.txt")
	c := h.spawn(t, dir, "compat", "compat-openat.txt", openPath, "compat-creat.txt", "compat-dir", "compat-missing", remote.String())
	const ia32Emulation = "ia32 syscalls (CONFIG_IA32_EMULATION, not booted with ia32_emulation=false)"
	if len(c.results) < 2 && strings.Contains(c.stderr, "SIGSEGV") {
		testutil.SkipKernelLacks(t, ia32Emulation, errors.New("int $0x80 faults"))
	}
	if len(c.results) > 1 && c.results[1] == -int(unix.ENOSYS) {
		testutil.SkipKernelLacks(t, ia32Emulation, unix.ENOSYS)
	}
	ok := len(c.results) == 8 && c.results[5] == -int(unix.ENOENT) && c.results[7] == 0
	for i, res := range c.results {
		ok = ok && (i == 5 || res >= 0)
	}
	if !ok {
		t.Fatalf("helper results %v, want the tid, four fds, -ENOENT, a socket and 0 (stderr %s)", c.results, c.stderr)
	}
	// Every event comes from the helper's calling thread, in this cgroup.
	self := syscallFields{PID: c.pid, TID: uint32(c.results[0]), CgroupID: readSelf(t).cgroupID}
	open := func(typ event.Type, res int, raw, name string, flags, mode, fileType uint32) syscallFields {
		f := self
		f.Type, f.Res, f.DirFD = typ, int64(res), unix.AT_FDCWD
		f.Raw, f.Name, f.Flags, f.Mode, f.FileType = raw, name, flags, mode, fileType
		if res >= 0 {
			f.RealPath = name // no symlink on the way
		}
		return f
	}
	rdonly := uint32(unix.O_RDONLY | unix.O_CLOEXEC)
	connect := self
	connect.Type, connect.Res, connect.FD = event.TypeConnect, int64(c.results[7]), int32(c.results[6])
	connect.Family, connect.SockType, connect.Proto = event.AFInet, unix.SOCK_STREAM, event.ProtoTCP
	connect.Local, connect.Remote = netip.AddrPortFrom(remote.Addr(), 0), remote
	for _, want := range []syscallFields{
		open(event.TypeOpenat, c.results[1], "compat-openat.txt", filepath.Join(dir, "compat-openat.txt"), rdonly, 0, unix.S_IFREG),
		open(event.TypeOpen, c.results[2], openPath, openPath, rdonly, 0, unix.S_IFREG),
		open(event.TypeCreat, c.results[3], "compat-creat.txt", filepath.Join(dir, "compat-creat.txt"), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, 0o600, unix.S_IFREG),
		open(event.TypeOpenat2, c.results[4], "compat-dir", filepath.Join(dir, "compat-dir"), rdonly|unix.O_DIRECTORY, 0, unix.S_IFDIR),
		open(event.TypeOpen, c.results[5], "compat-missing", filepath.Join(dir, "compat-missing"), rdonly, 0, 0),
		connect,
	} {
		name := want.Type.String()
		if want.Raw != "" {
			name += " " + filepath.Base(want.Raw)
		}
		for sname, s := range sensors {
			t.Run(sname+"/"+name, func(t *testing.T) {
				// A signal (the Go runtime's preemption) can interrupt a
				// slow call: its first exit is -ERESTARTSYS and the kernel
				// restarts it, so the exit with the final result counts.
				ev := s.wait(t, c.pid, "ia32 "+want.Type.String(), func(e *captured) bool {
					return e.PID == c.pid && e.Type == want.Type && string(e.Open.Raw) == want.Raw && e.Res == want.Res
				})
				got := fieldsOf(&ev)
				if want.Type == event.TypeConnect {
					// The kernel picks the local port.
					if got.Local.Port() == 0 {
						t.Errorf("no local port: %s", ev.String())
					}
					got.Local = netip.AddrPortFrom(got.Local.Addr(), 0)
				}
				if got != want {
					t.Errorf("got  %+v\nwant %+v", got, want)
				}
			})
		}
	}

	// Records are ordered: once the helper's exit is read, so is any record
	// the tracepoints made of its ia32 calls.
	tp.wait(t, c.pid, "procexit", isType(c.pid, event.TypeProcExit))
	for _, e := range tp.all(c.pid) {
		if e.Type == event.TypeConnect || strings.HasPrefix(string(e.Open.Raw), "compat-") || string(e.Open.Raw) == openPath {
			t.Errorf("the syscalls tracepoints reported an ia32 syscall: %s", e.String())
		}
	}
}

// TestCompatProgram runs a real 32-bit program (an ia32 ELF, as an
// attacker's -m32 binary would be) that opens a file, and requires its exec
// to be marked as a 32-bit image by every sensor (the tracepoints' too, for
// the alert that vigil raises where they are all it has), its open to be
// reported with path and result by the raw sys_exit program in both its
// variants, and the exec of a 64-bit program not to be marked.
func TestCompatProgram(t *testing.T) {
	sensors := rawSensors(t)
	h := sensors["auto"]
	tp := compatTracepoints(t)
	if tp.s.CompatErr() == nil {
		t.Errorf("a sensor on the syscalls tracepoints says it sees 32-bit syscalls")
	}
	if err := h.s.CompatErr(); err != nil {
		t.Errorf("a sensor on the raw sys_exit program says it does not see 32-bit syscalls: %v", err)
	}

	dir := realTempDir(t)
	secret := filepath.Join(dir, "secret32.txt")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "prog32")
	if err := os.WriteFile(prog, ia32.OpenProgram(secret), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog)
	err := cmd.Run()
	if errors.Is(err, unix.ENOEXEC) {
		testutil.SkipKernelLacks(t, "32-bit programs (CONFIG_IA32_EMULATION, not booted with ia32_emulation=false)", err)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running the 32-bit program: %v", err)
	}
	// The program exits with open's result: a descriptor.
	fd := cmd.ProcessState.ExitCode()
	if fd < 3 || fd > 127 {
		t.Fatalf("the 32-bit program exited with %d (%v), want the descriptor its open returned", fd, cmd.ProcessState)
	}
	pid := uint32(cmd.Process.Pid)
	isExec := func(pid uint32) func(*captured) bool {
		return func(e *captured) bool { return e.PID == pid && e.Type.Kind() == event.KindExec && e.Res == 0 }
	}

	for name, s := range sensors {
		t.Run(name, func(t *testing.T) {
			ev := s.wait(t, pid, "exec of the 32-bit program", isExec(pid))
			if ev.Proc == nil || !ev.Proc.Compat {
				t.Errorf("exec of a 32-bit program not marked 32-bit: %s", ev.String())
			}
			ev = s.wait(t, pid, "open of the 32-bit program", func(e *captured) bool {
				return e.PID == pid && e.Type == event.TypeOpen && string(e.Open.Raw) == secret
			})
			if ev.Res != int64(fd) || string(ev.Open.Name) != secret || string(ev.Open.RealPath) != secret || ev.Open.Flags != unix.O_RDONLY {
				t.Errorf("got %s, want res %d, name and realpath %q, flags O_RDONLY", ev.String(), fd, secret)
			}
			if ev.Proc == nil || !ev.Proc.Compat {
				t.Errorf("open of a 32-bit process not marked 32-bit: %s", ev.String())
			}
		})
	}

	t.Run("tracepoints", func(t *testing.T) {
		ev := tp.wait(t, pid, "exec of the 32-bit program", isExec(pid))
		if ev.Proc == nil || !ev.Proc.Compat {
			t.Errorf("exec of a 32-bit program not marked 32-bit: %s", ev.String())
		}
		// Records are ordered: once the exit is read, so would its open be.
		tp.wait(t, pid, "procexit", isType(pid, event.TypeProcExit))
		for _, e := range tp.all(pid) {
			if e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == secret {
				t.Errorf("the syscalls tracepoints reported an ia32 open: %s", e.String())
			}
		}
	})

	t.Run("64-bit", func(t *testing.T) {
		c := h.spawn(t, "", "exit")
		ev := h.wait(t, c.pid, "exec of a 64-bit program", isExec(c.pid))
		if ev.Proc == nil || ev.Proc.Compat {
			t.Errorf("exec of a 64-bit program marked 32-bit: %s", ev.String())
		}
	})
}
