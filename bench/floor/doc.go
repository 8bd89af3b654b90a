// Package floor is the benchmark's eBPF floor: the least a tracer can do on
// the hooks vigil's sensor uses, measured in the same run as vigil so its
// overhead can be read against the kernel's own price for tracing.
//
// Two modes load the same object (floor.bpf.c, compiled by bpf2go):
// [ModeCounter] only bumps a per-CPU counter per hook; [ModeRingbuf] also
// submits a 16-byte ring-buffer record per event with BPF_RB_NO_WAKEUP,
// drained by a Go reader that polls every [PollInterval]. The hooks are the
// sensor's: the sys_enter/sys_exit tracepoints of openat, connect and
// execve, and tp_btf sched_process_fork, exec and exit. Records are emitted
// where the sensor emits events: the openat and connect exits and the three
// sched hooks.
package floor
