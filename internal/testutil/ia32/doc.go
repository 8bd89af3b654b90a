// Package ia32 makes 32-bit x86 (ia32) system calls from a 64-bit process,
// through int $0x80, and builds 32-bit programs that make them, for tests
// of the kernel's compat syscall paths: the syscalls tracepoints skip those
// calls, and vigil's raw sys_exit program must not. It exists on amd64
// only; elsewhere it is empty.
package ia32
