/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Record layouts shared by the BPF programs and the Go decoder (through
 * bpf2go -type). Every record starts with struct rec_hdr; its size field
 * covers the whole record, including the variable string area at the end.
 * Fixed-width types and explicit padding only: the Go side reads these
 * structs byte for byte.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include "syscall_table.h"

/* Event kinds, in the order of event.Kind: the index of the kinds switch map
 * and of the per-kind counters. */
enum event_kind {
	VIGIL_KIND_UNKNOWN = 0,
	VIGIL_KIND_EXEC = 1,
	VIGIL_KIND_FORK = 2,
	VIGIL_KIND_EXIT = 3,
	VIGIL_KIND_OPEN = 4,
	VIGIL_KIND_CONNECT = 5,
	VIGIL_KIND_FS = 6,
	VIGIL_KIND_SOCKET = 7,
	VIGIL_KIND_DUP = 8,
	VIGIL_KIND_PRIV = 9,
	VIGIL_KIND_CRED = 10,
	VIGIL_KIND_SENDRECV = 11,
	VIGIL_KIND_IOURING = 12,
	VIGIL_NUM_KINDS = 13,
};

/* Record types: the hdr.type of each record. */
enum rec_type {
	VIGIL_REC_EXEC = 1,        /* struct exec_rec, successful exec */
	VIGIL_REC_EXEC_FAILED = 2, /* struct exec_rec, ret < 0, filename only */
	VIGIL_REC_FORK = 3,        /* struct fork_rec */
	VIGIL_REC_EXIT = 4,        /* struct exit_rec */
	VIGIL_REC_OPEN = 5,        /* struct open_rec */
	VIGIL_REC_CONNECT = 6,     /* struct connect_rec */
	VIGIL_REC_FS = 7,          /* struct fs_rec */
	VIGIL_REC_SOCKET = 8,      /* struct socket_rec */
	VIGIL_REC_DUP = 9,         /* struct dup_rec */
	VIGIL_REC_PRIV = 10,       /* struct priv_rec */
	VIGIL_REC_SENDRECV = 11,   /* struct sendrecv_rec */
	VIGIL_REC_IOURING_SETUP = 12,  /* struct iouring_rec, a ring created */
	VIGIL_REC_IOURING_SUBMIT = 13, /* struct iouring_rec, a request submitted */
};

/* The syscall behind a record: one id per row of syscall_table.h, in its
 * order. */
enum syscall_id {
	VIGIL_SYS_NONE = 0,
#define VIGIL_SYS_ID(name, id, x64, ia32, kind, hook, args) VIGIL_SYS_##id,
	VIGIL_SYSCALLS(VIGIL_SYS_ID)
#undef VIGIL_SYS_ID
	VIGIL_NUM_SYSCALLS,
};

/* How a row of syscall_table.h is hooked. */
enum syscall_hook {
	VIGIL_HOOK_RAW = 1, /* the raw sys_exit program, where it runs */
	VIGIL_HOOK_TP = 2,  /* its syscalls tracepoint pair, always */
};

/* Each row's name and hook, for the Go side to read from the object's BTF
 * (sensor/sensor.go): which tracepoint pairs exist and which of them stay
 * beside the raw program. */
enum syscall_trace {
#define VIGIL_SYS_HOOK(name, id, x64, ia32, kind, hook, args) VIGIL_TRACE_##name = hook,
	VIGIL_SYSCALLS(VIGIL_SYS_HOOK)
#undef VIGIL_SYS_HOOK
};

/* Bounds of the strings a record carries. */
enum str_bounds {
	/* Every string (argv bytes, a path, a user string) is cut at this
	 * many bytes and flagged truncated: PATH_MAX without its NUL, and
	 * 2^12 - 1, so the BPF side also uses it as a mask. */
	VIGIL_STR_MAX = 4095,
	VIGIL_UNIX_PATH_MAX = 108, /* sizeof(sockaddr_un.sun_path) */
	VIGIL_COMM_LEN = 16,
};

/* Exec record flags. */
enum exec_rec_flags {
	VIGIL_EXEC_ARGS_TRUNC = 1 << 0,
	VIGIL_EXEC_FILENAME_TRUNC = 1 << 1,
	/* The walk of the exe's path, or of its root path, stopped before
	 * the root (too many components or bytes). */
	VIGIL_EXEC_EXE_TRUNC = 1 << 2,
	VIGIL_EXEC_CWD_TRUNC = 1 << 3,
	/* The executable lives on the internal shmem/hugetlbfs mount and is
	 * named "memfd:...": it came from memfd_create. */
	VIGIL_EXEC_EXE_MEMFD = 1 << 4,
	/* The executable's inode has no links left. */
	VIGIL_EXEC_EXE_DELETED = 1 << 5,
	VIGIL_EXEC_ENV_TRUNC = 1 << 6,
	/* The executable is on overlayfs and its file is in the upper layer
	 * (written or copied up since the mount), or only in a lower one. */
	VIGIL_EXEC_EXE_UPPER = 1 << 7,
	VIGIL_EXEC_EXE_LOWER = 1 << 8,
	/* The process may write its executable: by the mode bits for its
	 * fsuid or fsgid, or through CAP_DAC_OVERRIDE. */
	VIGIL_EXEC_EXE_WRITABLE = 1 << 9,
	/* The kernel ran an interpreter for the file the caller named: a
	 * "#!" script or a binfmt_misc format (bprm->interp is not
	 * bprm->filename); filename is then the script, the exe the
	 * interpreter. */
	VIGIL_EXEC_INTERP = 1 << 10,
	/* The new image is a 32-bit x86 (ia32) program: the kernel set
	 * TS_COMPAT when it loaded it (set_personality_ia32). */
	VIGIL_EXEC_COMPAT = 1 << 11,
};

/* Open record flags. */
enum open_rec_flags {
	VIGIL_OPEN_NAME_TRUNC = 1 << 0, /* the resolved path was cut */
	VIGIL_OPEN_RAW_TRUNC = 1 << 1,
	/* The directory a relative path was relative to was cut. */
	VIGIL_OPEN_DIR_TRUNC = 1 << 2,
	/* Seen by the file_open hook (LSM or fentry) rather than the open
	 * syscalls: an open that bypassed them, such as io_uring's
	 * IORING_OP_OPENAT. ret is 0 and raw is empty. */
	VIGIL_OPEN_VIA_HOOK = 1 << 3,
	/* The open created the file (FMODE_CREATED): Falco's
	 * evt.is_open_create. Looked at only when O_CREAT was passed. */
	VIGIL_OPEN_CREATED = 1 << 4,
};

/* File-system change record flags. */
enum fs_rec_flags {
	VIGIL_FS_PATH1_TRUNC = 1 << 0, /* raw1 or dir1 was cut */
	VIGIL_FS_PATH2_TRUNC = 1 << 1, /* raw2 or dir2 was cut */
};

/* Dup record flags. */
enum dup_rec_flags {
	VIGIL_DUP_NAME_TRUNC = 1 << 0,
};

/* Common header of every record. */
struct rec_hdr {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;  /* cgroup v2 id of the task */
	__u32 tgid;       /* in the initial pid namespace */
	__u32 tid;
	__u16 type;       /* enum rec_type */
	__u16 size;       /* bytes of the whole record */
	__u32 cpu;
};

/* Exec (successful or failed). The string area holds, in this order and
 * without NULs between them: filename, args (NUL-separated argv), exe path,
 * cwd, env (NUL-separated). A failed exec carries the filename only. The
 * capability sets, pid-namespace ids and executable facts are read from
 * the new image, at exec. */
struct exec_rec {
	struct rec_hdr hdr;
	__s64 ret;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 loginuid;
	__u32 tty_major;
	__u32 tty_minor;
	__u32 flags;     /* enum exec_rec_flags */
	__u16 syscall;   /* VIGIL_SYS_EXECVE or VIGIL_SYS_EXECVEAT */
	__u16 filename_len;
	__u16 args_len;
	__u16 exe_len;
	__u16 cwd_len;
	__u16 env_len;
	__u16 exe_root_len; /* after env; 0 unless reached through a bind mount */
	__u8 pad[2];
	__u64 cap_inheritable;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 exe_ino;
	__u64 exe_ctime_ns; /* epoch ns */
	__u64 exe_mtime_ns;
	__u32 vpid;      /* in the process's own pid namespace */
	__u32 vpgid;
	__u32 sid;       /* session id, in the initial pid namespace */
	__u32 pad2;
	__u8 comm[VIGIL_COMM_LEN];
	__u8 data[];
};

/* A new process (not a new thread). hdr.tgid/tid are the child's; the
 * parent is the child's real parent, which CLONE_PARENT can make differ
 * from the forking task. */
struct fork_rec {
	struct rec_hdr hdr;
	__u64 start_boot_ns; /* child's task->start_boottime */
	__u32 parent_tgid;
	__u32 parent_tid;    /* the forking thread */
};

/* The last thread of a thread group exited. */
struct exit_rec {
	struct rec_hdr hdr;
	__u32 exit_code; /* wait status: code << 8 | signal */
	__u32 pad;
};

/* An open, emitted at syscall exit. The string area holds raw (the user's
 * string), then name (the resolved absolute path, on success), then dir
 * (when raw is relative: the directory it was relative to, the cwd or the
 * dirfd's path), from which userspace names the file as the caller did. */
struct open_rec {
	struct rec_hdr hdr;
	__s64 ret;
	__u32 flags;     /* O_* as passed (openat2: how.flags) */
	__u32 mode;
	__s32 dirfd;
	__u32 file_type; /* S_IFMT bits of the opened inode, 0 on failure */
	__u16 syscall;   /* enum syscall_id */
	__u16 rflags;    /* enum open_rec_flags */
	__u16 raw_len;
	__u16 name_len;
	__u16 dir_len;
	__u16 pad[3];
	/* The opened file's identity, 0 on failure: its inode number, the
	 * device of its file system (the kernel's s_dev, MAJOR << 20 | MINOR)
	 * and its link count, which a hard link or a bind mount cannot
	 * change (fd.ino, fd.dev, fd.nlink, fd.identity). */
	__u64 ino;
	__u32 dev;
	__u32 nlink;
	__u8 data[];
};

/* A connect, emitted at syscall exit. Addresses are in network byte order
 * (IPv4 in the first 4 bytes), ports in host byte order. */
struct connect_rec {
	struct rec_hdr hdr;
	__s64 ret;
	__s32 fd;
	__u16 family;    /* the socket's family */
	__u16 sock_type;
	__u16 proto;
	__u16 lport;
	__u16 rport;
	__u16 unix_len;
	__u8 laddr[16];
	__u8 raddr[16];
	__u8 unix_path[VIGIL_UNIX_PATH_MAX];
	__u16 sa_family; /* family of the caller's sockaddr (remote) */
	__u8 pad[2];
};

/*
 * A file-system change at syscall exit: symlink, link, rename, unlink,
 * rmdir, mkdir, chmod and their *at variants. A syscall names up to two
 * paths (path1: target, oldpath or the one path; path2: linkpath or
 * newpath); each comes as the caller passed it (raw) and, when relative,
 * with the directory it was relative to (dir: the cwd or the dirfd's path,
 * resolved in the kernel) for userspace to join, since the name is what
 * Falco's rules match and a removed or renamed file has no other. A
 * symlink's target is the link's content, kept raw. fchmod names no path:
 * dir1 is the path of its fd's file. The string area holds raw1, dir1,
 * raw2, dir2.
 */
struct fs_rec {
	struct rec_hdr hdr;
	__s64 ret;
	__s32 fd1;       /* dirfd of path1, or fchmod's fd (AT_FDCWD: none) */
	__s32 fd2;       /* dirfd of path2 */
	__u32 flags;     /* AT_* of linkat and unlinkat, RENAME_* of renameat2 */
	__u32 mode;      /* mkdir's and chmod's mode */
	__u16 syscall;   /* enum syscall_id */
	__u16 rflags;    /* enum fs_rec_flags */
	__u16 raw1_len;
	__u16 dir1_len;
	__u16 raw2_len;
	__u16 dir2_len;
	__u8 pad[4];
	__u8 data[];
};

/* A socket as the kernel holds it. Addresses are in network byte order
 * (IPv4 in the first 4 bytes), ports in host byte order; family 0 when the
 * fd is not a socket. */
struct sock_info {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 family;
	__u16 type;
	__u16 proto;
	__u16 lport;
	__u16 rport;
	__u8 pad[6];
};

/* A socket call at syscall exit: socket, accept, accept4, listen, bind.
 * socket's arguments as passed; the socket as the kernel holds it after
 * the call: the new one of socket and accept (on success), the one
 * listen and bind act on. */
struct socket_rec {
	struct rec_hdr hdr;
	__s64 ret;
	__u32 domain;    /* socket's, as passed */
	__u32 type;      /* socket's, as passed, SOCK_NONBLOCK and SOCK_CLOEXEC included */
	__u32 proto;     /* socket's, as passed */
	__u32 flags;     /* accept4's */
	__s32 fd;        /* the socket acted on: listen's, bind's, accept's listening one */
	__u16 syscall;   /* enum syscall_id */
	__u8 pad[2];
	struct sock_info sock;
};

/* A dup, dup2 or dup3 at syscall exit: what the duplicated descriptor is at
 * that moment (the socket's family, protocol and both ends, or the file's
 * path), read from the new fd on success and the old one on failure, so no
 * fd table is needed in userspace. The string area holds the file's path
 * (empty for a socket). */
struct dup_rec {
	struct rec_hdr hdr;
	__s64 ret;       /* the new fd, or -errno */
	__s32 oldfd;
	__s32 newfd;     /* as passed to dup2 and dup3; -1 for dup */
	__u32 flags;     /* dup3's O_CLOEXEC */
	__u32 file_type; /* S_IFMT bits of the file, 0 when not open */
	__u16 syscall;   /* enum syscall_id */
	__u16 rflags;    /* enum dup_rec_flags */
	__u16 name_len;
	__u8 pad[2];
	struct sock_info sock;
	__u8 data[];
};

/*
 * A privileged operation at syscall exit (kinds/priv.h): ptrace,
 * init_module, finit_module, setns, unshare, bpf and userfaultfd (kind
 * priv), and the changes of credentials setuid, setgid, their setre* and
 * setres* forms and capset (kind cred). arg holds the arguments Falco names,
 * by syscall: ptrace request and pid; init_module length; finit_module fd
 * and flags; setns fd and nstype; unshare and userfaultfd flags; bpf cmd,
 * then the kind (enum bpf_obj_type) and id of the map, program or link it
 * acts on, 0 and 0 when none is known; set*id the ids as passed (-1 for "unchanged"). The credentials are the
 * task's after the call, so a change is known whether it succeeded or not.
 */
struct priv_rec {
	struct rec_hdr hdr;
	__s64 ret;
	__s64 arg[3];
	__u64 cap_inheritable;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u16 syscall;   /* enum syscall_id */
	__u8 pad[6];
};

/* The kind of bpf object a bpf command acts on (priv_rec.arg[1]). */
enum bpf_obj_type {
	VIGIL_BPF_OBJ_NONE = 0,
	VIGIL_BPF_OBJ_MAP = 1,
	VIGIL_BPF_OBJ_PROG = 2,
	VIGIL_BPF_OBJ_LINK = 3,
};

/* The bpf commands whose target bpf_target reads (enum bpf_cmd). */
enum bpf_cmd_id {
	VIGIL_BPF_MAP_LOOKUP_ELEM = 1,
	VIGIL_BPF_MAP_UPDATE_ELEM = 2,
	VIGIL_BPF_MAP_DELETE_ELEM = 3,
	VIGIL_BPF_MAP_GET_NEXT_KEY = 4,
	VIGIL_BPF_OBJ_PIN = 6,
	VIGIL_BPF_OBJ_GET = 7,
	VIGIL_BPF_PROG_GET_FD_BY_ID = 13,
	VIGIL_BPF_MAP_GET_FD_BY_ID = 14,
	VIGIL_BPF_OBJ_GET_INFO_BY_FD = 15,
	VIGIL_BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21,
	VIGIL_BPF_MAP_FREEZE = 22,
	VIGIL_BPF_MAP_LOOKUP_BATCH = 24,
	VIGIL_BPF_MAP_LOOKUP_AND_DELETE_BATCH = 25,
	VIGIL_BPF_MAP_UPDATE_BATCH = 26,
	VIGIL_BPF_MAP_DELETE_BATCH = 27,
	VIGIL_BPF_LINK_UPDATE = 29,
	VIGIL_BPF_LINK_GET_FD_BY_ID = 30,
	VIGIL_BPF_LINK_DETACH = 34,
};

/* The filter key of a priv event (kinds/priv.h): ptrace requests below
 * VIGIL_PRIV_KEY_PTRACE_EXT are themselves, the extended ones from
 * VIGIL_PRIV_PTRACE_EXT_BASE (PTRACE_SETOPTIONS, PTRACE_SEIZE, ...) follow
 * them; bpf commands are themselves; anything else is VIGIL_PRIV_KEY_OTHER,
 * and the other syscalls use 0. */
enum priv_filter_key {
	VIGIL_PRIV_KEY_PTRACE_EXT = 40,
	VIGIL_PRIV_PTRACE_EXT_BASE = 0x4200,
	VIGIL_PRIV_KEY_OTHER = 63,
};

/* The filter key of a socket-kind event (kinds/socket.h): the address
 * family, socket's domain argument or the family of the socket the call
 * acted on (0 when there is none), and VIGIL_SOCKET_KEY_OTHER for a domain
 * at or above it. */
enum socket_filter_key {
	VIGIL_SOCKET_KEY_OTHER = 63,
};

/* The filter key of a file-system change (kinds/fs.h): the bits of its
 * mode argument that Falco's rules search for (0 without one). */
enum fs_filter_key {
	VIGIL_FS_KEY_SUID = 1, /* S_ISUID */
	VIGIL_FS_KEY_SGID = 2, /* S_ISGID */
	VIGIL_FS_KEY_EXEC = 4, /* any of S_IXUSR, S_IXGRP, S_IXOTH */
};

/* The filter key of a dup (kinds/dup.h): the family of the duplicated
 * socket, VIGIL_DUP_KEY_FILE for any other open file, 0 when the fd was
 * not open, VIGIL_DUP_KEY_OTHER for a family at or above
 * VIGIL_DUP_KEY_FILE. */
enum dup_filter_key {
	VIGIL_DUP_KEY_FILE = 62,
	VIGIL_DUP_KEY_OTHER = 63,
};

/* Send/recv record flags. */
enum sendrecv_rec_flags {
	/* The socket had a peer of its own (connected UDP, established TCP,
	 * a connected unix socket): Falco's fd.connected. */
	VIGIL_SR_CONNECTED = 1 << 0,
	/* sock.raddr and rport are the address the call named (sendto's
	 * destination, the source recvfrom and recvmsg returned), not the
	 * socket's peer. */
	VIGIL_SR_PEER_ARG = 1 << 1,
	/* That address differs from the last one this socket sent to or
	 * received from (or is its first): Falco's fd.name_changed. */
	VIGIL_SR_NAME_CHANGED = 1 << 2,
	/* A connected socket that accept made: its listener's backlog, which
	 * the kernel copies into each child, is set. The local end is the
	 * server's. */
	VIGIL_SR_ACCEPTED = 1 << 3,
};


/* The filter key of a send/recv (kinds/sendrecv.h): the socket's class
 * (bits 0-2: unix, or an IP socket, v4 or v6 alike, by its transport),
 * whether it is connected, whether the call changed its peer, and whether
 * the server's port is one the rules name (the filter's port bitmap, kept
 * in the kind's pairs). Class 7 is no socket's, so VIGIL_SR_KEY_ANY is no
 * event's key: the kernel asks with it before reading the socket, and Go
 * gives it every clause of the filter. */
enum sendrecv_filter_key {
	VIGIL_SR_KEY_UNIX = 1,
	VIGIL_SR_KEY_TCP = 2,
	VIGIL_SR_KEY_UDP = 3,
	VIGIL_SR_KEY_IP_OTHER = 4,
	VIGIL_SR_KEY_CLASS = 7,
	VIGIL_SR_KEY_CONNECTED = 8,
	VIGIL_SR_KEY_NAME_CHANGED = 16,
	VIGIL_SR_KEY_PORT = 32,
	VIGIL_SR_KEY_ANY = 63,
};

/* io_uring record flags. */
enum iouring_rec_flags {
	VIGIL_IOURING_PATH1_TRUNC = 1 << 0, /* path1 or dir1 was cut */
	VIGIL_IOURING_PATH2_TRUNC = 1 << 1, /* path2 or dir2 was cut */
	/* Submitted by the ring's SQPOLL thread (IORING_SETUP_SQPOLL), a
	 * kernel thread of the process, not by a syscall of one of its own
	 * threads. */
	VIGIL_IOURING_SQ_THREAD = 1 << 2,
	/* The request names a registered file (IOSQE_FIXED_FILE): fd1 is an
	 * index in the ring's file table, not a descriptor. */
	VIGIL_IOURING_FIXED_FILE = 1 << 3,
};

/*
 * io_uring (kinds/iouring.h), from the io_uring tracepoints rather than
 * syscalls: requests run without a syscall of their own (io_uring_enter
 * submits a batch; an SQPOLL ring needs none), so no syscall hook sees the
 * file a request opens. A setup record (VIGIL_REC_IOURING_SETUP) says which
 * process created a ring: ret is the ring's fd, flags the IORING_SETUP_*
 * flags, sq_entries and cq_entries its sizes. A submit record
 * (VIGIL_REC_IOURING_SUBMIT) is one request of an opcode vigil reports,
 * read once the kernel has prepared it: opcode is IORING_OP_*; fd1 the
 * dirfd of path1 (openat, openat2, unlinkat, mkdirat; renameat's and
 * linkat's old one) or the descriptor the request acts on (connect,
 * accept, send, ...); fd2 the dirfd of path2; flags the open flags
 * (openat2: how.flags), AT_* or RENAME_* flags; mode the open or mkdir
 * mode. Paths are the kernel's copy of the caller's string (no user
 * memory is read, so the string cannot change under the reader), and, for
 * a relative path, the directory it is relative to (the dirfd's path or
 * the cwd) for userspace to join. symlinkat's path1 is the link's content
 * (kept as is), path2 the link. The string area holds path1, dir1, path2,
 * dir2.
 */
struct iouring_rec {
	struct rec_hdr hdr;
	__s64 ret;
	__u32 flags;
	__u32 mode;
	__u32 sq_entries;
	__u32 cq_entries;
	__s32 fd1;
	__s32 fd2;
	__u16 opcode;    /* enum io_uring_op */
	__u16 rflags;    /* enum iouring_rec_flags */
	__u16 path1_len;
	__u16 dir1_len;
	__u16 path2_len;
	__u16 dir2_len;
	__u8 pad[4];
	__u8 data[];
};

/* The io_uring kind's filter (kinds/iouring.h): the row of its syscalls
 * table (a kind made of no syscalls numbers its own rows) and key: a
 * request's key is its opcode (all reported ones are below 63), a ring's
 * VIGIL_IOURING_KEY_SETUP. */
enum iouring_filter_key {
	VIGIL_IOURING_SYS_SETUP = 1,
	VIGIL_IOURING_SYS_SUBMIT = 2,
	VIGIL_IOURING_KEY_SETUP = 63,
};

/* Per-CPU, per-kind counters. */
struct kind_counters {
	__u64 emitted;
	__u64 dropped;  /* failed ring-buffer reserve/output */
	__u64 filtered; /* left out by the kind's filter (lib/filter.h) */
};

/*
 * The in-kernel filters (lib/filter.h; sensor/filter.go compiles them from
 * the rules' event.Filter). Each filtered kind keeps only the events that
 * may satisfy one of up to VIGIL_FILTER_CLAUSES clauses, one bit each in
 * every mask below. Before the path is known, an event satisfies the
 * clauses in syscalls[its syscall id] & keys[its kind's key] &
 * results[its result's class] (enum filter_result). The key is a small
 * value the kind's header reads from the arguments (open: enum open_filter_key) and Go maps to the classes
 * rules name. path_any holds the clauses that do not constrain the path;
 * the others' paths are in filter_prefixes (an LPM trie) and filter_names
 * (file names), under the kind and the filter's generation so that a
 * reload never mixes two filters. Two bitmaps spare most paths the
 * lookups: pairs has bit (path[1] << 8 | path[2]) set for the first two
 * bytes after the slash of every prefix (all bits when a prefix is shorter
 * than three bytes), name_lens bit n for every file name of n bytes.
 * Clauses in raw_need also need a needle (1 to VIGIL_FILTER_NEEDLE_MAX
 * bytes) in the path as the caller passed it: needle[i] holds its bytes
 * little endian, needle_mask[i] covers them, needle_len[i] counts them,
 * needle_clauses[i] are the clauses that need it. A raw path is searched in
 * its first VIGIL_FILTER_RAW_SCAN bytes; a longer one, or one that could
 * not be read, is admitted. suffix[i] holds the last suffix_len[i] (at most
 * VIGIL_FILTER_NEEDLE_MAX) bytes of a path suffix, little endian, and
 * suffix_clauses[i] the clauses a path ending with them satisfies (a path
 * that ends with a suffix ends with its last bytes). The path bounds of the
 * clauses in caller_name are on the path as the caller named it (Falco's
 * fd.name), the others' on the path the kernel resolved: the walked path
 * judges the former only when it is the caller's name (lib/filter.h,
 * filter_caller_is_walked), and any other open satisfies them.
 */
enum filter_bounds {
	VIGIL_FILTER_CLAUSES = 32,     /* bits of a clause mask */
	VIGIL_FILTER_SYSCALLS = 64,    /* syscall ids a filter tells apart */
	VIGIL_FILTER_KEYS = 64,        /* values of a kind's key */
	VIGIL_FILTER_PREFIX_MAX = 254, /* bytes of path in a prefix key: LPM keys hold 256 */
	VIGIL_FILTER_ENTRIES = 4096,   /* prefixes, and names, of one generation */
	VIGIL_FILTER_IDENTS = 256,     /* file identities of one generation */
	VIGIL_FILTER_NEEDLES = 4,      /* distinct raw-path needles per kind */
	VIGIL_FILTER_NEEDLE_MAX = 8,   /* bytes of a needle compared */
	VIGIL_FILTER_SUFFIXES = 4,    /* distinct path suffixes per kind */
	VIGIL_FILTER_RAW_SCAN = 256,   /* bytes of raw path searched */
	VIGIL_FILTER_UP_MAX = 16,      /* names of a relative raw path judged */
	VIGIL_NAME_MAX = 255,          /* bytes of a file name (NAME_MAX) */
	VIGIL_FILTER_HINTS = 4096,     /* bits of a name or identity prefilter */
};

/* The classes of a syscall's result, the index of kind_filter.results: a
 * failure (-errno), a result of 0 to VIGIL_FILTER_LOW_RESULT (the 0 most
 * syscalls return, or a standard stream's descriptor: Falco's rules look
 * for a dup onto 0, 1 or 2), and a greater one. A kind can be judged on
 * its result before anything is read (kinds/dup.h). */
enum filter_result {
	VIGIL_FILTER_RESULT_HIGH = 0,
	VIGIL_FILTER_RESULT_FAILED = 1,
	VIGIL_FILTER_RESULT_LOW = 2,
	VIGIL_FILTER_RESULTS = 3,
	VIGIL_FILTER_LOW_RESULT = 2,
};

/* The key of an open: its O_ACCMODE bits, and VIGIL_OPEN_KEY_PATH when
 * O_PATH is set; event.OpenAccessOf gives the class of each. */
enum open_filter_key {
	VIGIL_OPEN_KEY_ACCMODE = 3,
	VIGIL_OPEN_KEY_PATH = 4,
};

struct kind_filter {
	__u32 syscalls[VIGIL_FILTER_SYSCALLS];
	__u32 keys[VIGIL_FILTER_KEYS];
	__u32 results[VIGIL_FILTER_RESULTS]; /* by enum filter_result */
	__u32 path_any;
	__u32 raw_need;
	__u32 caller_name;
	__u32 name_lens[(VIGIL_NAME_MAX + 1) / 32];
	__u32 pairs[65536 / 32];
	__u64 needle[VIGIL_FILTER_NEEDLES];
	__u64 needle_mask[VIGIL_FILTER_NEEDLES];
	__u32 needle_len[VIGIL_FILTER_NEEDLES];
	__u32 needle_clauses[VIGIL_FILTER_NEEDLES];
	__u64 suffix[VIGIL_FILTER_SUFFIXES];
	__u32 suffix_len[VIGIL_FILTER_SUFFIXES];
	__u32 suffix_clauses[VIGIL_FILTER_SUFFIXES];
	/* Kinds of two paths (fs): the clauses whose bounds the first, and
	 * the second, path argument may satisfy (kinds/fs.h). */
	__u32 path_args[2];
	/* Opens: the clauses a file may also satisfy by its identity
	 * (filter_idents), whatever name reached it. */
	__u32 ident_clauses;
	__u32 pad;
	/* Prefilters that spare most events a hash lookup: bit
	 * VIGIL_NAME_HINT(len, first byte, last byte) of every file name in
	 * filter_names, and bit VIGIL_IDENT_HINT(ino) of every file in
	 * filter_idents. */
	__u32 name_hints[VIGIL_FILTER_HINTS / 32];
	__u32 ident_hints[VIGIL_FILTER_HINTS / 32];
};

/* The prefilters' bit of a file name and of an inode number; Go computes
 * the same (sensor/filter.go: nameHint, identHint). */
#define VIGIL_NAME_HINT(len, first, last) (((first) ^ ((last) << 4) ^ ((len) << 7)) & (VIGIL_FILTER_HINTS - 1))
#define VIGIL_IDENT_HINT(ino) (((ino) ^ ((ino) >> 12)) & (VIGIL_FILTER_HINTS - 1))

/* data[0] is the kind, data[1] the generation, then the path prefix;
 * prefixlen counts all three, in bits. */
struct filter_prefix_key {
	__u32 prefixlen;
	__u8 data[2 + VIGIL_FILTER_PREFIX_MAX];
};

/* A file name by its length and its first and last 8 bytes (little
 * endian): exact up to 16 bytes, and for longer names two that agree on
 * all three only make the filter admit more. Names under 8 bytes have head
 * zero-padded and tail 0; names of at most 8 bytes have tail 0. */
struct filter_name_key {
	__u64 head;
	__u64 tail;
	__u32 len;
	__u16 gen;
	__u16 kind;
};

/* A file by its identity (device and inode), for the clauses on the files
 * the rules name (fd.identity): a hard link or a bind mount gives the file
 * another path, never another identity. */
struct filter_ident_key {
	__u64 ino;
	__u32 dev; /* s_dev, as struct open_rec's dev */
	__u16 gen;
	__u16 kind;
};

/*
 * A sendto, sendmsg, recvfrom or recvmsg at syscall exit
 * (kinds/sendrecv.h): the socket as the kernel holds it at that moment,
 * with the peer the call named when the socket has none of its own, and
 * the byte count (ret). Never the payload.
 */
struct sendrecv_rec {
	struct rec_hdr hdr;
	__s64 ret;       /* bytes sent or received, or -errno */
	__s32 fd;
	__u32 flags;     /* MSG_* as passed */
	__u16 syscall;   /* enum syscall_id */
	__u16 rflags;    /* enum sendrecv_rec_flags */
	__u8 pad[3];
	/* The rules' needles (the filter's, up to VIGIL_FILTER_NEEDLES of
	 * at most VIGIL_FILTER_NEEDLE_MAX bytes: evt.buffer contains X) found
	 * in the first VIGIL_FILTER_RAW_SCAN bytes of the data: needle[i]
	 * little endian, needle_len[i] bytes; 0 for none. The data itself
	 * never leaves the kernel. */
	__u8 needles;
	__u64 needle[VIGIL_FILTER_NEEDLES];
	__u8 needle_len[VIGIL_FILTER_NEEDLES];
	__u8 pad2[4];
	struct sock_info sock;
};

#endif /* VIGIL_EVENTS_H */
