package sensor

import "github.com/vigil-sensor/vigil/event"

// Questions about the sensor's choices that tools outside it ask without
// starting one.

// RawSyscallHooksAvailable reports whether SyscallHooksAuto takes the raw
// sys_exit program on this machine (nil), or why it falls back to the
// syscalls tracepoints. Tools that must hook what the sensor hooks, such as
// the benchmark's eBPF floor, ask it.
func RawSyscallHooksAvailable() error {
	_, err := probeRawSyscalls()
	return err
}

// AlwaysTraced reports whether the kernel emits events of kind even when no
// rule or output needs them: the process table needs exec, fork, exit and
// the changes of credentials.
func AlwaysTraced(kind event.Kind) bool { return kernelKind(0, kind) == 1 }
