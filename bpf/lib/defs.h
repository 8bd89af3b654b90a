/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Constants and the layouts of the scratch buffers, which the maps in
 * vigil.bpf.c hold; nothing here touches a map.
 */
#ifndef VIGIL_LIB_DEFS_H
#define VIGIL_LIB_DEFS_H

#define AT_FDCWD -100
#define EINPROGRESS 115
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_PATH 010000000
#define PF_KTHREAD 0x00200000
#define FMODE_EXEC 0x20
#define FMODE_CREATED 0x100000
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6
#define NAME_MAX VIGIL_NAME_MAX

/* The string bound (events.h). Masking with it after a clamp is a no-op at
 * run time and tells the verifier the bound. */
#define STR_MASK VIGIL_STR_MAX
/* The record buffer holds the largest record (exec: fixed part and four
 * strings, under 16.5 KiB) plus slack for a bounded string read at the last
 * offset. A power of two, so that size & (REC_BUF_SIZE - 1) is a bound the
 * verifier accepts and a no-op at run time; 32 KiB is also the largest
 * per-CPU map value. */
#define REC_BUF_SIZE 32768
/* Paths are built backwards ending at PATH_END; components are at most
 * NAME_MAX bytes, so writes stay below PATH_END + NAME_MAX. */
#define PATH_BUF_SIZE 8192
#define PATH_END 4096
/* Dentries and mount crossings walked per path. */
#define PATH_MAX_STEPS 64
#define PATH_TRUNC (1u << 16)

/* n & STR_MASK, computed on the register that is used afterwards: clang
 * would otherwise drop a mask it can prove redundant, or apply it to a copy,
 * and the verifier would see an unbounded size. */
#define BOUNDED(n) ({ __typeof__(n) ___v = (n); barrier_var(___v); ___v & STR_MASK; })

/* An index below n (a power of two) that older verifiers, which lose the
 * bounds of computed values, still see bounded. */
#define INDEX(v, n) ({ __u32 ___i = (v); barrier_var(___i); ___i & ((n) - 1); })

/* Linux 6.2+: lets the program see any kernel address as a read-only BTF
 * object and load its fields directly, where a faulting load is caught,
 * instead of paying a bpf_probe_read_kernel call (about 24 ns each on the
 * reference machine) per field. The verifier turns the call into a move.
 * Only the raw syscall program uses it; elsewhere nothing references it. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define RDONLY(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

struct rec_buf {
	__u8 b[REC_BUF_SIZE];
};

struct path_buf {
	__u32 pos;  /* walk_path's write position */
	__u32 mode; /* walk_fd_direct: S_IFMT bits of the file */
	__u32 leaf; /* length of the path's last component */
	__u32 pad;
	__u32 up_got;   /* fd_up_is_dir: bytes of names climbed */
	__u32 up_names; /* fd_up_is_dir: names climbed */
	/* walk_fd_direct: the file's identity (struct open_rec's ino, dev,
	 * nlink), read beside its mode. */
	__u64 ino;
	__u32 dev;
	__u32 nlink;
	/* filter_raw_name_may_match: the raw path's last slash, and its
	 * length as the scan reads it back. */
	__u32 raw_last;
	__u32 raw_len;
	__u8 b[PATH_BUF_SIZE];
};

/* A traced syscall's arguments by role (syscall_table.h), saved at
 * sys_enter by the tracepoint pairs or read from the registers at exit by
 * the raw program. syscall is VIGIL_SYS_NONE when nothing is pending. */
struct sys_args {
	__u64 path;  /* ARG_PATH */
	__u64 ptr;   /* ARG_PTR */
	__u64 path2; /* ARG_PATH2 */
	__u64 ptr2;  /* ARG_PTR2 */
	__s32 fd;    /* ARG_FD; AT_FDCWD when the syscall has none */
	__s32 fd2;   /* ARG_FD2; AT_FDCWD when the syscall has none */
	__u32 flags; /* ARG_FLAGS */
	__u32 mode;  /* ARG_MODE */
	__u32 len;   /* ARG_LEN */
	__u32 domain; /* ARG_DOMAIN */
	__u32 proto; /* ARG_PROTO */
	__u32 cmd;   /* ARG_CMD */
	__u32 id[3]; /* ARG_ID, ARG_ID2, ARG_ID3 */
	__u16 syscall;
	__u8 pad[2];
};

/* A socket's last peer named by a send or receive (the sr_peers map), and
 * the socket's inode number, which tells it from a later socket at the
 * same address. */
struct sr_peer {
	__u8 addr[16];
	__u16 port;
	__u16 family;
	__u32 ino;
};

#endif /* VIGIL_LIB_DEFS_H */
