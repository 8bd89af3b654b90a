/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The traced syscalls, one row each. Everything vigil does per syscall
 * derives from this list: its id in records (enum syscall_id, events.h),
 * the raw sys_exit program's number lookup and register reads, the
 * tracepoint pair of the fallback (lib/dispatch.h), and which hooks the Go
 * side attaches (enum syscall_trace, read from the object's BTF).
 *
 * X(name, id, x64, ia32, kind, hook, args):
 *   name  the syscall, as in syscalls:sys_enter_<name>
 *   id    its record id, VIGIL_SYS_<id> (enum syscall_id, events.h)
 *   x64   its x86-64 number; x32 uses it with X32_SYSCALL_BIT set
 *   ia32  its i386 number (int 0x80 and 32-bit processes); NR_NONE for a
 *         syscall i386 has only through socketcall (accept)
 *   kind  the enum event_kind whose <kind>_report builds the record
 *   hook  VIGIL_HOOK_RAW: the raw sys_exit program reports it where it
 *         runs; VIGIL_HOOK_TP: it keeps its tracepoint pair everywhere
 *   args  ARGS(role of argument 0, of argument 1, ...): where each
 *         argument goes in struct sys_args (lib/syscall.h)
 *
 * Exec keeps its tracepoints: a successful exec rewrites the registers,
 * orig_ax included (x86's set_personality_64bit makes it execve's number),
 * so only the sys_enter marker tells execveat apart.
 */
#ifndef VIGIL_SYSCALL_TABLE_H
#define VIGIL_SYSCALL_TABLE_H

/* Argument roles. A new role is a field of struct sys_args and a case of
 * set_arg (lib/syscall.h). */
#define ARG_NONE 0
#define ARG_PATH 1  /* user pointer to a path; sendto's and recvfrom's data */
#define ARG_FD 2    /* the fd acted on, or the dirfd of the path */
#define ARG_FLAGS 3
#define ARG_MODE 4
#define ARG_PTR 5   /* another user pointer: open_how, sockaddr */
#define ARG_LEN 6   /* length of the ARG_PTR object */
#define ARG_PATH2 7 /* a second path: link's new name, rename's target */
#define ARG_FD2 8   /* the dirfd of ARG_PATH2, or dup2's new fd */
#define ARG_DOMAIN 9 /* socket's domain (address family) */
#define ARG_PROTO 10 /* socket's protocol */

/* No syscall of either ABI has this number (below SYSCALL_NR_MAX): the
 * number of a row the ABI lacks. At most one row per ABI may use it. */
#define NR_NONE 511
#define ARG_CMD 11  /* a request or command: ptrace, bpf */
#define ARG_ID 12   /* a pid, uid or gid; ARG_ID2 and ARG_ID3 the next ones */
#define ARG_ID2 13
#define ARG_ID3 14
#define ARG_PTR2 15 /* a second user pointer: recvfrom's address length */

/* Up to six roles, four bits each, argument 0 lowest: a constant, so each
 * row's argument reads fold into plain stores. */
#define ARGS(...) ARGS_(__VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define ARGS_(a, b, c, d, e, f, ...) ((a) | (b) << 4 | (c) << 8 | (d) << 12 | (e) << 16 | (f) << 20)
#define ARG_ROLE(args, i) (((args) >> (4 * (i))) & 15)

#define VIGIL_SYSCALLS(X)                                                                                                 \
	X(execve,   EXECVE,   59,  11,  VIGIL_KIND_EXEC,    VIGIL_HOOK_TP,  ARGS(ARG_PATH))                               \
	X(execveat, EXECVEAT, 322, 358, VIGIL_KIND_EXEC,    VIGIL_HOOK_TP,  ARGS(ARG_FD, ARG_PATH))                       \
	X(open,     OPEN,     2,   5,   VIGIL_KIND_OPEN,    VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_FLAGS, ARG_MODE))          \
	X(openat,   OPENAT,   257, 295, VIGIL_KIND_OPEN,    VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_FLAGS, ARG_MODE))  \
	X(openat2,  OPENAT2,  437, 437, VIGIL_KIND_OPEN,    VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_PTR))              \
	X(creat,    CREAT,    85,  8,   VIGIL_KIND_OPEN,    VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_MODE))                     \
	X(connect,  CONNECT,  42,  362, VIGIL_KIND_CONNECT, VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PTR, ARG_LEN))                  \
	X(symlink,   SYMLINK,   88,  83,  VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_PATH2))                   \
	X(symlinkat, SYMLINKAT, 266, 304, VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_FD2, ARG_PATH2))          \
	X(link,      LINK,      86,  9,   VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_PATH2))                   \
	X(linkat,    LINKAT,    265, 303, VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_FD2, ARG_PATH2, ARG_FLAGS)) \
	X(socket,    SOCKET,    41,  359, VIGIL_KIND_SOCKET, VIGIL_HOOK_RAW, ARGS(ARG_DOMAIN, ARG_FLAGS, ARG_PROTO))       \
	X(dup,       DUP,       32,  41,  VIGIL_KIND_DUP,    VIGIL_HOOK_RAW, ARGS(ARG_FD))                                \
	X(dup2,      DUP2,      33,  63,  VIGIL_KIND_DUP,    VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_FD2))                       \
	X(dup3,      DUP3,      292, 330, VIGIL_KIND_DUP,    VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_FD2, ARG_FLAGS)) \
	X(rename,    RENAME,    82,  38,  VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_PATH2)) \
	X(renameat,  RENAMEAT,  264, 302, VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_FD2, ARG_PATH2)) \
	X(renameat2, RENAMEAT2, 316, 353, VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_FD2, ARG_PATH2, ARG_FLAGS)) \
	X(unlink,    UNLINK,    87,  10,  VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH)) \
	X(unlinkat,  UNLINKAT,  263, 301, VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_FLAGS)) \
	X(rmdir,     RMDIR,     84,  40,  VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH)) \
	X(mkdir,     MKDIR,     83,  39,  VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_MODE)) \
	X(mkdirat,   MKDIRAT,   258, 296, VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_MODE)) \
	X(chmod,     CHMOD,     90,  15,  VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_PATH, ARG_MODE)) \
	X(fchmod,    FCHMOD,    91,  94,  VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_MODE)) \
	X(fchmodat,  FCHMODAT,  268, 306, VIGIL_KIND_FS,     VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_MODE)) \
	X(accept,    ACCEPT,    43,  NR_NONE, VIGIL_KIND_SOCKET, VIGIL_HOOK_RAW, ARGS(ARG_FD)) \
	X(accept4,   ACCEPT4,   288, 364, VIGIL_KIND_SOCKET, VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_NONE, ARG_NONE, ARG_FLAGS)) \
	X(listen,    LISTEN,    50,  363, VIGIL_KIND_SOCKET, VIGIL_HOOK_RAW, ARGS(ARG_FD)) \
	X(bind,      BIND,      49,  361, VIGIL_KIND_SOCKET, VIGIL_HOOK_RAW, ARGS(ARG_FD)) \
	X(ptrace,       PTRACE,       101,  26, VIGIL_KIND_PRIV,    VIGIL_HOOK_RAW, ARGS(ARG_CMD, ARG_ID)) \
	X(init_module,  INIT_MODULE,  175, 128, VIGIL_KIND_PRIV,    VIGIL_HOOK_RAW, ARGS(ARG_PTR, ARG_LEN)) \
	X(finit_module, FINIT_MODULE, 313, 350, VIGIL_KIND_PRIV,    VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_NONE, ARG_FLAGS)) \
	X(setns,        SETNS,        308, 346, VIGIL_KIND_PRIV,    VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_FLAGS)) \
	X(unshare,      UNSHARE,      272, 310, VIGIL_KIND_PRIV,    VIGIL_HOOK_RAW, ARGS(ARG_FLAGS)) \
	X(bpf,          BPF,          321, 357, VIGIL_KIND_PRIV,    VIGIL_HOOK_RAW, ARGS(ARG_CMD, ARG_PTR, ARG_LEN)) \
	X(userfaultfd,  USERFAULTFD,  323, 374, VIGIL_KIND_PRIV,    VIGIL_HOOK_RAW, ARGS(ARG_FLAGS)) \
	X(setuid,       SETUID,       105, 213, VIGIL_KIND_CRED,    VIGIL_HOOK_RAW, ARGS(ARG_ID)) \
	X(setgid,       SETGID,       106, 214, VIGIL_KIND_CRED,    VIGIL_HOOK_RAW, ARGS(ARG_ID)) \
	X(setreuid,     SETREUID,     113, 203, VIGIL_KIND_CRED,    VIGIL_HOOK_RAW, ARGS(ARG_ID, ARG_ID2)) \
	X(setregid,     SETREGID,     114, 204, VIGIL_KIND_CRED,    VIGIL_HOOK_RAW, ARGS(ARG_ID, ARG_ID2)) \
	X(setresuid,    SETRESUID,    117, 208, VIGIL_KIND_CRED,    VIGIL_HOOK_RAW, ARGS(ARG_ID, ARG_ID2, ARG_ID3)) \
	X(setresgid,    SETRESGID,    119, 210, VIGIL_KIND_CRED,    VIGIL_HOOK_RAW, ARGS(ARG_ID, ARG_ID2, ARG_ID3)) \
	X(capset,       CAPSET,       126, 185, VIGIL_KIND_CRED,    VIGIL_HOOK_RAW, ARGS(ARG_PTR)) \
	X(open_by_handle_at, OPEN_BY_HANDLE_AT, 304, 342, VIGIL_KIND_OPEN, VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PTR, ARG_FLAGS)) \
	X(sendto,   SENDTO,   44, 369, VIGIL_KIND_SENDRECV, VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_NONE, ARG_FLAGS, ARG_PTR, ARG_LEN)) \
	X(sendmsg,  SENDMSG,  46, 370, VIGIL_KIND_SENDRECV, VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PTR, ARG_FLAGS)) \
	X(recvfrom, RECVFROM, 45, 371, VIGIL_KIND_SENDRECV, VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PATH, ARG_NONE, ARG_FLAGS, ARG_PTR, ARG_PTR2)) \
	X(recvmsg,  RECVMSG,  47, 372, VIGIL_KIND_SENDRECV, VIGIL_HOOK_RAW, ARGS(ARG_FD, ARG_PTR, ARG_FLAGS))

#endif /* VIGIL_SYSCALL_TABLE_H */
