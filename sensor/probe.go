package sensor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Requirements the start-up probe checks. New's error wraps one of them in a
// *ProbeError, so callers can test with errors.Is and print the explanation.
var (
	ErrPrivileges = errors.New("missing privileges")
	ErrMemlock    = errors.New("memlock rlimit")
	ErrNoBTF      = errors.New("no kernel BTF")
	ErrNoRingBuf  = errors.New("no BPF ring buffer")
	ErrNoTracefs  = errors.New("no tracefs")
	ErrNoHook     = errors.New("missing kernel hook")
)

// ProbeError says which requirement the machine misses and what to do.
type ProbeError struct {
	// Missing is one of the Err* requirements above.
	Missing error
	// Hint explains the requirement and the fix, for a person.
	Hint string
	// Err is the underlying error, if any.
	Err error
}

// Error names the requirement, the explanation and the cause.
func (e *ProbeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v: %s: %v", e.Missing, e.Hint, e.Err)
	}
	return fmt.Sprintf("%v: %s", e.Missing, e.Hint)
}

// Unwrap returns the requirement and the underlying error.
func (e *ProbeError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Missing, e.Err}
	}
	return []error{e.Missing}
}

// Mount points the sensor relies on.
const (
	btfPath     = "/sys/kernel/btf/vmlinux"
	tracefsPath = "/sys/kernel/tracing"
	debugfsPath = "/sys/kernel/debug/tracing"
	bpffsPath   = "/sys/fs/bpf"
)

// probe checks, in order, everything the baseline programs need, fixing what
// it can (memlock rlimit, an unmounted tracefs). It returns the tracefs
// events directory.
func probe(log *slog.Logger) (string, error) {
	if err := probePrivileges(); err != nil {
		return "", err
	}
	if err := removeMemlock(); err != nil {
		return "", &ProbeError{Missing: ErrMemlock, Hint: "cannot lift RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF maps to (run as root or raise it with ulimit -l unlimited)", Err: err}
	}
	if _, err := os.Stat(btfPath); err != nil {
		return "", &ProbeError{Missing: ErrNoBTF, Hint: btfPath + " is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y (vigil's programs are CO-RE)", Err: err}
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		return "", &ProbeError{Missing: ErrNoBTF, Hint: "cannot parse " + btfPath, Err: err}
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return "", &ProbeError{Missing: ErrNoRingBuf, Hint: "the kernel lacks BPF_MAP_TYPE_RINGBUF (Linux 5.8 or later is required)", Err: err}
	}
	events, err := tracefsEvents(log)
	if err != nil {
		return "", err
	}
	if !isMounted(bpffsPath, unix.BPF_FS_MAGIC) {
		log.Debug("bpffs is not mounted; vigil pins nothing, so it does not need it", "path", bpffsPath)
	}
	return events, nil
}

// removeMemlock lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF
// maps to. Lifting it outright also keeps the loader from blaming the limit
// for unrelated EPERMs; without CAP_SYS_RESOURCE it is left alone where the
// kernel accounts BPF memory to the memory cgroup instead.
func removeMemlock() error {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf) == nil {
		return nil
	}
	return rlimit.RemoveMemlock()
}

// CheckPrivileges reports, as a *ProbeError wrapping ErrPrivileges, when
// the process lacks the capabilities New needs. Callers use it to fail
// early, before work that would fail less clearly without them.
func CheckPrivileges() error { return probePrivileges() }

// probePrivileges checks for CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON
// (loading tracing programs and opening tracepoint perf events).
func probePrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return &ProbeError{Missing: ErrPrivileges, Hint: "cannot read the process capabilities", Err: err}
	}
	has := func(c int) bool { return data[c/32].Effective&(1<<(uint(c)%32)) != 0 }
	if has(unix.CAP_SYS_ADMIN) || (has(unix.CAP_BPF) && has(unix.CAP_PERFMON)) {
		return nil
	}
	return &ProbeError{Missing: ErrPrivileges, Hint: fmt.Sprintf("loading and attaching tracing programs needs root, or CAP_BPF and CAP_PERFMON (euid %d)", os.Geteuid())}
}

// tracefsEvents returns the tracefs events directory, mounting tracefs at
// /sys/kernel/tracing when it is not mounted anywhere. Syscall tracepoints
// are attached by their tracefs id.
func tracefsEvents(log *slog.Logger) (string, error) {
	for _, dir := range []string{tracefsPath, debugfsPath} {
		if isMounted(dir, unix.TRACEFS_MAGIC) {
			return filepath.Join(dir, "events"), nil
		}
	}
	if err := unix.Mount("tracefs", tracefsPath, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return "", &ProbeError{Missing: ErrNoTracefs, Hint: "tracefs is not mounted and mounting it failed; mount it with `mount -t tracefs nodev " + tracefsPath + "` (CONFIG_TRACING)", Err: err}
	}
	log.Info("mounted tracefs", "path", tracefsPath)
	return filepath.Join(tracefsPath, "events"), nil
}

func isMounted(dir string, magic int64) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && int64(st.Type) == magic
}

// haveTracepoint reports whether tracefs lists group/name.
func haveTracepoint(events, group, name string) bool {
	_, err := os.Stat(filepath.Join(events, group, name, "id"))
	return err == nil
}

// rawHooks is what probeRawSyscalls found: whether the raw sys_exit
// program can run, and how it reads the kernel.
type rawHooks struct {
	// direct: the kernel has the bpf_rdonly_cast kfunc (Linux 6.2), so the
	// program's reports load kernel fields directly (sys_exit_raw) rather
	// than through helper calls (sys_exit_raw_read).
	direct bool
	// taskPtRegs: the kernel has the bpf_task_pt_regs helper (Linux 5.15),
	// which the file_open hook needs beside the raw program, to tell the
	// opens of the syscalls it reports.
	taskPtRegs bool
}

// probeRawSyscalls tells whether the raw sys_exit program can run here: it
// reads x86-64 registers and attaches to the raw sys_exit tracepoint as a
// tp_btf program (Linux 5.5), which the kernel's BTF names when present.
func probeRawSyscalls() (rawHooks, error) {
	if runtime.GOARCH != "amd64" {
		return rawHooks{}, fmt.Errorf("it reads x86-64 syscall registers; this is %s", runtime.GOARCH)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return rawHooks{}, fmt.Errorf("reading kernel BTF: %w", err)
	}
	return probeRawSyscallsBTF(spec)
}

// probeRawSyscallsBTF is probeRawSyscalls on the kernel BTF spec.
func probeRawSyscallsBTF(spec *btf.Spec) (rawHooks, error) {
	var tp *btf.Typedef
	if err := spec.TypeByName("btf_trace_sys_exit", &tp); err != nil {
		return rawHooks{}, fmt.Errorf("the kernel lacks the raw sys_exit tracepoint: %w", err)
	}
	var h rawHooks
	var fn *btf.Func
	h.direct = spec.TypeByName("bpf_rdonly_cast", &fn) == nil
	var ids *btf.Enum
	if spec.TypeByName("bpf_func_id", &ids) == nil {
		h.taskPtRegs = slices.ContainsFunc(ids.Values, func(v btf.EnumValue) bool { return v.Name == "BPF_FUNC_task_pt_regs" })
	}
	return h, nil
}

// probeFileOpenHook tells whether a hook program of the given kind loads and
// attaches on this kernel, with a program that does nothing. fentry needs
// BPF trampolines; lsm also needs "bpf" in the active LSM list.
func probeFileOpenHook(kind string) error {
	spec := &ebpf.ProgramSpec{
		License:      "GPL",
		Instructions: asm.Instructions{asm.LoadImm(asm.R0, 0, asm.DWord), asm.Return()},
	}
	switch kind {
	case FileOpenHookFentry:
		spec.Type, spec.AttachType, spec.AttachTo = ebpf.Tracing, ebpf.AttachTraceFEntry, "security_file_open"
	case FileOpenHookLSM:
		spec.Type, spec.AttachType, spec.AttachTo = ebpf.LSM, ebpf.AttachLSMMac, "file_open"
	default:
		return fmt.Errorf("unknown hook kind %q", kind)
	}
	prog, err := ebpf.NewProgram(spec)
	if errors.Is(err, unix.EPERM) {
		// Refused before the verifier ran (the loader then blames the
		// memlock limit, which probe has already lifted).
		return fmt.Errorf("loading probe program: the kernel refuses %s programs: %w", kind, unix.EPERM)
	}
	if err != nil {
		return fmt.Errorf("loading probe program: %w", err)
	}
	defer prog.Close()
	var l link.Link
	if kind == FileOpenHookLSM {
		l, err = link.AttachLSM(link.LSMOptions{Program: prog})
	} else {
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	}
	if err != nil {
		return fmt.Errorf("attaching probe program: %w", err)
	}
	return l.Close()
}

// ProbeIOURing tells whether the io_uring kind's programs can attach here:
// they are tp_btf programs on io_uring_create and io_uring_submit_req, the
// latter taking the request (struct io_kiocb *) as it has since Linux 6.0
// (older kernels name it io_uring_submit_sqe, with other arguments), and
// they read the request's command area (io_kiocb.cmd, also 6.0), which a
// kernel without it would make the whole object fail to load. A kernel
// built without io_uring (CONFIG_IO_URING) has none of them.
func ProbeIOURing() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("reading kernel BTF: %w", err)
	}
	return probeIOURingBTF(spec)
}

// probeIOURingBTF checks the io_uring tracepoints' prototypes in spec.
func probeIOURingBTF(spec *btf.Spec) error {
	proto := func(name string) (*btf.FuncProto, error) {
		var td *btf.Typedef
		if err := spec.TypeByName("btf_trace_"+name, &td); err != nil {
			return nil, fmt.Errorf("the kernel lacks tracepoint io_uring/%s (CONFIG_IO_URING, Linux 6.0 or later): %w", name, err)
		}
		ptr, ok := td.Type.(*btf.Pointer)
		if !ok {
			return nil, fmt.Errorf("tracepoint io_uring/%s: unexpected BTF type %v", name, td.Type)
		}
		fp, ok := ptr.Target.(*btf.FuncProto)
		if !ok {
			return nil, fmt.Errorf("tracepoint io_uring/%s: unexpected BTF type %v", name, ptr.Target)
		}
		return fp, nil
	}
	create, err := proto("io_uring_create")
	if err != nil {
		return err
	}
	// The first parameter of a raw tracepoint is its private data.
	if len(create.Params) != 6 {
		return fmt.Errorf("tracepoint io_uring/io_uring_create has %d arguments, vigil reads 5", len(create.Params)-1)
	}
	submit, err := proto("io_uring_submit_req")
	if err != nil {
		return err
	}
	var req *btf.Struct
	if len(submit.Params) == 2 {
		req = pointee(submit.Params[1].Type, "io_kiocb")
	}
	if req == nil {
		return fmt.Errorf("tracepoint io_uring/io_uring_submit_req does not take the request (struct io_kiocb *) alone")
	}
	for _, name := range []string{"cmd", "opcode", "flags", "cqe", "ctx"} {
		if !hasMember(req.Members, name) {
			return fmt.Errorf("struct io_kiocb has no member %s", name)
		}
	}
	return nil
}

// hasMember reports whether members, or those of an anonymous struct or
// union among them (as C reaches them), include one named name.
func hasMember(members []btf.Member, name string) bool {
	for _, m := range members {
		if m.Name == name {
			return true
		}
		if m.Name != "" {
			continue
		}
		switch t := btf.UnderlyingType(m.Type).(type) {
		case *btf.Struct:
			if hasMember(t.Members, name) {
				return true
			}
		case *btf.Union:
			if hasMember(t.Members, name) {
				return true
			}
		}
	}
	return false
}

// pointee is the struct named name that t points to, nil when t is not a
// pointer to it.
func pointee(t btf.Type, name string) *btf.Struct {
	p, ok := t.(*btf.Pointer)
	if !ok {
		return nil
	}
	s, ok := btf.UnderlyingType(p.Target).(*btf.Struct)
	if !ok || s.Name != name {
		return nil
	}
	return s
}
