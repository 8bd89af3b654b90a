package floor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/vigil-sensor/vigil/sensor"
)

// Mode selects what the floor's programs do per event.
type Mode string

// The floor's modes.
const (
	// ModeCounter bumps a per-CPU counter per hook and nothing else.
	ModeCounter Mode = "counter"
	// ModeRingbuf also submits a record per event without waking the
	// reader, which polls.
	ModeRingbuf Mode = "ringbuf"
)

// ParseMode maps a mode's name to the Mode.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeCounter, ModeRingbuf:
		return m, nil
	}
	return "", fmt.Errorf("unknown floor mode %q (want %q or %q)", s, ModeCounter, ModeRingbuf)
}

// Hooks selects how the floor hooks the loops' syscalls, with the values of
// vigil run's --syscall-hooks.
type Hooks string

// The floor's syscall hooks.
const (
	// HooksAuto takes what the sensor takes on this machine: HooksRaw
	// where sensor.RawSyscallHooksAvailable, else HooksTracepoint.
	HooksAuto Hooks = ""
	// HooksRaw is one program on the raw sys_exit tracepoint for every
	// syscall but execve, which keeps its tracepoints (as in the sensor).
	HooksRaw Hooks = "raw"
	// HooksTracepoint is the sys_enter/sys_exit tracepoint pair of each
	// syscall.
	HooksTracepoint Hooks = "tracepoint"
)

// ParseHooks maps a name ("auto" or empty, "raw", "tracepoint") to Hooks.
func ParseHooks(s string) (Hooks, error) {
	switch s {
	case "", "auto":
		return HooksAuto, nil
	case string(HooksRaw), string(HooksTracepoint):
		return Hooks(s), nil
	}
	return "", fmt.Errorf("unknown floor hooks %q (want auto, %q or %q)", s, HooksRaw, HooksTracepoint)
}

// PollInterval is how long the reader sleeps in epoll between drains of the
// ring buffer. Records are submitted without wakeup, so this is the only
// thing that wakes it.
const PollInterval = 10 * time.Millisecond

// Hook is one kernel hook of the floor, in the order of its counters map.
type Hook uint32

// The hooks, from floor.bpf.c's enum hook.
const (
	HookOpenatEnter   = Hook(floorHookHOOK_OPENAT_ENTER)
	HookOpenatExit    = Hook(floorHookHOOK_OPENAT_EXIT)
	HookConnectEnter  = Hook(floorHookHOOK_CONNECT_ENTER)
	HookConnectExit   = Hook(floorHookHOOK_CONNECT_EXIT)
	HookExecveEnter   = Hook(floorHookHOOK_EXECVE_ENTER)
	HookExecveExit    = Hook(floorHookHOOK_EXECVE_EXIT)
	HookFork          = Hook(floorHookHOOK_FORK)
	HookExec          = Hook(floorHookHOOK_EXEC)
	HookExit          = Hook(floorHookHOOK_EXIT)
	HookFchmodatEnter = Hook(floorHookHOOK_FCHMODAT_ENTER)
	HookFchmodatExit  = Hook(floorHookHOOK_FCHMODAT_EXIT)
	HookRenameatEnter = Hook(floorHookHOOK_RENAMEAT_ENTER)
	HookRenameatExit  = Hook(floorHookHOOK_RENAMEAT_EXIT)
	HookUnlinkatEnter = Hook(floorHookHOOK_UNLINKAT_ENTER)
	HookUnlinkatExit  = Hook(floorHookHOOK_UNLINKAT_EXIT)
	HookSendtoEnter   = Hook(floorHookHOOK_SENDTO_ENTER)
	HookSendtoExit    = Hook(floorHookHOOK_SENDTO_EXIT)
	HookRecvfromEnter = Hook(floorHookHOOK_RECVFROM_ENTER)
	HookRecvfromExit  = Hook(floorHookHOOK_RECVFROM_EXIT)
	HookDup2Enter     = Hook(floorHookHOOK_DUP2ENTER)
	HookDup2Exit      = Hook(floorHookHOOK_DUP2EXIT)
	// NumHooks is the number of hooks, for tables indexed by Hook.
	NumHooks = int(floorHookNUM_HOOKS)
)

var hookNames = [NumHooks]string{
	HookOpenatEnter:   "openat_enter",
	HookOpenatExit:    "openat_exit",
	HookConnectEnter:  "connect_enter",
	HookConnectExit:   "connect_exit",
	HookExecveEnter:   "execve_enter",
	HookExecveExit:    "execve_exit",
	HookFork:          "fork",
	HookExec:          "exec",
	HookExit:          "exit",
	HookFchmodatEnter: "fchmodat_enter",
	HookFchmodatExit:  "fchmodat_exit",
	HookRenameatEnter: "renameat_enter",
	HookRenameatExit:  "renameat_exit",
	HookUnlinkatEnter: "unlinkat_enter",
	HookUnlinkatExit:  "unlinkat_exit",
	HookSendtoEnter:   "sendto_enter",
	HookSendtoExit:    "sendto_exit",
	HookRecvfromEnter: "recvfrom_enter",
	HookRecvfromExit:  "recvfrom_exit",
	HookDup2Enter:     "dup2_enter",
	HookDup2Exit:      "dup2_exit",
}

// String returns the hook's name as used in [Report.Hooks].
func (h Hook) String() string {
	if int(h) < NumHooks {
		return hookNames[h]
	}
	return fmt.Sprintf("hook%d", uint32(h))
}

// HookStats are one hook's figures over a run.
type HookStats struct {
	// Hits counts program runs on all CPUs, system-wide.
	Hits uint64 `json:"hits"`
	// Drops counts records lost to a full ring buffer.
	Drops uint64 `json:"drops"`
	// Records counts records the reader consumed (ringbuf mode).
	Records uint64 `json:"records"`
	// Matched counts the records caused by the watched process: its own
	// syscalls and forks, and the execs and exits of its children.
	Matched uint64 `json:"matched"`
}

// Report is what a floor run observed, printed as JSON by the floor command.
type Report struct {
	Mode Mode `json:"mode"`
	// SyscallHooks is how the syscalls were hooked (HooksRaw or
	// HooksTracepoint).
	SyscallHooks Hooks `json:"syscall_hooks"`
	// PID is the watched process (0: none).
	PID   uint32               `json:"pid"`
	Hooks map[string]HookStats `json:"hooks"`
}

// Floor is the loaded and attached floor object.
type Floor struct {
	mode   Mode
	hooks  Hooks
	objs   floorObjects
	links  []link.Link
	reader *ringbuf.Reader
}

// attachment is one program and where it goes: a tracepoint (group and
// name) or, with an empty group, a BTF-typed raw tracepoint (tp_btf), whose
// target the program's section names.
type attachment struct {
	group, name string
	prog        *ebpf.Program
}

// attachments lists the floor's programs for hooks, on the hooks vigil's
// sensor uses: the sched tracepoints and execve's pair always, the other
// syscalls by their pairs or by the raw sys_exit program.
func (o *floorObjects) attachments(hooks Hooks) []attachment {
	as := []attachment{
		{"syscalls", "sys_enter_execve", o.FloorExecveEnter},
		{"syscalls", "sys_exit_execve", o.FloorExecveExit},
		{"", "sched_process_fork", o.FloorFork},
		{"", "sched_process_exec", o.FloorExec},
		{"", "sched_process_exit", o.FloorExit},
	}
	if hooks == HooksRaw {
		return append(as, attachment{"", "sys_exit", o.FloorSysExit})
	}
	return append(as,
		attachment{"syscalls", "sys_enter_openat", o.FloorOpenatEnter},
		attachment{"syscalls", "sys_exit_openat", o.FloorOpenatExit},
		attachment{"syscalls", "sys_enter_connect", o.FloorConnectEnter},
		attachment{"syscalls", "sys_exit_connect", o.FloorConnectExit},
		attachment{"syscalls", "sys_enter_fchmodat", o.FloorFchmodatEnter},
		attachment{"syscalls", "sys_exit_fchmodat", o.FloorFchmodatExit},
		attachment{"syscalls", "sys_enter_renameat", o.FloorRenameatEnter},
		attachment{"syscalls", "sys_exit_renameat", o.FloorRenameatExit},
		attachment{"syscalls", "sys_enter_unlinkat", o.FloorUnlinkatEnter},
		attachment{"syscalls", "sys_exit_unlinkat", o.FloorUnlinkatExit},
		attachment{"syscalls", "sys_enter_sendto", o.FloorSendtoEnter},
		attachment{"syscalls", "sys_exit_sendto", o.FloorSendtoExit},
		attachment{"syscalls", "sys_enter_recvfrom", o.FloorRecvfromEnter},
		attachment{"syscalls", "sys_exit_recvfrom", o.FloorRecvfromExit},
		attachment{"syscalls", "sys_enter_dup2", o.FloorDup2Enter},
		attachment{"syscalls", "sys_exit_dup2", o.FloorDup2Exit},
	)
}

func (a attachment) attach() (link.Link, error) {
	if a.group == "" {
		return link.AttachTracing(link.TracingOptions{Program: a.prog})
	}
	return link.Tracepoint(a.group, a.name, a.prog, nil)
}

// Open loads the floor in mode and attaches its programs as hooks says
// (HooksAuto: as the sensor would here). The caller must Close it.
func Open(mode Mode, hooks Hooks) (*Floor, error) {
	if _, err := ParseMode(string(mode)); err != nil {
		return nil, err
	}
	switch hooks {
	case HooksAuto:
		hooks = HooksTracepoint
		if sensor.RawSyscallHooksAvailable() == nil {
			hooks = HooksRaw
		}
	case HooksRaw:
		if err := sensor.RawSyscallHooksAvailable(); err != nil {
			return nil, fmt.Errorf("raw sys_exit hooks: %w", err)
		}
	case HooksTracepoint:
	default:
		return nil, fmt.Errorf("unknown floor hooks %q", hooks)
	}
	// A no-op where the kernel accounts BPF memory to the cgroup (>= 5.11).
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("removing memlock limit: %w", err)
	}
	spec, err := loadFloor()
	if err != nil {
		return nil, fmt.Errorf("loading floor spec: %w", err)
	}
	emit := uint32(0)
	if mode == ModeRingbuf {
		emit = 1
	}
	if err := spec.Variables[floorVarEmitRecords].Set(emit); err != nil {
		return nil, fmt.Errorf("setting emit_records: %w", err)
	}
	f := &Floor{mode: mode, hooks: hooks}
	if err := spec.LoadAndAssign(&f.objs, nil); err != nil {
		return nil, fmt.Errorf("loading floor objects: %w", err)
	}
	for _, a := range f.objs.attachments(hooks) {
		l, err := a.attach()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("attaching %s: %w", a.name, err)
		}
		f.links = append(f.links, l)
	}
	if mode == ModeRingbuf {
		f.reader, err = ringbuf.NewReader(f.objs.Records)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening ring buffer reader: %w", err)
		}
	}
	return f, nil
}

// SyscallHooks returns how the floor hooked the syscalls: HooksRaw or
// HooksTracepoint.
func (f *Floor) SyscallHooks() Hooks { return f.hooks }

// Run consumes records (ringbuf mode) until ctx is done, drains what is
// left, and reports the counters and records, attributing records to pid.
// In counter mode it only waits for ctx.
func (f *Floor) Run(ctx context.Context, pid uint32) (Report, error) {
	var records, matched [NumHooks]uint64
	if f.reader != nil {
		if err := f.consume(ctx, pid, &records, &matched); err != nil {
			return Report{}, err
		}
	} else {
		<-ctx.Done()
	}
	counts, err := f.counts()
	if err != nil {
		return Report{}, err
	}
	r := Report{Mode: f.mode, SyscallHooks: f.hooks, PID: pid, Hooks: make(map[string]HookStats, NumHooks)}
	for h := range NumHooks {
		r.Hooks[Hook(h).String()] = HookStats{
			Hits:    counts[h].Hits,
			Drops:   counts[h].Drops,
			Records: records[h],
			Matched: matched[h],
		}
	}
	return r, nil
}

// consume drains the ring every PollInterval until ctx is done, then once
// more without waiting.
func (f *Floor) consume(ctx context.Context, pid uint32, records, matched *[NumHooks]uint64) error {
	var rec ringbuf.Record
	for {
		done := ctx.Err() != nil
		if done {
			f.reader.SetDeadline(time.Now())
		} else {
			f.reader.SetDeadline(time.Now().Add(PollInterval))
		}
		for {
			err := f.reader.ReadInto(&rec)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return fmt.Errorf("reading ring buffer: %w", err)
			}
			count(rec.RawSample, pid, records, matched)
		}
		if done {
			return nil
		}
	}
}

// recordSize is sizeof(struct record).
const recordSize = 16

// count tallies one raw record, ignoring any that is short or names an
// unknown hook.
func count(raw []byte, pid uint32, records, matched *[NumHooks]uint64) {
	if len(raw) < recordSize {
		return
	}
	hook := Hook(binary.NativeEndian.Uint32(raw[0:]))
	if int(hook) >= NumHooks {
		return
	}
	records[hook]++
	owner := binary.NativeEndian.Uint32(raw[4:]) // tgid
	if hook == HookExec || hook == HookExit {
		owner = binary.NativeEndian.Uint32(raw[8:]) // ptgid
	}
	if pid != 0 && owner == pid {
		matched[hook]++
	}
}

// counts sums the per-CPU counters of every hook.
func (f *Floor) counts() ([NumHooks]floorCounter, error) {
	var sums [NumHooks]floorCounter
	var perCPU []floorCounter
	for h := range NumHooks {
		if err := f.objs.Counts.Lookup(uint32(h), &perCPU); err != nil {
			return sums, fmt.Errorf("reading %s counters: %w", Hook(h), err)
		}
		for _, c := range perCPU {
			sums[h].Hits += c.Hits
			sums[h].Drops += c.Drops
		}
	}
	return sums, nil
}

// Close detaches and unloads everything. It is safe to call twice.
func (f *Floor) Close() error {
	var errs []error
	if f.reader != nil {
		errs = append(errs, f.reader.Close())
		f.reader = nil
	}
	for _, l := range f.links {
		errs = append(errs, l.Close())
	}
	f.links = nil
	errs = append(errs, f.objs.Close())
	f.objs = floorObjects{}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing floor: %w", err)
	}
	return nil
}
