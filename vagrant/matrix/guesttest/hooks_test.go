package guesttest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// openTarget is the kernel function the kprobe and fentry probes attach to:
// every open(2)/openat(2)/openat2(2) goes through it since Linux 5.6.
const openTarget = "do_sys_openat2"

func TestKernelBTF(t *testing.T) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatalf("loading kernel BTF from /sys/kernel/btf/vmlinux: %v", err)
	}
	if _, err := spec.AnyTypeByName("task_struct"); err != nil {
		t.Fatalf("finding task_struct in kernel BTF: %v", err)
	}
}

func TestTracefsMounted(t *testing.T) {
	testutil.RequireRoot(t) // tracefs is root-only on most distributions
	const events = "/sys/kernel/tracing/events/syscalls/sys_enter_openat/id"
	if _, err := os.Stat(events); err != nil {
		t.Fatalf("tracefs is not mounted at /sys/kernel/tracing: %v", err)
	}
}

// hook attaches prog (built for the hook) and returns the link.
type hook struct {
	name       string
	progType   ebpf.ProgramType
	attachType ebpf.AttachType
	attachTo   string
	attach     func(prog *ebpf.Program) (link.Link, error)
	// available reports why the kernel cannot offer the hook, checked
	// before loading; nil means try it.
	available func() error
}

func TestHooks(t *testing.T) {
	testutil.RequireRoot(t)
	hooks := []hook{
		{
			name:     "tracepoint",
			progType: ebpf.TracePoint,
			attach: func(prog *ebpf.Program) (link.Link, error) {
				return link.Tracepoint("syscalls", "sys_enter_openat", prog, nil)
			},
		},
		{
			name:       "tp_btf",
			progType:   ebpf.Tracing,
			attachType: ebpf.AttachTraceRawTp,
			attachTo:   "sys_enter",
			attach: func(prog *ebpf.Program) (link.Link, error) {
				return link.AttachTracing(link.TracingOptions{Program: prog})
			},
		},
		{
			name:     "kprobe",
			progType: ebpf.Kprobe,
			attach: func(prog *ebpf.Program) (link.Link, error) {
				return link.Kprobe(openTarget, prog, nil)
			},
		},
		{
			name:       "fentry",
			progType:   ebpf.Tracing,
			attachType: ebpf.AttachTraceFEntry,
			attachTo:   openTarget,
			attach: func(prog *ebpf.Program) (link.Link, error) {
				return link.AttachTracing(link.TracingOptions{Program: prog})
			},
		},
		{
			name:       "lsm",
			progType:   ebpf.LSM,
			attachType: ebpf.AttachLSMMac,
			attachTo:   "file_open",
			attach: func(prog *ebpf.Program) (link.Link, error) {
				return link.AttachLSM(link.LSMOptions{Program: prog})
			},
			available: bpfLSMActive,
		},
	}
	for _, h := range hooks {
		t.Run(h.name, func(t *testing.T) { probeHook(t, h) })
	}
}

// probeHook loads a program that counts its runs, attaches it at h, opens a
// file and requires the count to have moved: a hook that attaches but never
// runs is a failure, not a missing feature.
func probeHook(t *testing.T, h hook) {
	if h.available != nil {
		if err := h.available(); err != nil {
			testutil.SkipKernelLacks(t, h.name, err)
		}
	}
	counter, err := ebpf.NewMap(&ebpf.MapSpec{
		Type:       ebpf.Array,
		KeySize:    4,
		ValueSize:  8,
		MaxEntries: 1,
	})
	if err != nil {
		t.Fatalf("creating counter map: %v", err)
	}
	defer counter.Close()

	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "vigil_probe",
		Type:         h.progType,
		AttachType:   h.attachType,
		AttachTo:     h.attachTo,
		License:      "GPL",
		Instructions: countRuns(counter),
	})
	if err != nil {
		testutil.SkipKernelLacks(t, h.name, fmt.Errorf("loading program: %w", err))
	}
	defer prog.Close()

	l, err := h.attach(prog)
	if err != nil {
		testutil.SkipKernelLacks(t, h.name, fmt.Errorf("attaching program: %w", err))
	}
	defer l.Close()

	f, err := os.Open("/proc/self/stat")
	if err != nil {
		t.Fatalf("opening a file to fire the hook: %v", err)
	}
	f.Close()

	var runs uint64
	if err := counter.Lookup(uint32(0), &runs); err != nil {
		t.Fatalf("reading counter: %v", err)
	}
	if runs == 0 {
		t.Fatalf("hook %s attached but its program never ran on an open", h.name)
	}
	t.Logf("hook active: %s", h.name)
}

// countRuns is a program that adds one to counter[0] and returns 0, which
// every hook type here accepts (0 lets an LSM hook allow the operation).
func countRuns(counter *ebpf.Map) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, counter.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}
}

// bpfLSMActive reports why BPF LSM programs cannot run: they attach on any
// kernel built with CONFIG_BPF_LSM but only run when "bpf" is among the
// active LSMs (CONFIG_LSM or the lsm= boot parameter).
func bpfLSMActive() error {
	const path = "/sys/kernel/security/lsm"
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// securityfs is not mounted: let the attach decide.
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading active LSMs: %w", err)
	}
	for _, name := range strings.Split(strings.TrimSpace(string(b)), ",") {
		if name == "bpf" {
			return nil
		}
	}
	return fmt.Errorf("bpf is not among the active LSMs %q", strings.TrimSpace(string(b)))
}
