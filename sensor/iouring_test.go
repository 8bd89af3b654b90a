package sensor

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestOpenByHandleAt opens a file by handle, which names no path: the open
// is reported as open_by_handle_at with the path resolved from the new
// descriptor, from the shared sensor and from one on the tracepoint pairs.
func TestOpenByHandleAt(t *testing.T) {
	h := startHarness(t)
	tp, err := newHarness(Config{Kinds: AllKinds(), SyscallHooks: SyscallHooksTracepoint})
	if err != nil {
		t.Fatalf("starting a sensor on the tracepoints: %v", err)
	}
	defer tp.close()
	dir := realTempDir(t)
	file := filepath.Join(dir, "handle.txt")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := unix.NameToHandleAt(unix.AT_FDCWD, file, 0); errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("the file system of %s has no file handles: %v", dir, err)
	}
	c := h.spawn(t, dir, "handle", file)
	if len(c.results) != 2 || c.results[1] < 0 {
		t.Fatalf("open_by_handle_at: %v (%s)", c.results, c.stderr)
	}
	mountFD, fd := c.results[0], c.results[1]
	for name, s := range map[string]*harness{"shared": h, "tracepoints": tp} {
		ev := s.wait(t, c.pid, name+": open_by_handle_at", isType(c.pid, event.TypeOpenByHandleAt))
		if string(ev.Open.Name) != file || ev.Res != int64(fd) || ev.Open.DirFD != int32(mountFD) ||
			ev.Open.Flags&unix.O_ACCMODE != unix.O_RDONLY || len(ev.Open.Raw) != 0 || ev.Open.FileType != unix.S_IFREG {
			t.Errorf("%s: %s (want name %s fd %d mountfd %d)", name, ev.String(), file, fd, mountFD)
		}
	}
}

// requireIOURing skips where the kernel lacks the io_uring tracepoints the
// kind reads.
func requireIOURing(t *testing.T, h *harness) {
	t.Helper()
	if err := h.s.IOURingErr(); err != nil {
		testutil.SkipKernelLacks(t, "the io_uring tracepoints io_uring_create and io_uring_submit_req", err)
	}
}

// TestIOURingOpenat opens a file with IORING_OP_OPENAT, which makes no open
// syscall: the sensor reports the ring's setup and the request, with the
// path made absolute against the cwd, and nothing else of the open.
func TestIOURingOpenat(t *testing.T) {
	h := startHarness(t)
	requireIOURing(t, h)
	dir := realTempDir(t)
	file := filepath.Join(dir, "ring.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := h.spawn(t, dir, "uringops", "openat", "ring.txt")
	if len(c.results) != 1 || c.results[0] < 0 {
		t.Fatalf("io_uring openat: %v (%s)", c.results, c.stderr)
	}
	setup := h.wait(t, c.pid, "io_uring_setup", isType(c.pid, event.TypeIOUringSetup))
	if setup.Res < 0 || setup.IOUring.SQEntries != 4 || setup.IOUring.CQEntries != 8 || setup.IOUring.Flags != 0 {
		t.Errorf("setup: %s sq=%d cq=%d", setup.String(), setup.IOUring.SQEntries, setup.IOUring.CQEntries)
	}
	ev := h.wait(t, c.pid, "io_uring_submit", isType(c.pid, event.TypeIOUringSubmit))
	u := ev.IOUring
	// The kernel's prep adds O_LARGEFILE (the kernel's value; Go names it 0
	// on amd64) to the flags passed.
	if u.Op != testutil.IORingOpOpenat || string(u.Path1) != file || u.FD1 != unix.AT_FDCWD || u.Flags&^oLargefile != unix.O_RDONLY|unix.O_CLOEXEC ||
		u.SQThread || u.FixedFile || ev.TID != c.pid {
		t.Errorf("submit: %s", ev.String())
	}
	h.wait(t, c.pid, "procexit", isType(c.pid, event.TypeProcExit))
	for _, e := range h.all(c.pid) {
		// The file_open hook, where it loads (fentry or the BPF LSM),
		// reports the open itself (ViaHook): that is its job. No open
		// syscall record may claim it.
		if e.Type.Kind() == event.KindOpen && string(e.Open.Name) == file && !e.Open.ViaHook {
			t.Errorf("an open syscall reported the io_uring open: %s", e.String())
		}
	}
}

// TestIOURingPathOps makes each path opcode relative to a dirfd or the
// cwd: both paths are reported, joined to their directory; symlinkat's
// target stays as passed.
func TestIOURingPathOps(t *testing.T) {
	h := startHarness(t)
	requireIOURing(t, h)
	dir := realTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := h.spawn(t, dir, "uringops", "fsops")
	if len(c.results) != 5 {
		t.Fatalf("io_uring path ops: %v (%s)", c.results, c.stderr)
	}
	for i, r := range c.results {
		if r < 0 {
			t.Errorf("request %d failed: %d", i, r)
		}
	}
	want := []struct {
		op           uint8
		path1, path2 string
		flags, mode  uint32
	}{
		{testutil.IORingOpMkdirat, dir + "/d", "", 0, 0o750},
		{testutil.IORingOpRenameat, dir + "/d", dir + "/e", 0, 0},
		{testutil.IORingOpSymlinkat, "/etc/shadow", dir + "/l", 0, 0},
		{testutil.IORingOpLinkat, dir + "/f", dir + "/g", 0, 0},
		{testutil.IORingOpUnlinkat, dir + "/e", "", unix.AT_REMOVEDIR, 0},
	}
	for _, w := range want {
		ev := h.wait(t, c.pid, event.IOURingOpName(w.op), func(e *captured) bool {
			return e.PID == c.pid && e.Type == event.TypeIOUringSubmit && e.IOUring.Op == w.op
		})
		u := ev.IOUring
		if string(u.Path1) != w.path1 || string(u.Path2) != w.path2 || u.Flags != w.flags || u.Mode != w.mode {
			t.Errorf("%s: %s", event.IOURingOpName(w.op), ev.String())
		}
	}
}

// TestIOURingBenign runs a ring that only makes no-ops and reads a file it
// opened itself: its setup is reported, its requests are not (the kernel
// leaves them at the opcode test).
func TestIOURingBenign(t *testing.T) {
	h := startHarness(t)
	requireIOURing(t, h)
	dir := realTempDir(t)
	file := filepath.Join(dir, "own.txt")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := h.spawn(t, dir, "uringops", "benign", file)
	if len(c.results) != 3 || c.results[1] != 4 {
		t.Fatalf("io_uring nop/read: %v (%s)", c.results, c.stderr)
	}
	h.wait(t, c.pid, "io_uring_setup", isType(c.pid, event.TypeIOUringSetup))
	h.wait(t, c.pid, "procexit", isType(c.pid, event.TypeProcExit))
	for _, e := range h.all(c.pid) {
		if e.Type == event.TypeIOUringSubmit {
			t.Errorf("reported: %s", e.String())
		}
	}
}

// TestIOURingSQPoll submits through an SQPOLL ring, with no syscall per
// request: the kernel's submission thread, a thread of the process,
// reports the request.
func TestIOURingSQPoll(t *testing.T) {
	h := startHarness(t)
	requireIOURing(t, h)
	dir := realTempDir(t)
	file := filepath.Join(dir, "sq.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := h.spawn(t, dir, "uringops", "sqpoll", "sq.txt")
	if len(c.results) != 1 || c.results[0] < 0 {
		t.Fatalf("SQPOLL openat: %v (%s)", c.results, c.stderr)
	}
	setup := h.wait(t, c.pid, "io_uring_setup", isType(c.pid, event.TypeIOUringSetup))
	if setup.IOUring.Flags&testutil.IORingSetupSQPoll == 0 {
		t.Errorf("setup: %s", setup.String())
	}
	ev := h.wait(t, c.pid, "io_uring_submit", isType(c.pid, event.TypeIOUringSubmit))
	if ev.IOUring.Op != testutil.IORingOpOpenat || string(ev.IOUring.Path1) != file || !ev.IOUring.SQThread || ev.TID == c.pid {
		t.Errorf("submit: %s", ev.String())
	}
}

// TestIOURingFilter bounds the kind's kernel filter to IORING_OP_CONNECT:
// an openat request stays in the kernel, counted as filtered.
func TestIOURingFilter(t *testing.T) {
	requireIOURing(t, startHarness(t))
	h, err := newHarness(Config{Kinds: AllKinds()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	f := &event.Filter{Clauses: []event.Clause{{Types: event.TypeSetOf(event.TypeIOUringSubmit), Classes: 1 << 16,
		Results: event.AllResults, AnyPath: true}}}
	if err := h.s.SetFilter(event.KindIOUring, f); err != nil {
		t.Fatal(err)
	}
	before := h.s.Stats().Kinds[event.KindIOUring].Filtered
	dir := realTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := h.spawn(t, dir, "uringops", "openat", "x")
	h.wait(t, c.pid, "procexit", isType(c.pid, event.TypeProcExit))
	for _, e := range h.all(c.pid) {
		if e.Type.Kind() == event.KindIOUring {
			t.Errorf("not filtered: %s", e.String())
		}
	}
	// The setup and the openat, at least (other processes' rings too).
	if got := h.s.Stats().Kinds[event.KindIOUring].Filtered - before; got < 2 {
		t.Errorf("filtered %d io_uring events, want at least 2", got)
	}
}

// oLargefile is the kernel's O_LARGEFILE, which arm64 numbers apart.
var oLargefile = map[bool]uint32{false: 0o100000, true: 0o400000}[runtime.GOARCH == "arm64"]
