package ia32

// ia32 system call numbers (arch/x86/entry/syscalls/syscall_32.tbl).
const (
	SysOpen    = 5
	SysCreat   = 8
	SysOpenat  = 295
	SysConnect = 362
	SysSendmsg = 370
	SysRecvmsg = 372
	SysOpenat2 = 437

	sysExit = 1
)

// Syscall makes ia32 system call trap with a1..a4 in ebx, ecx, edx and esi
// and returns eax: a result, or a negative errno. The kernel sees 32-bit
// registers only, so pointers must point below 4 GiB (unix.MAP_32BIT
// memory). A kernel without ia32 emulation (CONFIG_IA32_EMULATION, or
// ia32_emulation=false) either returns -ENOSYS or kills the caller with
// SIGSEGV, so probe it in a child process.
//
// The Go runtime is not told of the call, which blocks its thread and P:
// use it for calls that return at once.
func Syscall(trap, a1, a2, a3, a4 uint32) int32
