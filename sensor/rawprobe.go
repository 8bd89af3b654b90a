package sensor

// RawSyscallHooksAvailable reports whether SyscallHooksAuto takes the raw
// sys_exit program on this machine (nil), or why it falls back to the
// syscalls tracepoints. Tools that must hook what the sensor hooks, such as
// the benchmark's eBPF floor, ask it.
func RawSyscallHooksAvailable() error { return probeRawSyscalls() }
