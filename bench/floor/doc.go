// Package floor is the benchmark's eBPF floor: the least a tracer can do on
// the hooks vigil's sensor uses, measured in the same run as vigil so its
// overhead can be read against the kernel's own price for tracing.
//
// Two modes load the same object (floor.bpf.c, compiled by bpf2go):
// [ModeCounter] only bumps a per-CPU counter per hook; [ModeRingbuf] also
// submits a 16-byte ring-buffer record per event with BPF_RB_NO_WAKEUP,
// drained by a Go reader that polls every [PollInterval].
//
// The hooks are the sensor's for the syscalls the benchmark's loops issue:
// the execve tracepoint pair and tp_btf sched_process_fork, exec and exit
// always; for openat, connect, fchmodat, renameat, unlinkat, sendto,
// recvfrom and dup2, either one program on the raw sys_exit tracepoint,
// which runs at every syscall's exit and picks these by number, or their
// sys_enter/sys_exit tracepoint pairs. [HooksAuto] takes what the sensor
// takes on the machine (sensor.RawSyscallHooksAvailable), so the floor of
// each loop is the kernel's price for observing its syscalls the way vigil
// does. Records are emitted where the sensor emits events: the syscalls'
// exits and the three sched hooks.
package floor
