package sensor

import (
	"fmt"
	"log/slog"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// privOps are the privileged operations helperPriv makes: each harmless
// (a failure, or a change to what already is), with the event type and
// arguments the sensor must report.
var privOps = []struct {
	op   string
	typ  event.Type
	args [3]int64
}{
	{"ptrace-attach", event.TypePtrace, [3]int64{unix.PTRACE_ATTACH, 0x3fffffff}},
	{"init_module", event.TypeInitModule, [3]int64{7}},
	{"finit_module", event.TypeFinitModule, [3]int64{-1, 0}},
	{"setns", event.TypeSetns, [3]int64{-1, unix.CLONE_NEWNET}},
	{"unshare", event.TypeUnshare, [3]int64{0}},
	{"bpf", event.TypeBpf, [3]int64{unix.BPF_PROG_LOAD}},
	{"userfaultfd", event.TypeUserfaultfd, [3]int64{0x7ff0}},
	{"setuid", event.TypeSetuid, [3]int64{0}},
	{"setresgid", event.TypeSetresgid, [3]int64{-1, -1, -1}},
	{"capset", event.TypeCapset, [3]int64{}},
}

// helperPriv makes the operation named op on its own thread and prints its
// result.
func helperPriv(op string) int {
	var r1 uintptr
	var errno unix.Errno
	switch op {
	case "ptrace-attach":
		r1, _, errno = unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, 0x3fffffff, 0, 0, 0, 0)
	case "init_module":
		// Seven bytes that are no ELF module.
		img := []byte("garbage")
		r1, _, errno = unix.RawSyscall(unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&img[0])), uintptr(len(img)), uintptr(unsafe.Pointer(&[]byte{0}[0])))
	case "finit_module":
		r1, _, errno = unix.RawSyscall(unix.SYS_FINIT_MODULE, ^uintptr(0), uintptr(unsafe.Pointer(&[]byte{0}[0])), 0)
	case "setns":
		r1, _, errno = unix.RawSyscall(unix.SYS_SETNS, ^uintptr(0), unix.CLONE_NEWNET, 0)
	case "unshare":
		r1, _, errno = unix.RawSyscall(unix.SYS_UNSHARE, 0, 0, 0)
	case "bpf":
		r1, _, errno = unix.RawSyscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, 0, 0)
	case "userfaultfd":
		r1, _, errno = unix.RawSyscall(unix.SYS_USERFAULTFD, 0x7ff0, 0, 0)
	case "setuid":
		// The helper runs as root: a change to what already is.
		r1, _, errno = unix.RawSyscall(unix.SYS_SETUID, 0, 0, 0)
	case "setresgid":
		r1, _, errno = unix.RawSyscall(unix.SYS_SETRESGID, uintptr(^uint32(0)), uintptr(^uint32(0)), uintptr(^uint32(0)))
	case "capset":
		r1, _, errno = unix.RawSyscall(unix.SYS_CAPSET, 0, 0, 0)
	default:
		return -1000
	}
	if errno != 0 {
		return -int(errno)
	}
	return int(r1)
}

// TestPrivHookModes makes each privileged operation and requires the same
// event, with its arguments and the caller's credentials, from the shared
// sensor (the raw sys_exit program where the kernel allows it) and from a
// sensor on the syscalls tracepoint pairs.
func TestPrivHookModes(t *testing.T) {
	h := startHarness(t)
	tp, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: SyscallHooksTracepoint})
	if err != nil {
		t.Fatalf("starting a sensor on the syscalls tracepoints: %v", err)
	}
	defer tp.close()
	ops := make([]string, len(privOps))
	for i, o := range privOps {
		ops[i] = o.op
	}
	c := h.spawn(t, "", "priv", ops...)
	if len(c.results) != len(ops) {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	events, err := probe(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range privOps {
		t.Run(o.op, func(t *testing.T) {
			// The Go runtime and its libraries make syscalls of their own
			// (bpf feature probes): the arguments pick the helper's.
			match := func(e *captured) bool { return isType(c.pid, o.typ)(e) && e.Priv.Args == o.args }
			// A kernel without the syscall (init_module without
			// CONFIG_MODULES) has no tracepoints for it: only the raw
			// program, which sees every syscall number, reports it.
			if !haveTracepoint(events, "syscalls", "sys_enter_"+o.typ.String()) {
				if !h.s.rawSyscalls {
					t.Skipf("the kernel has no tracepoint for %s and the raw sys_exit hook is unavailable", o.typ)
				}
				ev := h.wait(t, c.pid, o.op, match)
				if ev.Res != int64(c.results[i]) {
					t.Errorf("%s: res %d, want %d", o.op, ev.Res, c.results[i])
				}
				t.Logf("the kernel has no tracepoint for %s: only the raw sys_exit hook was checked", o.typ)
				return
			}
			auto := h.wait(t, c.pid, o.op, match)
			trace := tp.wait(t, c.pid, o.op, match)
			for _, ev := range []captured{auto, trace} {
				if ev.Res != int64(c.results[i]) || ev.Priv.Args != o.args {
					t.Errorf("%s: res %d args %v, want res %d args %v", o.op, ev.Res, ev.Priv.Args, c.results[i], o.args)
				}
				// The helper runs as root with every capability.
				if ev.Priv.UID != 0 || ev.Priv.EUID != 0 || ev.Priv.CapEffective&(1<<21) == 0 {
					t.Errorf("%s: credentials uid %d euid %d caps %#x", o.op, ev.Priv.UID, ev.Priv.EUID, ev.Priv.CapEffective)
				}
			}
			if auto.Priv != trace.Priv {
				t.Errorf("the hook modes disagree\ntracepoint: %+v\nauto:       %+v", trace.Priv, auto.Priv)
			}
		})
	}
}

func runPrivHelper(args []string) int {
	for _, op := range args {
		fmt.Printf("res=%d\n", helperPriv(op))
	}
	return 0
}

// TestPrivFilterKeys checks that the Go side computes the priv filter's
// keys with the bounds the kernel uses.
func TestPrivFilterKeys(t *testing.T) {
	if bpf.VigilPrivFilterKeyVIGIL_PRIV_KEY_PTRACE_EXT != event.PrivKeyPtraceExt ||
		bpf.VigilPrivFilterKeyVIGIL_PRIV_PTRACE_EXT_BASE != event.PrivPtraceExtBase ||
		bpf.VigilPrivFilterKeyVIGIL_PRIV_KEY_OTHER != event.PrivKeyOther ||
		event.PrivKeyOther >= maxFilterKeys {
		t.Errorf("priv filter keys differ: bpf/events.h has %d, %#x, %d; event has %d, %#x, %d",
			bpf.VigilPrivFilterKeyVIGIL_PRIV_KEY_PTRACE_EXT, bpf.VigilPrivFilterKeyVIGIL_PRIV_PTRACE_EXT_BASE,
			bpf.VigilPrivFilterKeyVIGIL_PRIV_KEY_OTHER, event.PrivKeyPtraceExt, event.PrivPtraceExtBase, event.PrivKeyOther)
	}
}

// TestPrivFilter sets a priv filter that keeps only PTRACE_ATTACH and
// PTRACE_SEIZE and checks that the kernel keeps exactly those of the
// helper's operations, whichever hook mode reports them.
func TestPrivFilter(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) {
		f := &event.Filter{Clauses: []event.Clause{{
			Types: event.TypeSetOf(event.TypePtrace), Results: event.AllResults, AnyPath: true,
			Classes: 1<<event.PrivKey(event.TypePtrace, unix.PTRACE_ATTACH) | 1<<event.PrivKey(event.TypePtrace, unix.PTRACE_SEIZE),
		}}}
		if err := fh.s.SetFilter(event.KindPriv, f); err != nil {
			t.Fatalf("SetFilter: %v", err)
		}
		before := fh.s.Stats().Kinds[event.KindPriv].Filtered
		c := h.spawn(t, "", "priv", "ptrace-attach", "unshare", "bpf", "ptrace-attach")
		// The records keep their order: once the second attach is
		// in, so is everything before it.
		attaches := 0
		fh.wait(t, c.pid, "the second ptrace attach", func(e *captured) bool {
			if isType(c.pid, event.TypePtrace)(e) {
				attaches++
			}
			return attaches == 2
		})
		for _, e := range fh.all(c.pid) {
			if e.Type.Kind() == event.KindPriv && e.Type != event.TypePtrace {
				t.Errorf("the filter kept %s", e.Type)
			}
		}
		if fh.s.Stats().Kinds[event.KindPriv].Filtered == before {
			t.Error("the filter left nothing in the kernel")
		}
	})
}
