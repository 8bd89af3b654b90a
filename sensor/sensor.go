package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/procfs"
)

// Defaults for Config's zero values.
const (
	DefaultRingBufferSize = 8 << 20
	DefaultPollInterval   = 10 * time.Millisecond
)

// File-open hook choices for Config.FileOpenHook.
const (
	// FileOpenHookAuto uses fentry where it works, else the BPF LSM, else
	// nothing.
	FileOpenHookAuto = ""
	// FileOpenHookFentry and FileOpenHookLSM require that hook.
	FileOpenHookFentry = "fentry"
	FileOpenHookLSM    = "lsm"
	// FileOpenHookNone attaches no file_open hook.
	FileOpenHookNone = "none"
)

// Syscall hook choices for Config.SyscallHooks: how the syscalls of
// bpf/syscall_table.h hooked raw (open, openat, openat2, creat, connect)
// are traced. Exec keeps its tracepoints in every mode.
const (
	// SyscallHooksAuto uses the raw sys_exit program where the kernel
	// supports it, else the syscalls tracepoints.
	SyscallHooksAuto = ""
	// SyscallHooksRaw requires one tp_btf program on the raw sys_exit
	// tracepoint that reads the arguments from the syscall's registers:
	// x86-64 with kernel BTF (every kernel vigil supports there). It walks
	// paths with direct loads where the kernel has bpf_rdonly_cast (Linux
	// 6.2), with helper reads before. Cheaper per syscall, and it also
	// sees 32-bit (ia32) syscalls.
	SyscallHooksRaw = "raw"
	// SyscallHooksTracepoint uses a sys_enter and sys_exit tracepoint pair
	// per syscall, which every supported kernel has. They do not fire for
	// 32-bit syscalls (CompatErr).
	SyscallHooksTracepoint = "tracepoint"
)

// ErrRunning is returned by a second call of Run: a Sensor runs once.
var ErrRunning = errors.New("sensor is already running")

// Config configures a Sensor.
type Config struct {
	// RingBufferSize is the ring buffer's size in bytes: a power of two
	// and a multiple of the page size. Default 8 MiB.
	RingBufferSize int
	// Kinds selects the event kinds delivered to Run's handler. Exec,
	// fork and exit records are always produced in the kernel, because the
	// process table needs them; they reach the handler only when selected
	// here. Open and connect records are not produced at all unless
	// selected, so an unselected kind costs only a map lookup per syscall.
	Kinds [event.NumKinds]bool
	// MaxProcesses bounds the process table; default DefaultMaxProcesses.
	MaxProcesses int
	// PollInterval is how long the reader waits for a wakeup before it
	// reads the ring anyway; records are submitted without a wakeup until
	// a quarter of the ring is full. Default 10 ms.
	PollInterval time.Duration
	// FileOpenHook selects the optional hook on file_open, which reports
	// opens that bypass the open syscalls (io_uring): one of the
	// FileOpenHook constants. Auto by default; a hook named explicitly
	// and unavailable makes New fail.
	FileOpenHook string
	// SyscallHooks selects how the syscalls of bpf/syscall_table.h are
	// traced: one of the SyscallHooks constants. Auto by default; raw named
	// explicitly and unsupported makes New fail.
	SyscallHooks string
	// rawRead makes the raw sys_exit program read the kernel with helper
	// calls even where it could load fields directly, as it does on
	// kernels before 6.2: the tests run that variant here.
	rawRead bool
	// Table overrides process-table settings (ProcRoot, Passwd); its
	// MaxProcesses, BootOffset and Logger are set by New.
	Table  TableConfig
	Logger *slog.Logger
}

// AllKinds selects every kind, for Config.Kinds.
func AllKinds() [event.NumKinds]bool {
	var k [event.NumKinds]bool
	for i := range k {
		k[i] = i != int(event.KindUnknown)
	}
	return k
}

// KindStats are a kind's counters.
type KindStats struct {
	// Emitted and Dropped are the kernel's counts, summed over CPUs:
	// records written to the ring buffer, and records lost because it was
	// full (or because the per-thread argument map was).
	Emitted, Dropped uint64
	// Filtered counts the events the kind's filter left in the kernel
	// (SetFilter); they are not emitted.
	Filtered uint64
	// Delivered counts the events passed to the handler; Skipped the
	// records read and decoded but not passed on because the kind is not
	// selected (exec, fork and exit feed the process table regardless);
	// Failed the records of the kind that could not be decoded. Once the
	// ring buffer is drained, Emitted == Delivered + Skipped + Failed.
	Delivered, Skipped, Failed uint64
}

// Stats are the sensor's counters.
type Stats struct {
	Kinds [event.NumKinds]KindStats
	// DecodeErrors counts malformed records, indexed by DecodeReason.
	DecodeErrors [NumDecodeReasons]uint64
	// Processes is the process table's size; ProcessesEvicted counts live
	// entries dropped because it was full; ProcessMisses counts events
	// from processes it did not know.
	Processes        int
	ProcessesEvicted uint64
	ProcessMisses    uint64
}

// Sensor loads vigil's BPF programs, reads their ring buffer and turns the
// records into events with their processes.
type Sensor struct {
	log      *slog.Logger
	poll     time.Duration
	coll     *ebpf.Collection
	kindsMap *ebpf.Map
	counters *ebpf.Map
	links    []link.Link
	hooks    []string
	// fileOpenErr says why no optional file_open hook is attached.
	fileOpenErr error
	// iouringErr says why the io_uring kind's programs are not attached.
	iouringErr error
	// filters is the state of SetFilter, by kind.
	filters [event.NumKinds]filterState
	// idents are the file identities of SetFileIdentities.
	idents map[event.FileID]string
	// rawSyscalls: the syscalls hooked raw come from the raw sys_exit
	// program, rawDirect its variant with direct loads; rawErr says why
	// not, when auto chose the tracepoints.
	rawSyscalls bool
	rawDirect   bool
	rawErr      error
	reader      *ringbuf.Reader
	table       *ProcessTable
	dec         Decoder

	// deliver is the bit mask of kinds passed to the handler.
	deliver   atomic.Uint32
	delivered [event.NumKinds]atomic.Uint64
	skipped   [event.NumKinds]atomic.Uint64
	failed    [event.NumKinds]atomic.Uint64
	decodeErr [numDecodeReasons]atomic.Uint64
	seq       uint64
	// exitLoss is the count of lost exit records at the last sweep.
	exitLoss uint64

	// kmu guards reading the kernel counters against closing their map;
	// final holds them as they were when Close had drained the ring.
	kmu   sync.Mutex
	final []kernelCounts
	// lastKernel is the kernel counters as last read; lost is what they
	// lost to tampering since start, added to what they say; tampered
	// holds what was found for the next Verify (sensor/integrity.go).
	lastKernel []kernelCounts
	lost       [event.NumKinds]kernelCounts
	tampered   []Tampering

	mu       sync.Mutex // guards running, closed, kind updates
	running  bool
	closed   bool
	stopping atomic.Bool
	runDone  chan struct{}
	// closeDone is closed when Close has finished, for later callers.
	closeDone chan struct{}
	closeErr  error
}

// kernelCounts are one kind's kernel counters summed over CPUs.
type kernelCounts struct{ emitted, dropped, filtered uint64 }

// New probes the machine, loads and attaches the programs, and seeds the
// process table from /proc. A machine that cannot run the sensor yields a
// *ProbeError naming what is missing.
func New(cfg Config) (*Sensor, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RingBufferSize == 0 {
		cfg.RingBufferSize = DefaultRingBufferSize
	}
	if n := cfg.RingBufferSize; n < os.Getpagesize() || n&(n-1) != 0 {
		return nil, fmt.Errorf("ring buffer size %d is not a power of two of at least a page", n)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	s := &Sensor{log: cfg.Logger, poll: cfg.PollInterval, closeDone: make(chan struct{})}
	if err := s.load(cfg); err != nil {
		s.closeObjects()
		return nil, err
	}
	offset := procfs.BootOffset()
	s.dec.BootOffset = offset
	tc := cfg.Table
	tc.MaxProcesses, tc.BootOffset, tc.Logger = cfg.MaxProcesses, offset, cfg.Logger
	s.table = NewProcessTable(tc)
	if err := s.table.Seed(); err != nil {
		s.closeObjects()
		return nil, fmt.Errorf("seeding process table: %w", err)
	}
	s.log.Info("sensor attached", "hooks", len(s.hooks), "ring_buffer", cfg.RingBufferSize, "processes", s.table.Len())
	return s, nil
}

// program is one program of the object with where it attaches.
type program struct {
	name string
	// kind is "tp_btf", "tracepoint", FileOpenHookFentry or FileOpenHookLSM.
	kind string
	// group and event name a tracepoint.
	group, event string
}

// syscallRow is a row of bpf/syscall_table.h, as the object's BTF names it
// (enum syscall_trace): a syscall and how it is hooked.
type syscallRow struct {
	name string
	// raw: the raw sys_exit program reports it where it runs, and its
	// tracepoint pair is attached only where it does not.
	raw bool
}

// syscallRows reads the syscall table from the object.
func syscallRows(spec *ebpf.CollectionSpec) ([]syscallRow, error) {
	var e *btf.Enum
	if err := spec.Types.TypeByName("syscall_trace", &e); err != nil {
		return nil, fmt.Errorf("reading the syscall table from the object: %w", err)
	}
	rows := make([]syscallRow, 0, len(e.Values))
	for _, v := range e.Values {
		name, ok := strings.CutPrefix(v.Name, "VIGIL_TRACE_")
		if !ok {
			return nil, fmt.Errorf("reading the syscall table from the object: unexpected name %s", v.Name)
		}
		rows = append(rows, syscallRow{name: name, raw: v.Value == uint64(bpf.VigilSyscallHookVIGIL_HOOK_RAW)})
	}
	return rows, nil
}

// syscallPrograms are the tracepoint pairs to attach for the syscall table:
// every row's on the tracepoints, only those not hooked raw beside the raw
// program. The rows that keep their pair everywhere (exec) are required:
// they show that the kernel has syscall tracepoints, so another row's
// missing pair means the architecture lacks that syscall (open and creat
// on arm64) and is skipped.
func syscallPrograms(rows []syscallRow, raw bool, have func(group, event string) bool, log *slog.Logger) ([]program, error) {
	var out []program
	for _, r := range rows {
		if raw && r.raw {
			continue
		}
		for _, p := range []program{
			{name: "sys_enter_" + r.name, kind: "tracepoint", group: "syscalls", event: "sys_enter_" + r.name},
			{name: "sys_exit_" + r.name, kind: "tracepoint", group: "syscalls", event: "sys_exit_" + r.name},
		} {
			switch {
			case have(p.group, p.event):
				out = append(out, p)
			case r.raw:
				log.Debug("kernel lacks tracepoint, skipping", "tracepoint", p.group+"/"+p.event)
			default:
				return nil, &ProbeError{Missing: ErrNoHook, Hint: "the kernel lacks tracepoint " + p.group + "/" + p.event + " (CONFIG_FTRACE_SYSCALLS)"}
			}
		}
	}
	return out, nil
}

func (s *Sensor) load(cfg Config) error {
	events, err := probe(s.log)
	if err != nil {
		return err
	}
	spec, err := bpf.LoadVigil()
	if err != nil {
		return fmt.Errorf("loading object spec: %w", err)
	}
	rows, err := syscallRows(spec)
	if err != nil {
		return err
	}
	progs := []program{
		{name: bpf.VigilProgSchedProcessExec, kind: "tp_btf", event: "sched_process_exec"},
		{name: bpf.VigilProgSchedProcessFork, kind: "tp_btf", event: "sched_process_fork"},
		{name: bpf.VigilProgSchedProcessExit, kind: "tp_btf", event: "sched_process_exit"},
	}
	raw, err := s.chooseSyscallHooks(cfg.SyscallHooks, cfg.rawRead)
	if err != nil {
		return err
	}
	if raw.ok {
		name := bpf.VigilProgSysExitRawRead
		if s.rawDirect {
			name = bpf.VigilProgSysExitRaw
		}
		progs = append(progs, program{name: name, kind: "tp_btf", event: "sys_exit"})
	}
	tps, err := syscallPrograms(rows, raw.ok, func(group, event string) bool { return haveTracepoint(events, group, event) }, s.log)
	if err != nil {
		return err
	}
	progs = append(progs, tps...)
	hook, err := s.chooseFileOpenHook(cfg.FileOpenHook)
	if err != nil {
		return err
	}
	if hook != "" && raw.ok && !raw.taskPtRegs {
		// The hook asks bpf_task_pt_regs which syscall it runs in, to
		// leave the raw program's opens to it.
		err := errors.New("beside the raw sys_exit program it needs the bpf_task_pt_regs helper (Linux 5.15)")
		if cfg.FileOpenHook != FileOpenHookAuto {
			return &ProbeError{Missing: ErrNoHook, Hint: "the requested " + hook + " file_open hook cannot run on this kernel", Err: err}
		}
		s.log.Info("optional file_open hook unavailable", "hook", hook, "reason", err)
		s.fileOpenErr, hook = err, ""
	}
	if hook != "" {
		name := bpf.VigilProgFentryFileOpen
		if hook == FileOpenHookLSM {
			name = bpf.VigilProgLsmFileOpen
		}
		progs = append(progs, program{name: name, kind: hook, event: "file_open"})
	}

	if s.iouringErr = ProbeIOURing(); s.iouringErr != nil {
		s.log.Info("io_uring tracepoints unavailable: no iouring events (rings and their requests are not seen)", "reason", s.iouringErr)
	} else {
		progs = append(progs,
			program{name: bpf.VigilProgIouringCreate, kind: "tp_btf", event: "io_uring_create"},
			program{name: bpf.VigilProgIouringSubmit, kind: "tp_btf", event: "io_uring_submit_req"})
	}

	for name := range spec.Programs {
		if !slices.ContainsFunc(progs, func(p program) bool { return p.name == name }) {
			delete(spec.Programs, name)
		}
	}
	spec.Maps[bpf.VigilMapEvents].MaxEntries = uint32(cfg.RingBufferSize)
	if err := spec.Variables[bpf.VigilVarSelfTgid].Set(uint32(os.Getpid())); err != nil {
		return fmt.Errorf("setting self_tgid: %w", err)
	}
	if err := spec.Variables[bpf.VigilVarWakeupBytes].Set(uint64(cfg.RingBufferSize / 4)); err != nil {
		return fmt.Errorf("setting wakeup_bytes: %w", err)
	}
	if err := spec.Variables[bpf.VigilVarRawSyscalls].Set(uint32(btoi(raw.ok))); err != nil {
		return fmt.Errorf("setting raw_syscalls: %w", err)
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{})
	if err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			s.log.Error("verifier rejected a program", "log", fmt.Sprintf("%+v", verr))
		}
		return fmt.Errorf("loading programs: %w", err)
	}
	s.coll = coll
	s.kindsMap = coll.Maps[bpf.VigilMapKinds]
	s.counters = coll.Maps[bpf.VigilMapCounters]
	if err := s.setKinds(cfg.Kinds); err != nil {
		return err
	}
	s.reader, err = ringbuf.NewReader(coll.Maps[bpf.VigilMapEvents])
	if err != nil {
		return fmt.Errorf("opening ring buffer reader: %w", err)
	}
	for _, p := range progs {
		if err := s.attach(p, coll.Programs[p.name]); err != nil {
			return err
		}
	}
	s.dec.own = collectOwn(coll, s.links)
	return nil
}

// syscallHooks is chooseSyscallHooks's answer: whether the raw sys_exit
// program traces the syscalls hooked raw, and what probeRawSyscalls found.
type syscallHooks struct {
	rawHooks
	ok bool
}

// chooseSyscallHooks decides whether the raw sys_exit program traces the
// syscalls hooked raw, and which of its variants (rawRead: the one with
// helper reads, wherever). Auto takes it where probeRawSyscalls finds what
// it needs; after that, a failure to load it is a real error, not a reason
// to fall back.
func (s *Sensor) chooseSyscallHooks(want string, rawRead bool) (syscallHooks, error) {
	switch want {
	case SyscallHooksTracepoint:
		s.rawErr = errors.New("disabled by configuration")
		return syscallHooks{}, nil
	case SyscallHooksAuto, SyscallHooksRaw:
	default:
		return syscallHooks{}, fmt.Errorf("unknown syscall hooks %q", want)
	}
	h, err := probeRawSyscalls()
	if err != nil {
		if want == SyscallHooksRaw {
			return syscallHooks{}, &ProbeError{Missing: ErrNoHook, Hint: "the raw sys_exit program needs x86-64 and a kernel with BTF", Err: err}
		}
		s.log.Info("raw syscall hook unavailable, using the syscalls tracepoints", "reason", err)
		s.rawErr = err
		return syscallHooks{}, nil
	}
	s.rawSyscalls = true
	s.rawDirect = h.direct && !rawRead
	return syscallHooks{rawHooks: h, ok: true}, nil
}

// CompatErr says why the sensor does not see 32-bit syscalls (ia32
// processes, and int $0x80 from 64-bit ones): the syscalls tracepoints
// skip them, and only the raw sys_exit program, on x86-64, reports them.
// It is nil when they are seen. Execs of 32-bit programs are seen either
// way (event.Process.Compat).
func (s *Sensor) CompatErr() error {
	if s.rawSyscalls {
		return nil
	}
	return fmt.Errorf("the syscalls tracepoints do not fire for 32-bit syscalls, and the raw sys_exit program is not used: %w", s.rawErr)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// chooseFileOpenHook picks the optional file_open hook. A hook is used only
// where a do-nothing program of its kind loads and attaches; after that, a
// failure to load the real one is a real error.
func (s *Sensor) chooseFileOpenHook(want string) (string, error) {
	var candidates []string
	switch want {
	case FileOpenHookAuto:
		candidates = []string{FileOpenHookFentry, FileOpenHookLSM}
	case FileOpenHookFentry, FileOpenHookLSM:
		candidates = []string{want}
	case FileOpenHookNone:
		s.fileOpenErr = errors.New("disabled by configuration")
		return "", nil
	default:
		return "", fmt.Errorf("unknown file_open hook %q", want)
	}
	var errs []error
	for _, kind := range candidates {
		err := probeFileOpenHook(kind)
		if err == nil {
			return kind, nil
		}
		s.log.Info("optional file_open hook unavailable", "hook", kind, "reason", err)
		errs = append(errs, fmt.Errorf("%s: %w", kind, err))
	}
	s.fileOpenErr = errors.Join(errs...)
	if want != FileOpenHookAuto {
		return "", &ProbeError{Missing: ErrNoHook, Hint: "the requested " + want + " file_open hook does not load on this kernel", Err: s.fileOpenErr}
	}
	return "", nil
}

func (s *Sensor) attach(p program, prog *ebpf.Program) error {
	var (
		l    link.Link
		err  error
		hook string
	)
	switch p.kind {
	case "tp_btf":
		hook = "tp_btf/" + p.event
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	case "tracepoint":
		hook = "tracepoint/" + p.group + "/" + p.event
		l, err = link.Tracepoint(p.group, p.event, prog, nil)
	case FileOpenHookFentry:
		hook = "fentry/security_file_open"
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	case FileOpenHookLSM:
		hook = "lsm/file_open"
		l, err = link.AttachLSM(link.LSMOptions{Program: prog})
	}
	if err != nil {
		return fmt.Errorf("attaching %s: %w", hook, err)
	}
	s.links = append(s.links, l)
	s.hooks = append(s.hooks, hook)
	return nil
}

// IOURingErr says why the sensor sees no io_uring events (the kernel lacks
// the io_uring tracepoints it reads), nil when it sees them.
func (s *Sensor) IOURingErr() error { return s.iouringErr }

// Hooks returns the kernel hooks the sensor attached, such as
// "tp_btf/sched_process_exec" or "lsm/file_open".
func (s *Sensor) Hooks() []string { return slices.Clone(s.hooks) }

// Table returns the process table. It belongs to Run's goroutine: read it
// only from the handler, or once Run has returned.
func (s *Sensor) Table() *ProcessTable { return s.table }

// SetKinds changes the kinds delivered to the handler and produced in the
// kernel, effective at once; see Config.Kinds.
func (s *Sensor) SetKinds(k [event.NumKinds]bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	return s.setKinds(k)
}

func (s *Sensor) setKinds(k [event.NumKinds]bool) error {
	var mask uint32
	for kind, on := range k {
		if on && kind != int(event.KindUnknown) {
			mask |= 1 << kind
		}
	}
	for kind := range k {
		if err := s.kindsMap.Update(uint32(kind), kernelKind(mask, event.Kind(kind)), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("updating kinds map: %w", err)
		}
	}
	s.deliver.Store(mask)
	return nil
}

// kernelKind is the kinds map's value for kind when the kinds of deliver
// are delivered: 1 to trace it. The process table needs exec, fork and
// exit whatever is delivered, and the changes of credentials, without
// which a process's later events would carry its old uid and capabilities.
func kernelKind(deliver uint32, kind event.Kind) uint32 {
	if kind == event.KindUnknown {
		return 0
	}
	if deliver&(1<<kind) != 0 || kind == event.KindExec || kind == event.KindFork || kind == event.KindExit ||
		kind == event.KindCred {
		return 1
	}
	return 0
}

// Stats returns the counters. It reads the kernel's per-CPU counters, so it
// is meant for periodic reporting, not for every event. After Close it
// returns the counters as they were once the ring buffer was drained.
func (s *Sensor) Stats() Stats {
	var st Stats
	kernel := s.kernelCounts()
	for k := range st.Kinds {
		ks := &st.Kinds[k]
		ks.Delivered = s.delivered[k].Load()
		ks.Skipped = s.skipped[k].Load()
		ks.Failed = s.failed[k].Load()
		if k < len(kernel) {
			ks.Emitted, ks.Dropped, ks.Filtered = kernel[k].emitted, kernel[k].dropped, kernel[k].filtered
		}
	}
	for r := range st.DecodeErrors {
		st.DecodeErrors[r] = s.decodeErr[r].Load()
	}
	if s.table != nil {
		st.Processes = s.table.Len()
		st.ProcessesEvicted = s.table.Evicted()
		st.ProcessMisses = s.table.Misses()
	}
	return st
}

// kernelCounts reads the kernel counters of every kind, or returns those
// saved by Close.
func (s *Sensor) kernelCounts() []kernelCounts {
	s.kmu.Lock()
	defer s.kmu.Unlock()
	if s.final != nil {
		return s.final
	}
	return s.observeCounters()
}

// readKernelCounts reads the kernel counters as they are; s.kmu is held.
func (s *Sensor) readKernelCounts() []kernelCounts {
	out := make([]kernelCounts, event.NumKinds)
	if s.counters == nil {
		return out
	}
	var percpu []bpf.VigilKindCounters
	for k := range out {
		if s.counters.Lookup(uint32(k), &percpu) != nil {
			continue
		}
		for _, c := range percpu {
			out[k].emitted += c.Emitted
			out[k].dropped += c.Dropped
			out[k].filtered += c.Filtered
		}
	}
	return out
}

// Run reads records until ctx is done or Close is called, and calls handle
// for each event of a selected kind, synchronously and with one Event that
// is reused: handle must copy what it keeps (the Process is immutable and
// may be kept). On shutdown it drains what the ring buffer holds, then
// returns nil. A Sensor runs once; the process table belongs to Run's
// goroutine while it runs.
func (s *Sensor) Run(ctx context.Context, handle func(*event.Event)) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return os.ErrClosed
	case s.running:
		s.mu.Unlock()
		return ErrRunning
	}
	s.running = true
	s.runDone = make(chan struct{})
	s.mu.Unlock()
	defer close(s.runDone)

	stop := context.AfterFunc(ctx, s.stop)
	defer stop()

	var (
		rec       ringbuf.Record
		r         Record
		lastClock = time.Now()
	)
	s.reader.SetDeadline(time.Now().Add(s.poll))
	for {
		err := s.reader.ReadInto(&rec)
		switch {
		case err == nil:
			s.process(rec.RawSample, &r, handle)
		case errors.Is(err, os.ErrDeadlineExceeded):
			if s.stopping.Load() {
				return nil
			}
			now := time.Now()
			if now.Sub(lastClock) >= time.Second {
				// Follow clock steps (NTP, settimeofday).
				lastClock = now
				s.dec.BootOffset = procfs.BootOffset()
				s.table.SetBootOffset(s.dec.BootOffset)
				s.sweepAfterLoss()
			}
			s.reader.SetDeadline(now.Add(s.poll))
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, ringbuf.ErrClosed):
			return nil
		default:
			return fmt.Errorf("reading ring buffer: %w", err)
		}
	}
}

// sweepAfterLoss sweeps the process table when exit records were lost
// since the last sweep: their processes would otherwise linger in it. It
// runs on Run's goroutine while the ring buffer is idle.
func (s *Sensor) sweepAfterLoss() {
	exit := event.KindExit
	lost := s.kernelCounts()[exit].dropped + s.failed[exit].Load()
	if lost == s.exitLoss {
		return
	}
	s.exitLoss = lost
	if n := s.table.Sweep(); n > 0 {
		s.log.Info("removed exited processes whose exit record was lost", "processes", n)
	}
}

// stop makes Run drain the ring buffer and return.
func (s *Sensor) stop() {
	s.stopping.Store(true)
	if err := s.reader.Flush(); err != nil {
		s.log.Warn("flushing ring buffer reader", "error", err)
	}
}

// process is the hot path: decode, process table, handler.
func (s *Sensor) process(raw []byte, r *Record, handle func(*event.Event)) {
	if err := s.dec.Decode(raw, r); err != nil {
		s.countDecodeError(err)
		return
	}
	s.table.Apply(r)
	kind := r.Event.Type.Kind()
	if s.deliver.Load()&(1<<kind) != 0 {
		s.seq++
		r.Event.Num = s.seq
		s.delivered[kind].Add(1)
		handle(&r.Event)
	} else {
		s.skipped[kind].Add(1)
	}
	s.table.Release(r)
}

// countDecodeError counts a record Decode rejected, by reason and, when its
// header named a known type, by kind.
func (s *Sensor) countDecodeError(err error) {
	reason, kind := DecodeShort, event.KindUnknown
	var de *DecodeError
	if errors.As(err, &de) {
		if de.Reason > 0 && de.Reason < numDecodeReasons {
			reason = de.Reason
		}
		kind = recordKind(de.Type)
	}
	s.decodeErr[reason].Add(1)
	s.failed[kind].Add(1)
}

// Close detaches the programs, lets a running Run drain the ring buffer and
// return, and frees everything. It is safe to call more than once.
func (s *Sensor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.closeDone
		return s.closeErr
	}
	s.closed = true
	running, done := s.running, s.runDone
	s.mu.Unlock()

	errs := []error{closeLinks(s.links)}
	s.links = nil
	if running {
		s.stop()
		<-done
	}
	final := s.kernelCounts()
	s.kmu.Lock()
	s.final = final
	errs = append(errs, s.closeObjects())
	s.kmu.Unlock()
	s.closeErr = errors.Join(errs...)
	close(s.closeDone)
	return s.closeErr
}

// closeLinks detaches links concurrently: each tracepoint detach waits for
// an RCU grace period (tens of ms), which would otherwise add up to most of
// a second.
func closeLinks(links []link.Link) error {
	errs := make([]error, len(links))
	var wg sync.WaitGroup
	for i, l := range links {
		wg.Go(func() { errs[i] = l.Close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Sensor) closeObjects() error {
	errs := []error{closeLinks(s.links)}
	s.links = nil
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
		s.reader = nil
	}
	if s.coll != nil {
		s.coll.Close()
		s.coll = nil
	}
	return errors.Join(errs...)
}
