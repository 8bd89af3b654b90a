package sensor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// rawPath calls a syscall of one or two paths by number, so that the
// test reaches the plain syscalls (symlink, link, rename, ...) that
// x/sys/unix implements with their *at variants.
func rawPath(nr uintptr, p1, p2 string, arg uintptr) int {
	b1, _ := unix.BytePtrFromString(p1)
	a2 := arg
	if p2 != "" {
		b2, _ := unix.BytePtrFromString(p2)
		a2 = uintptr(unsafe.Pointer(b2))
	}
	r, _, errno := unix.Syscall(nr, uintptr(unsafe.Pointer(b1)), a2, 0)
	if errno != 0 {
		return -int(errno)
	}
	return int(r)
}

// runFsopHelper makes the file-system, socket and dup syscalls in its cwd,
// in the order TestFsopRecords expects, printing each result.
func runFsopHelper() int {
	res := func(err error) { fmt.Printf("res=%d\n", errnoRes(err)) }
	// The first open creates f, the second opens it with O_CREAT again.
	os.WriteFile("f", nil, 0o644)
	os.WriteFile("f", nil, 0o644)
	dir, _ := unix.Open(".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	fmt.Printf("res=%d\n", rawPath(unix.SYS_SYMLINK, "/etc/shadow", "sub/../lnk", 0))
	res(unix.Symlinkat("../target", dir, "lnk-at"))
	fmt.Printf("res=%d\n", rawPath(unix.SYS_LINK, "f", "hard", 0))
	res(unix.Linkat(unix.AT_FDCWD, "/nonexistent/x", dir, "hard-at", 0))
	fmt.Printf("res=%d\n", rawPath(unix.SYS_RENAME, "hard", "hard2", 0))
	res(unix.Renameat2(dir, "hard2", unix.AT_FDCWD, "hard3", unix.RENAME_NOREPLACE))
	fmt.Printf("res=%d\n", rawPath(unix.SYS_MKDIR, "d", "", 0o750))
	fmt.Printf("res=%d\n", rawPath(unix.SYS_RMDIR, "d", "", 0))
	fmt.Printf("res=%d\n", rawPath(unix.SYS_CHMOD, "f", "", 0o4755))
	fd, _ := unix.Open("f", unix.O_RDONLY, 0)
	res(unix.Fchmod(fd, 0o2711))
	fmt.Printf("res=%d\n", rawPath(unix.SYS_UNLINK, "hard3", "", 0))
	res(unix.Unlinkat(dir, "lnk", 0))
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	fmt.Printf("res=%d\n", s)
	if err == nil {
		unix.Connect(s, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}})
	}
	r, err := unix.Dup(s)
	if err != nil {
		r = errnoRes(err)
	}
	fmt.Printf("res=%d\n", r)
	// x/sys/unix makes dup2 with dup3 on amd64.
	r2, _, errno := unix.Syscall(unix.SYS_DUP2, uintptr(s), 200, 0)
	if errno != 0 {
		r2 = uintptr(errnoRes(errno))
	}
	fmt.Printf("res=%d\n", int(r2))
	res(unix.Dup3(fd, 201, unix.O_CLOEXEC))
	// A TCP server on the loopback: bind, listen, and accept4 of a
	// connection from a client socket of the same process.
	ln, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	res(unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	res(unix.Listen(ln, 1))
	sa, _ := unix.Getsockname(ln)
	cl, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	unix.Connect(cl, sa)
	nfd, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		nfd = errnoRes(err)
	}
	fmt.Printf("res=%d\n", nfd)
	return 0
}

// TestFsopRecords checks the records of the fs, socket and dup kinds for
// real syscalls: their types, arguments and the paths as the caller reached
// them, each made absolute in the kernel's directory.
func TestFsopRecords(t *testing.T) {
	h := startHarness(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := h.spawn(t, dir, "fsop")
	if len(c.results) != 19 {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	j := func(name string) string { return filepath.Join(dir, name) }
	var creates []captured
	for len(creates) < 2 {
		seen := len(creates)
		e := h.wait(t, c.pid, "open of f with O_CREAT", func(e *captured) bool {
			return e.PID == c.pid && e.Type.Kind() == event.KindOpen && e.Open.Flags&unix.O_CREAT != 0 && string(e.Open.Name) == j("f") &&
				(seen == 0 || e.Num > creates[0].Num)
		})
		creates = append(creates, e)
	}
	if !creates[0].Open.Created || creates[1].Open.Created {
		t.Errorf("created: first open %v, second %v; want true, false", creates[0].Open.Created, creates[1].Open.Created)
	}
	type want struct {
		typ          event.Type
		path1, path2 string
		mode         uint32
	}
	for i, w := range []want{
		{typ: event.TypeSymlink, path1: "/etc/shadow", path2: j("lnk")},
		{typ: event.TypeSymlinkat, path1: "../target", path2: j("lnk-at")},
		{typ: event.TypeLink, path1: j("f"), path2: j("hard")},
		{typ: event.TypeLinkat, path1: "/nonexistent/x", path2: j("hard-at")},
		{typ: event.TypeRename, path1: j("hard"), path2: j("hard2")},
		{typ: event.TypeRenameat2, path1: j("hard2"), path2: j("hard3")},
		{typ: event.TypeMkdir, path1: j("d"), mode: 0o750},
		{typ: event.TypeRmdir, path1: j("d")},
		{typ: event.TypeChmod, path1: j("f"), mode: 0o4755},
		{typ: event.TypeFchmod, path1: j("f"), mode: 0o2711},
		{typ: event.TypeUnlink, path1: j("hard3")},
		{typ: event.TypeUnlinkat, path1: j("lnk")},
	} {
		got := h.wait(t, c.pid, w.typ.String(), func(e *captured) bool { return e.PID == c.pid && e.Type == w.typ })
		if got.Res != int64(c.results[i]) || string(got.FS.Path1) != w.path1 || string(got.FS.Path2) != w.path2 || got.FS.Mode != w.mode {
			t.Errorf("%v: res %d paths %q %q mode %o; want res %d paths %q %q mode %o", w.typ, got.Res, got.FS.Path1, got.FS.Path2, got.FS.Mode,
				c.results[i], w.path1, w.path2, w.mode)
		}
	}
	sock := h.wait(t, c.pid, "socket", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeSocket })
	if sock.Res != int64(c.results[12]) || sock.Socket.Domain != unix.AF_INET || sock.Socket.Type != unix.SOCK_DGRAM|unix.SOCK_CLOEXEC ||
		sock.Socket.Sock.Family != unix.AF_INET || sock.Socket.Sock.Proto != event.ProtoUDP {
		t.Errorf("socket: %+v", sock.Socket)
	}
	dup := h.wait(t, c.pid, "dup", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeDup })
	if dup.Res != int64(c.results[13]) || dup.Dup.OldFD != int32(c.results[12]) || dup.Dup.Sock.Remote.String() != "127.0.0.1:9" ||
		dup.Dup.Sock.Proto != event.ProtoUDP || dup.Dup.FileType != unix.S_IFSOCK {
		t.Errorf("dup of the socket: res %d %+v", dup.Res, dup.Dup)
	}
	dup2 := h.wait(t, c.pid, "dup2", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeDup2 && e.Res == 200 })
	if dup2.Res != 200 || dup2.Dup.NewFD != 200 || dup2.Dup.Sock.Family != unix.AF_INET {
		t.Errorf("dup2: res %d %+v", dup2.Res, dup2.Dup)
	}
	// os/exec's child dup3s /dev/null onto its stdio before the helper
	// runs: the helper's own dups are told by their results.
	dup3 := h.wait(t, c.pid, "dup3", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeDup3 && e.Res == 201 })
	bind := h.wait(t, c.pid, "bind", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeBind })
	listen := h.wait(t, c.pid, "listen", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeListen })
	accept := h.wait(t, c.pid, "accept4", func(e *captured) bool { return e.PID == c.pid && e.Type == event.TypeAccept4 })
	server := listen.Socket.Sock.Local
	if bind.Res != 0 || bind.Socket.Sock.Local != server || listen.Res != 0 || !server.IsValid() || server.Port() == 0 ||
		listen.Socket.FD != accept.Socket.FD || bind.Socket.FD != listen.Socket.FD {
		t.Errorf("bind %+v, listen %+v", bind.Socket, listen.Socket)
	}
	if accept.Res != int64(c.results[18]) || accept.Socket.Sock.Local != server || accept.Socket.Sock.Remote.Addr().String() != "127.0.0.1" ||
		accept.Socket.Sock.Proto != event.ProtoTCP || accept.Socket.Flags != unix.SOCK_CLOEXEC {
		t.Errorf("accept4: res %d %+v", accept.Res, accept.Socket)
	}
	if dup3.Res != 201 || !bytes.Equal(dup3.Dup.Name, []byte(j("f"))) || dup3.Dup.Flags != unix.O_CLOEXEC || dup3.Dup.Sock.Family != 0 {
		t.Errorf("dup3 of a file: res %d %+v", dup3.Res, dup3.Dup)
	}
}

// TestSocketFilterKeys checks the socket and dup kinds' keys against the
// kernel's.
func TestSocketFilterKeys(t *testing.T) {
	if int(bpf.VigilSocketFilterKeyVIGIL_SOCKET_KEY_OTHER) != event.SocketKeyOther || event.SocketKeyOther >= maxFilterKeys {
		t.Errorf("socket key other: kernel %d, Go %d, keys %d", bpf.VigilSocketFilterKeyVIGIL_SOCKET_KEY_OTHER, event.SocketKeyOther, maxFilterKeys)
	}
	if int(bpf.VigilDupFilterKeyVIGIL_DUP_KEY_FILE) != event.DupKeyFile || int(bpf.VigilDupFilterKeyVIGIL_DUP_KEY_OTHER) != event.DupKeyOther ||
		event.DupKeyOther >= maxFilterKeys {
		t.Errorf("dup keys: kernel %d %d, Go %d %d, keys %d", bpf.VigilDupFilterKeyVIGIL_DUP_KEY_FILE, bpf.VigilDupFilterKeyVIGIL_DUP_KEY_OTHER,
			event.DupKeyFile, event.DupKeyOther, maxFilterKeys)
	}
}

// TestSocketFilter sets socket and dup filters that keep only IPv6
// sockets and checks that the kernel keeps none of the helper's IPv4
// socket calls and dups (of an IPv4 socket and of a file), whichever hook
// mode reports them.
func TestSocketFilter(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) {
		for _, kind := range []event.Kind{event.KindSocket, event.KindDup} {
			f := &event.Filter{Clauses: []event.Clause{{
				Types: kind.Types(), Results: event.AllResults, AnyPath: true, Classes: 1 << event.AFInet6,
			}}}
			if err := fh.s.SetFilter(kind, f); err != nil {
				t.Fatalf("SetFilter: %v", err)
			}
		}
		before := fh.s.Stats().Kinds[event.KindSocket].Filtered
		beforeDup := fh.s.Stats().Kinds[event.KindDup].Filtered
		c := h.spawn(t, t.TempDir(), "fsop")
		// The exit comes after everything the helper did.
		fh.wait(t, c.pid, "the helper's exit", isType(c.pid, event.TypeProcExit))
		for _, e := range fh.all(c.pid) {
			if k := e.Type.Kind(); k == event.KindSocket || k == event.KindDup {
				t.Errorf("the filter kept %s", e.String())
			}
		}
		if fh.s.Stats().Kinds[event.KindSocket].Filtered < before+5 {
			t.Errorf("filtered %d socket calls, want the helper's 5", fh.s.Stats().Kinds[event.KindSocket].Filtered-before)
		}
		if fh.s.Stats().Kinds[event.KindDup].Filtered < beforeDup+3 {
			t.Errorf("filtered %d dups, want the helper's 3", fh.s.Stats().Kinds[event.KindDup].Filtered-beforeDup)
		}
	})
}

// inEachHookMode runs f with a second sensor of its own in each mode of
// hooking the syscalls, for tests that set filters.
func inEachHookMode(t *testing.T, f func(t *testing.T, fh *harness)) {
	for name, hooks := range map[string]string{"auto": SyscallHooksAuto, "tracepoint": SyscallHooksTracepoint} {
		t.Run(name, func(t *testing.T) {
			fh, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: hooks})
			if err != nil {
				t.Fatalf("starting a second sensor: %v", err)
			}
			defer fh.close()
			f(t, fh)
		})
	}
}

// TestFSFilter sets an fs filter that keeps only modes with the setuid
// and an execute bit and checks that the kernel keeps only the helper's
// chmod 04755.
func TestFSFilter(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) { fsFilterCase(t, h, fh) })
}

func fsFilterCase(t *testing.T, h, fh *harness) {
	f := &event.Filter{Clauses: []event.Clause{{
		Types: event.KindFS.Types(), Results: event.AllResults, AnyPath: true, Classes: 1 << (event.FSKeySUID | event.FSKeyExec),
	}}}
	if err := fh.s.SetFilter(event.KindFS, f); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	if int(bpf.VigilFsFilterKeyVIGIL_FS_KEY_SUID) != event.FSKeySUID || int(bpf.VigilFsFilterKeyVIGIL_FS_KEY_SGID) != event.FSKeySGID ||
		int(bpf.VigilFsFilterKeyVIGIL_FS_KEY_EXEC) != event.FSKeyExec {
		t.Fatal("fs filter keys differ from the kernel's")
	}
	c := h.spawn(t, t.TempDir(), "fsop")
	fh.wait(t, c.pid, "the helper's exit", isType(c.pid, event.TypeProcExit))
	var kept []string
	for _, e := range fh.all(c.pid) {
		if e.Type.Kind() == event.KindFS {
			kept = append(kept, e.Type.String())
		}
	}
	if len(kept) != 1 || kept[0] != "chmod" {
		t.Errorf("the filter kept %q, want the chmod 04755 alone", kept)
	}
}
