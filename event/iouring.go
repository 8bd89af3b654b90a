package event

import "strconv"

// IOUring is the payload of io_uring_setup (a process created a ring) and
// io_uring_submit (it submitted a request of an opcode the sensor reports).
// They come from the io_uring tracepoints, not from syscalls: a request
// runs without a syscall of its own, so no open, connect or unlink event
// reports what it does.
type IOUring struct {
	// Op is the request's opcode (IORING_OP_*); 0 for a setup.
	Op uint8
	// Flags are the setup's IORING_SETUP_* flags, or the request's open
	// flags (O_*; openat2: how.flags), AT_* (unlinkat, linkat) or
	// RENAME_* (renameat) flags.
	Flags uint32
	// Mode is an open's or mkdirat's mode.
	Mode uint32
	// SQEntries and CQEntries are a setup's ring sizes.
	SQEntries, CQEntries uint32
	// FD1 is the dirfd of Path1, or the descriptor the request acts on
	// (connect, accept, send, ...); FD2 the dirfd of Path2; a setup's FD1
	// is its ring's fd. AT_FDCWD (-100) when the request has none.
	FD1, FD2 int32
	// Path1 and Path2 are the request's paths, made absolute against the
	// directory the kernel resolved for them (the dirfd's or the cwd),
	// ".." folded and symlinks not followed: the file the request
	// names, before it runs. Path1 is openat's, unlinkat's, mkdirat's
	// path, renameat's and linkat's old path, symlinkat's target (kept as
	// the caller passed it, since it is the link's content); Path2 the new
	// path of renameat, linkat and symlinkat.
	Path1, Path2 []byte
	// Truncated1 and Truncated2 are set when a bound cut a path.
	Truncated1, Truncated2 bool
	// SQThread is set when the ring's SQPOLL thread, not a syscall of one
	// of the process's threads, submitted the request.
	SQThread bool
	// FixedFile is set when FD1 is an index in the ring's registered
	// files (IOSQE_FIXED_FILE), not a descriptor.
	FixedFile bool
}

// keep makes u an empty payload that reuses the buffers of old.
func (u *IOUring) keep(old IOUring) {
	u.Path1, u.Path2 = old.Path1[:0], old.Path2[:0]
}

// IOURingKeySetup is the io_uring kind's filter key of a setup
// (bpf/events.h, enum iouring_filter_key; the sensor checks it); a
// request's key is its opcode.
const IOURingKeySetup = 63

// IOURingKey is the filter key of an io_uring event, as bpf/kinds/iouring.h
// computes it.
func IOURingKey(e *Event) int {
	if e.Type == TypeIOUringSetup {
		return IOURingKeySetup
	}
	return int(e.IOUring.Op)
}

// ioURingOps names the opcodes as include/uapi/linux/io_uring.h does.
var ioURingOps = [...]string{
	"IORING_OP_NOP", "IORING_OP_READV", "IORING_OP_WRITEV", "IORING_OP_FSYNC", "IORING_OP_READ_FIXED",
	"IORING_OP_WRITE_FIXED", "IORING_OP_POLL_ADD", "IORING_OP_POLL_REMOVE", "IORING_OP_SYNC_FILE_RANGE",
	"IORING_OP_SENDMSG", "IORING_OP_RECVMSG", "IORING_OP_TIMEOUT", "IORING_OP_TIMEOUT_REMOVE",
	"IORING_OP_ACCEPT", "IORING_OP_ASYNC_CANCEL", "IORING_OP_LINK_TIMEOUT", "IORING_OP_CONNECT",
	"IORING_OP_FALLOCATE", "IORING_OP_OPENAT", "IORING_OP_CLOSE", "IORING_OP_FILES_UPDATE", "IORING_OP_STATX",
	"IORING_OP_READ", "IORING_OP_WRITE", "IORING_OP_FADVISE", "IORING_OP_MADVISE", "IORING_OP_SEND",
	"IORING_OP_RECV", "IORING_OP_OPENAT2", "IORING_OP_EPOLL_CTL", "IORING_OP_SPLICE",
	"IORING_OP_PROVIDE_BUFFERS", "IORING_OP_REMOVE_BUFFERS", "IORING_OP_TEE", "IORING_OP_SHUTDOWN",
	"IORING_OP_RENAMEAT", "IORING_OP_UNLINKAT", "IORING_OP_MKDIRAT", "IORING_OP_SYMLINKAT", "IORING_OP_LINKAT",
	"IORING_OP_MSG_RING", "IORING_OP_FSETXATTR", "IORING_OP_SETXATTR", "IORING_OP_FGETXATTR",
	"IORING_OP_GETXATTR", "IORING_OP_SOCKET", "IORING_OP_URING_CMD", "IORING_OP_SEND_ZC",
	"IORING_OP_SENDMSG_ZC", "IORING_OP_READ_MULTISHOT", "IORING_OP_WAITID", "IORING_OP_FUTEX_WAIT",
	"IORING_OP_FUTEX_WAKE", "IORING_OP_FUTEX_WAITV", "IORING_OP_FIXED_FD_INSTALL", "IORING_OP_FTRUNCATE",
	"IORING_OP_BIND", "IORING_OP_LISTEN", "IORING_OP_RECV_ZC", "IORING_OP_EPOLL_WAIT",
	"IORING_OP_READV_FIXED", "IORING_OP_WRITEV_FIXED", "IORING_OP_PIPE",
}

// IOURingOpName is opcode op's uapi name (IORING_OP_OPENAT), or op as a
// number for an opcode newer than this list.
func IOURingOpName(op uint8) string {
	if int(op) < len(ioURingOps) {
		return ioURingOps[op]
	}
	return strconv.Itoa(int(op))
}

// IOURingOpByName is the opcode named name; ok is false for a name that is
// no opcode.
func IOURingOpByName(name string) (op uint8, ok bool) {
	for i, n := range ioURingOps {
		if n == name {
			return uint8(i), true
		}
	}
	return 0, false
}
