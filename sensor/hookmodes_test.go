package sensor

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// syscallFields are the decoded fields of an open or connect event that do
// not depend on how the syscall was traced.
type syscallFields struct {
	Type     event.Type
	PID, TID uint32
	CgroupID uint64
	Res      int64

	Name, RealPath, Raw                                     string
	Flags, Mode                                             uint32
	DirFD                                                   int32
	FileType                                                uint32
	NameTruncated, RealPathTruncated, RawTruncated, ViaHook bool
	FD                                                      int32
	Family, SockType                                        uint16
	Proto                                                   uint8
	Local, Remote                                           netip.AddrPort
	UnixPath                                                string
}

func fieldsOf(c *captured) syscallFields {
	o, k := &c.Open, &c.Connect
	return syscallFields{
		Type: c.Type, PID: c.PID, TID: c.TID, CgroupID: c.CgroupID, Res: c.Res,
		Name: string(o.Name), RealPath: string(o.RealPath), Raw: string(o.Raw), Flags: o.Flags, Mode: o.Mode, DirFD: o.DirFD,
		FileType: o.FileType, NameTruncated: o.NameTruncated, RealPathTruncated: o.RealPathTruncated, RawTruncated: o.RawTruncated,
		ViaHook: o.ViaHook,
		FD:      k.FD, Family: k.Family, SockType: k.SockType, Proto: k.Proto, Local: k.Local, Remote: k.Remote,
		UnixPath: string(k.UnixPath),
	}
}

// TestSyscallHookModes makes one set of opens and connects and requires the
// same event from both ways of tracing them: the shared sensor (the raw
// sys_exit program where the kernel allows it) and a second sensor on the
// syscalls tracepoint pairs.
func TestSyscallHookModes(t *testing.T) {
	h := startHarness(t)
	if !h.s.rawSyscalls {
		// The raw program needs x86-64 and tp_btf (every kernel vigil
		// supports): on x86-64, falling back is a broken probe.
		if runtime.GOARCH == "amd64" {
			t.Errorf("raw sys_exit hook not used on x86-64: %v", h.s.rawErr)
		}
		t.Logf("raw sys_exit hook unavailable (%v): both sensors use the tracepoints", h.s.rawErr)
	}
	tp, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: SyscallHooksTracepoint})
	if err != nil {
		t.Fatalf("starting a sensor on the syscalls tracepoints: %v", err)
	}
	defer tp.close()
	if tp.s.rawSyscalls {
		t.Fatalf("SyscallHooksTracepoint attached the raw hook: %v", tp.s.Hooks())
	}

	dir := realTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "file.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// More components than the kernel-side path walk takes: the name is cut.
	deep := filepath.Join(dir, strings.Repeat("d/", 80))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	ops := []string{
		"openat:" + filepath.Join(dir, "file.txt"),
		"openat:sub/../file.txt",
		"dirfd:" + sub + ":../file.txt",
		"dirfd:" + sub + ":gone",
		"openat:missing/nope",
		"openat:" + filepath.Join(dir, "missing/abs"),
		"openat-creat:new.txt",
		"openat2:sub",
		"openat-creat:" + filepath.Join(deep, "deep.txt"),
		"openat:" + strings.Repeat("./", 2100) + "file.txt", // ENAMETOOLONG; the raw path is cut
		"openat:/dev/null",
		"openat:/proc/self/status",
		"openat:/proc/self/fd/1", // the pipe to the test
	}
	if haveLegacyOpen {
		ops = append(ops, "open:./file.txt", "creat:made.txt")
	}
	c := h.spawn(t, dir, "open", ops...)
	if len(c.results) != len(ops) {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}

	p := listenPeers(t, dir)
	// Only name, network, addr, nonblock and res matter here.
	connects := []connectCase{
		{name: "tcp4", network: "tcp4", addr: p.tcp4.Addr().String()},
		{name: "tcp4 refused", network: "tcp4", addr: p.refused, res: -int(unix.ECONNREFUSED)},
		{name: "tcp6 non-blocking", network: "tcp6", addr: p.tcp6.Addr().String(), nonblock: true, res: -int(unix.EINPROGRESS)},
		{name: "udp4", network: "udp4", addr: p.udp4.LocalAddr().String()},
		{name: "unix", network: "unix", addr: p.unix.Addr().String()},
	}
	pids := make([]uint32, len(connects))
	for i, k := range connects {
		mode := "block"
		if k.nonblock {
			mode = "nonblock"
		}
		cc := h.spawn(t, "", "connect", k.network, k.addr, mode)
		if len(cc.results) != 1 || cc.results[0] != k.res {
			t.Fatalf("%s: helper results %v, want [%d] (stderr %s)", k.name, cc.results, k.res, cc.stderr)
		}
		pids[i] = cc.pid
	}

	// same waits for the event match selects in both sensors, compares
	// them and returns the shared sensor's.
	same := func(t *testing.T, pid uint32, what string, res int, match func(*captured) bool) syscallFields {
		t.Helper()
		ev := h.wait(t, pid, what, match)
		auto := fieldsOf(&ev)
		ev = tp.wait(t, pid, what, match)
		if got := fieldsOf(&ev); got != auto {
			t.Errorf("the hook modes disagree\ntracepoint: %+v\nauto:       %+v", got, auto)
		}
		if auto.PID != pid || auto.Res != int64(res) {
			t.Errorf("event of pid %d res %d, want pid %d res %d", auto.PID, auto.Res, pid, res)
		}
		return auto
	}
	for i, op := range ops {
		// helperOpen's path argument, as far as the record keeps it.
		_, path, _ := strings.Cut(op, ":")
		if strings.HasPrefix(op, "dirfd:") {
			_, path, _ = strings.Cut(path, ":")
		}
		raw := path[:min(len(path), int(bpf.VigilStrBoundsVIGIL_STR_MAX))]
		t.Run(fmt.Sprintf("%.40s", strings.ReplaceAll(op, dir, "DIR")), func(t *testing.T) {
			f := same(t, c.pid, "open of "+raw, c.results[i], func(e *captured) bool {
				return e.PID == c.pid && e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == raw
			})
			// The truncation cases must stay truncation cases: a cut
			// raw path cuts the caller's name, a walk too deep the
			// resolved one.
			if f.RawTruncated != (raw != path) || f.NameTruncated != (raw != path) || f.RealPathTruncated != strings.HasPrefix(path, deep) {
				t.Errorf("raw truncated %v, name truncated %v, realpath truncated %v", f.RawTruncated, f.NameTruncated, f.RealPathTruncated)
			}
		})
	}
	for i, k := range connects {
		t.Run(k.name, func(t *testing.T) {
			same(t, pids[i], "connect", k.res, isType(pids[i], event.TypeConnect))
		})
	}
}
