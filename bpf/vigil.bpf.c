//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * vigil's kernel side: exec, fork, exit, open and connect records into one
 * ring buffer. Layouts live in events.h; settings that never change after
 * load are const volatile, the kinds switch is a map so a rules reload can
 * flip it at run time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD -100
#define EINPROGRESS 115
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define O_WRONLY 00000001
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define PF_KTHREAD 0x00200000
#define FMODE_EXEC 0x20
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6
#define NAME_MAX 255

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

/* Settings fixed at load time by the Go side. */
const volatile __u32 self_tgid = 0;
const volatile __u64 wakeup_bytes = 1 << 20;
/* 1 when opens and connects come from the raw sys_exit program rather than
 * the syscalls tracepoints (sensor/probe.go decides). */
const volatile __u32 raw_syscalls = 0;

/* Linux 6.2+: lets the program see any kernel address as a read-only BTF
 * object and load its fields directly, where a faulting load is caught,
 * instead of paying a bpf_probe_read_kernel call (about 24 ns each on the
 * reference machine) per field. The verifier turns the call into a move.
 * Only the raw syscall program uses it; elsewhere nothing references it. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define RDONLY(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* kinds[k] != 0: emit records of kind k. Written by Go at any time. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NUM_KINDS);
	__type(key, __u32);
	__type(value, __u32);
} kinds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_NUM_KINDS);
	__type(key, __u32);
	__type(value, struct kind_counters);
} counters SEC(".maps");

/* Syscall arguments saved at sys_enter, consumed at sys_exit. syscall is
 * VIGIL_SYS_NONE when nothing is pending. */
struct inflight {
	__u64 ptr;  /* filename or sockaddr */
	__u64 ptr2; /* openat2: struct open_how */
	__s32 fd;   /* dirfd (open) or socket fd (connect) */
	__u32 flags;
	__u32 mode;
	__u32 len;  /* sockaddr length */
	__u16 syscall;
	__u8 pad[6];
};

/* One slot per thread that made a traced syscall, kept until the thread
 * exits: sys_enter and sys_exit write the slot in place, which costs far less
 * than inserting and deleting a hash element on every syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* thread id */
	__type(value, struct inflight);
} inflight SEC(".maps");

/* open_filter_gen[0]: the generation of the active open filter, 0 when
 * opens are not filtered; its filter is open_filters[gen & 1]. Go writes
 * a new filter under the next generation, then switches this. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} open_filter_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct open_filter);
} open_filters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct open_prefix_key);
	__type(value, __u32); /* clauses */
} open_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct open_name_key);
	__type(value, __u32); /* clauses */
} open_names SEC(".maps");

struct rec_buf {
	__u8 b[REC_BUF_SIZE];
};

struct path_buf {
	__u32 pos;  /* walk_path's write position */
	__u32 mode; /* walk_fd_direct: S_IFMT bits of the file */
	__u32 leaf; /* length of the path's last component */
	__u32 pad;
	__u8 b[PATH_BUF_SIZE];
};

/* Records larger than the stack are built here; per CPU because tracepoint
 * programs run with preemption disabled and cannot interleave on one CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rec_buf);
} rec_bufs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_bufs SEC(".maps");

/* Types only the Go side reads (records it decodes, enums it names) are
 * anchored here so that they reach BTF for bpf2go -type. The records with a
 * flexible array cannot be members, so they get their own anchor. */
struct btf_anchor {
	struct rec_hdr hdr;
	struct fork_rec fork;
	struct exit_rec exit;
	struct connect_rec connect;
	enum event_kind kind;
	enum rec_type rec_type;
	enum syscall_id syscall;
	enum str_bounds bounds;
	enum exec_rec_flags exec_flags;
	enum open_rec_flags open_flags;
	enum open_filter_bounds open_filter_bounds;
};
const struct btf_anchor *unused_btf_anchor __attribute__((unused));
const struct exec_rec *unused_exec_rec __attribute__((unused));
const struct open_rec *unused_open_rec __attribute__((unused));

static __always_inline bool kind_on(__u32 kind)
{
	__u32 *on = bpf_map_lookup_elem(&kinds, &kind);

	return on && *on;
}

static __always_inline void count_filtered(__u32 kind)
{
	struct kind_counters *c = bpf_map_lookup_elem(&counters, &kind);

	if (c)
		c->filtered++;
}

static __always_inline void count(__u32 kind, bool ok)
{
	struct kind_counters *c = bpf_map_lookup_elem(&counters, &kind);

	if (!c)
		return;
	if (ok)
		c->emitted++;
	else
		c->dropped++;
}

/* Wake the reader only once enough data is pending: a wakeup per record
 * doubles the cost of a traced syscall, and the reader polls anyway. */
static __always_inline __u64 wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_hdr(struct rec_hdr *h, __u16 type, __u16 size)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
}

/* Copy a record built in scratch memory into the ring buffer. */
static __always_inline void emit(void *rec, __u64 size, __u32 kind)
{
	long err = bpf_ringbuf_output(&events, rec, size, wakeup_flags());

	count(kind, err == 0);
}

static __always_inline struct rec_buf *get_rec_buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&rec_bufs, &zero);
}

/* The fields of a dentry the path walk needs: d_parent and d_name, which
 * are neighbours in struct dentry on every kernel. */
struct dentry_head {
	struct dentry *parent;
	__u32 hash;
	__u32 len;
	const unsigned char *name;
};

/* The fields of a mount the walk needs: mnt_parent, mnt_mountpoint and
 * mnt.mnt_root, neighbours in struct mount. */
struct mount_head {
	struct mount *parent;
	struct dentry *mountpoint;
	struct dentry *root;
};

/* Each helper call costs tens of nanoseconds on every traced open, so the
 * neighbouring fields are read with one call where CO-RE confirms the
 * layout (a load-time constant: the verifier drops the other branch). */
static __always_inline void read_dentry(struct dentry *d, struct dentry_head *h, const bool direct)
{
	__u32 base = bpf_core_field_offset(struct dentry, d_parent);

	if (direct) {
		struct dentry *dp = RDONLY(struct dentry, d);

		h->parent = dp->d_parent;
		h->len = dp->d_name.len;
		h->name = dp->d_name.name;
		return;
	}

	if (bpf_core_field_offset(struct dentry, d_name.len) == base + offsetof(struct dentry_head, len) &&
	    bpf_core_field_offset(struct dentry, d_name.name) == base + offsetof(struct dentry_head, name)) {
		bpf_probe_read_kernel(h, sizeof(*h), (void *)d + base);
		return;
	}
	h->parent = BPF_CORE_READ(d, d_parent);
	h->len = BPF_CORE_READ(d, d_name.len);
	h->name = BPF_CORE_READ(d, d_name.name);
}

static __always_inline void read_mount(struct mount *m, struct mount_head *h, const bool direct)
{
	__u32 base = bpf_core_field_offset(struct mount, mnt_parent);

	if (direct) {
		struct mount *mp = RDONLY(struct mount, m);

		h->parent = mp->mnt_parent;
		h->mountpoint = mp->mnt_mountpoint;
		h->root = mp->mnt.mnt_root;
		return;
	}

	if (bpf_core_field_offset(struct mount, mnt_mountpoint) == base + offsetof(struct mount_head, mountpoint) &&
	    bpf_core_field_offset(struct mount, mnt.mnt_root) == base + offsetof(struct mount_head, root)) {
		bpf_probe_read_kernel(h, sizeof(*h), (void *)m + base);
		return;
	}
	h->parent = BPF_CORE_READ(m, mnt_parent);
	h->mountpoint = BPF_CORE_READ(m, mnt_mountpoint);
	h->root = BPF_CORE_READ(m, mnt.mnt_root);
}

/*
 * Write the absolute path of (dentry, vfsmnt) into the per-CPU path buffer,
 * ending at PATH_END, the way the kernel's prepend_path does: climb d_parent
 * to the mount's root, then continue from the mountpoint in the parent mount,
 * until the root of the mount namespace (a mount that is its own parent).
 * bpf_d_path is not available to tracepoints, hence the walk. Returns the
 * length, with PATH_TRUNC set when the path did not fit or had too many
 * components.
 *
 * Its callers are global functions, so the verifier checks it once per
 * variant, not per call site, and the write position lives in map memory,
 * read back through a volatile access each step: an imprecise position lets
 * the verifier prune the loop's states instead of tracking a shrinking range
 * through every iteration. direct (a constant) picks direct loads through
 * bpf_rdonly_cast over bpf_probe_read_kernel calls.
 */
static __always_inline int walk_path_impl(struct dentry *dentry, struct vfsmount *vfsmnt, const bool direct)
{
	struct mount *mnt;
	struct dentry *mnt_root;
	struct dentry_head dh;
	struct mount_head mh;
	volatile __u32 *vpos;
	struct path_buf *pb;
	__u32 zero = 0, pos, len, trunc = PATH_TRUNC;
	int i;

	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!pb || !dentry || !vfsmnt)
		return 0;
	if (direct) {
		/* One pointer type for every iteration, whatever the caller's
		 * pointers were (trusted, RCU or untrusted). */
		dentry = RDONLY(struct dentry, dentry);
		mnt = RDONLY(struct mount, (__u64)vfsmnt - bpf_core_field_offset(struct mount, mnt));
		mnt_root = mnt->mnt.mnt_root;
	} else {
		mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
		mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	}
	vpos = &pb->pos;
	*vpos = PATH_END;
	pb->leaf = 0;
	for (i = 0; i < PATH_MAX_STEPS; i++) {
		if (dentry == mnt_root) {
			read_mount(mnt, &mh, direct);
			/* A mount that is its own parent is the top. */
			if (mh.parent == mnt) {
				trunc = 0;
				break;
			}
			dentry = mh.mountpoint;
			mnt = mh.parent;
			if (direct)
				mnt_root = mnt->mnt.mnt_root;
			else
				mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
			continue;
		}

		read_dentry(dentry, &dh, direct);
		len = dh.len;
		if (len > NAME_MAX)
			len = NAME_MAX;
		pos = *vpos;
		if (len + 1 >= pos)
			break; /* leave one byte: the path is at most STR_MASK long */
		pos -= len;
		bpf_probe_read_kernel(&pb->b[pos & STR_MASK], len & NAME_MAX, dh.name);
		pos--;
		pb->b[pos & STR_MASK] = '/';
		if (*vpos == PATH_END)
			pb->leaf = len;
		*vpos = pos;
		/* A root dentry that is not its mount's root is disconnected,
		 * like memfd's and other pseudo files: its own name is all
		 * there is, as the kernel's simple_dname shows it. */
		if (dh.parent == dentry) {
			trunc = 0;
			break;
		}
		dentry = dh.parent;
	}
	pos = *vpos;
	if (pos >= PATH_END) {
		pos = PATH_END - 1;
		pb->b[pos] = '/';
	}
	return ((PATH_END - pos) & STR_MASK) | trunc;
}

/* The helper-read walk, for kernels without bpf_rdonly_cast. */
__noinline int walk_path(__u64 dentry_ptr, __u64 vfsmnt_ptr)
{
	return walk_path_impl((void *)dentry_ptr, (void *)vfsmnt_ptr, false);
}

/* Copy the path a walk of length n (PATH_TRUNC possibly set) left in the
 * path buffer into rec at off; returns n. */
static __always_inline __u32 copy_path(struct rec_buf *rb, __u32 off, __u32 n)
{
	__u32 zero = 0, len;
	struct path_buf *pb;

	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!pb)
		return 0;
	len = BOUNDED(n);
	bpf_probe_read_kernel(&rb->b[off], len, &pb->b[(PATH_END - len) & STR_MASK]);
	return n;
}

/* Resolve path p into rec at off; returns the length, PATH_TRUNC possibly set. */
static __always_inline __u32 put_path(struct rec_buf *rb, __u32 off, const struct path *p)
{
	struct path path = {};

	bpf_core_read(&path, sizeof(path), p);
	return copy_path(rb, off, walk_path((__u64)path.dentry, (__u64)path.mnt));
}

/* Read a NUL-terminated user string into rec at off; returns its length
 * without the NUL, and sets *trunc when it filled the bound. */
static __always_inline __u32 put_user_str(struct rec_buf *rb, __u32 off, const void *src, bool *trunc)
{
	long n = bpf_probe_read_user_str(&rb->b[off], STR_MASK + 1, src);

	if (n <= 0)
		return 0;
	if (n > STR_MASK) {
		*trunc = true;
		return STR_MASK;
	}
	return BOUNDED(n - 1);
}

/* The head of struct fdtable: max_fds, then the fd array. */
struct fdtable_head {
	__u32 max_fds;
	__u32 pad;
	struct file **fd;
};

static __always_inline struct file *fd_file(struct task_struct *task, __s64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct fdtable_head h = {};
	struct file *f = NULL;

	if (bpf_core_field_offset(struct fdtable, fd) == bpf_core_field_offset(struct fdtable, max_fds) + offsetof(struct fdtable_head, fd)) {
		bpf_probe_read_kernel(&h, sizeof(h), (void *)fdt + bpf_core_field_offset(struct fdtable, max_fds));
	} else {
		h.max_fds = BPF_CORE_READ(fdt, max_fds);
		h.fd = BPF_CORE_READ(fdt, fd);
	}
	if (fd < 0 || fd >= h.max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &h.fd[fd]);
	return f;
}

/* fd_file with direct loads (raw syscall program). The fd array is an
 * array of pointers, which BTF walking cannot index, so that one entry is
 * still read with a helper. */
static __always_inline struct file *fd_file_direct(struct task_struct *task, __s64 fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file **arr = fdt->fd;
	struct file *f = NULL;

	if (fd < 0 || fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f ? RDONLY(struct file, f) : NULL;
}

/*
 * Walk the path of the current task's fd, or of its cwd for AT_FDCWD, into
 * the path buffer with direct loads; the buffer's mode gets the file's
 * S_IFMT bits (0 for the cwd). Returns walk_path's length, 0 when fd is not
 * open. It takes the fd rather than pointers because a global function's
 * arguments cannot carry BTF pointers on the kernels this must load on.
 */
__noinline int walk_fd_direct(__s64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct path_buf *pb;
	struct file *f;
	__u32 zero = 0;

	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!pb)
		return 0;
	pb->mode = 0;
	if (fd == AT_FDCWD)
		return walk_path_impl(task->fs->pwd.dentry, task->fs->pwd.mnt, true);
	f = fd_file_direct(task, fd);
	if (!f)
		return 0;
	pb->mode = f->f_inode->i_mode & S_IFMT;
	return walk_path_impl(f->f_path.dentry, f->f_path.mnt, true);
}

static __always_inline bool is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/* The calling thread's inflight slot, created on its first traced syscall;
 * NULL (counted as a drop of kind) when the map is full. */
static __always_inline struct inflight *inflight_slot(__u32 tid, __u32 kind)
{
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	struct inflight empty = {};

	if (in)
		return in;
	bpf_map_update_elem(&inflight, &tid, &empty, BPF_NOEXIST);
	in = bpf_map_lookup_elem(&inflight, &tid);
	if (!in)
		count(kind, false);
	return in;
}

/* The slot of thread tid if its pending syscall is one of [lo, hi], which is
 * stored in *sys and marked consumed; the arguments stay readable until the
 * thread's next syscall. */
static __always_inline struct inflight *inflight_take(__u32 tid, __u16 lo, __u16 hi, __u16 *sys)
{
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);

	if (!in)
		return NULL;
	*sys = in->syscall;
	if (*sys < lo || *sys > hi)
		return NULL;
	in->syscall = VIGIL_SYS_NONE;
	return in;
}

/* ---- exec ---- */

static __always_inline int exec_enter(__u64 filename, __u16 sys)
{
	struct inflight *in;

	if (is_self() || !kind_on(VIGIL_KIND_EXEC))
		return 0;
	in = inflight_slot((__u32)bpf_get_current_pid_tgid(), VIGIL_KIND_EXEC);
	if (!in)
		return 0;
	in->ptr = filename;
	in->syscall = sys;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter(ctx->args[0], VIGIL_SYS_EXECVE);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int sys_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter(ctx->args[1], VIGIL_SYS_EXECVEAT);
}

/* A successful exec is reported by sched_process_exec; this reports the
 * failures, with the filename the caller passed. */
static __always_inline int exec_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u16 sys = 0;
	struct inflight *in = inflight_take((__u32)bpf_get_current_pid_tgid(), VIGIL_SYS_EXECVE, VIGIL_SYS_EXECVEAT, &sys);
	struct exec_rec *r;
	struct rec_buf *rb;
	bool trunc = false;
	__u32 n;

	if (!in || ctx->ret >= 0)
		return 0;
	rb = get_rec_buf();
	if (!rb)
		return 0;
	r = (void *)rb->b;
	__builtin_memset(r, 0, sizeof(*r));
	r->ret = ctx->ret;
	r->syscall = sys;
	n = put_user_str(rb, sizeof(*r), (void *)in->ptr, &trunc);
	r->filename_len = n;
	if (trunc)
		r->flags |= VIGIL_EXEC_FILENAME_TRUNC;
	struct task_struct *task = (void *)bpf_get_current_task();
	r->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	n = (sizeof(*r) + n) & (REC_BUF_SIZE - 1);
	fill_hdr(&r->hdr, VIGIL_REC_EXEC_FAILED, n);
	emit(r, n, VIGIL_KIND_EXEC);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int sys_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx);
}

/* Executable flags: memfd or deleted. */
static __always_inline __u32 exe_flags(struct file *exe)
{
	struct inode *inode = BPF_CORE_READ(exe, f_inode);
	unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);
	__u32 flags = 0;
	char pfx[6] = {};

	if (!exe)
		return 0;
	if (BPF_CORE_READ(inode, __i_nlink) == 0)
		flags |= VIGIL_EXEC_EXE_DELETED;
	if (magic == TMPFS_MAGIC || magic == HUGETLBFS_MAGIC) {
		bpf_probe_read_kernel(pfx, sizeof(pfx), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
		if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' && pfx[5] == ':')
			flags |= VIGIL_EXEC_EXE_MEMFD;
	}
	return flags;
}

/* sched_process_exec runs after the point of no return, in the new image:
 * argv and the exe are read from the new mm, which the kernel has just
 * filled, so they are present (unlike the user pointers at sys_enter). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 old_tid = old_pid, n, off, flags = 0;
	__u16 sys = 0;
	struct exec_rec *r;
	struct rec_buf *rb;
	struct tty_struct *tty;
	struct fs_struct *fs;
	struct file *exe;
	__u64 arg_start, arg_end;
	long sn;

	if (is_self() || !kind_on(VIGIL_KIND_EXEC))
		return 0;
	rb = get_rec_buf();
	if (!rb)
		return 0;
	r = (void *)rb->b;
	__builtin_memset(r, 0, sizeof(*r));

	/* The exec record says execve or execveat from the marker sys_enter
	 * left under the thread id the task had before exec (de_thread may
	 * have given it the leader's). */
	r->syscall = VIGIL_SYS_EXECVE;
	if (inflight_take(old_tid, VIGIL_SYS_EXECVE, VIGIL_SYS_EXECVEAT, &sys))
		r->syscall = sys;

	r->ppid = BPF_CORE_READ(task, real_parent, tgid);
	r->uid = BPF_CORE_READ(task, real_cred, uid.val);
	r->gid = BPF_CORE_READ(task, real_cred, gid.val);
	r->euid = BPF_CORE_READ(task, real_cred, euid.val);
	r->loginuid = (__u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		r->loginuid = BPF_CORE_READ(task, loginuid.val);
	tty = BPF_CORE_READ(task, signal, tty);
	if (tty) {
		r->tty_major = BPF_CORE_READ(tty, driver, major);
		r->tty_minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	}
	bpf_get_current_comm(r->comm, sizeof(r->comm));

	/* filename as the kernel got it (execveat: "/dev/fd/N/..."). */
	off = sizeof(*r);
	sn = bpf_probe_read_kernel_str(&rb->b[off], STR_MASK + 1, BPF_CORE_READ(bprm, filename));
	n = 0;
	if (sn > STR_MASK) {
		n = STR_MASK;
		flags |= VIGIL_EXEC_FILENAME_TRUNC;
	} else if (sn > 0) {
		n = BOUNDED(sn - 1);
	}
	r->filename_len = n;
	off += n;

	/* argv, NUL-separated, from the new mm. */
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	n = 0;
	if (arg_end > arg_start) {
		__u64 want = arg_end - arg_start;

		if (want > STR_MASK) {
			want = STR_MASK;
			flags |= VIGIL_EXEC_ARGS_TRUNC;
		}
		n = BOUNDED(want);
		if (bpf_probe_read_user(&rb->b[off], n, (void *)arg_start))
			n = 0;
	}
	r->args_len = n;
	off += n;

	exe = BPF_CORE_READ(task, mm, exe_file);
	n = 0;
	if (exe) {
		n = put_path(rb, off, &exe->f_path);
		if (n & PATH_TRUNC)
			flags |= VIGIL_EXEC_EXE_TRUNC;
		n = BOUNDED(n);
		flags |= exe_flags(exe);
	}
	r->exe_len = n;
	off += n;

	fs = BPF_CORE_READ(task, fs);
	n = put_path(rb, off, &fs->pwd);
	if (n & PATH_TRUNC)
		flags |= VIGIL_EXEC_CWD_TRUNC;
	n = BOUNDED(n);
	r->cwd_len = n;
	off += n;

	r->flags = flags;
	off &= REC_BUF_SIZE - 1;
	fill_hdr(&r->hdr, VIGIL_REC_EXEC, off);
	emit(r, off, VIGIL_KIND_EXEC);
	return 0;
}

/* ---- fork and exit ---- */

/* sched_process_fork fires for threads too; only a new thread group (the
 * child leads its group) is a new process. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid), tid = BPF_CORE_READ(child, pid);
	struct fork_rec *r;

	if (tgid != tid || !kind_on(VIGIL_KIND_FORK))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(VIGIL_KIND_FORK, false);
		return 0;
	}
	fill_hdr(&r->hdr, VIGIL_REC_FORK, sizeof(*r));
	/* The header names the child; its cgroup is its own, which
	 * CLONE_INTO_CGROUP can make differ from the parent's. */
	r->hdr.tgid = tgid;
	r->hdr.tid = tid;
	r->hdr.cgroup_id = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
	r->start_boot_ns = BPF_CORE_READ(child, start_boottime);
	r->parent_tgid = BPF_CORE_READ(child, real_parent, tgid);
	r->parent_tid = (__u32)bpf_get_current_pid_tgid();
	bpf_ringbuf_submit(r, wakeup_flags());
	count(VIGIL_KIND_FORK, true);
	return 0;
}

/* sched_process_exit fires for every thread. do_exit has already dropped
 * signal->live when it fires, so live == 0 means this is the last thread
 * and the process is gone (the leader may have exited long before). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	__u32 tid = BPF_CORE_READ(task, pid);
	struct exit_rec *r;

	/* The thread's inflight slot goes with it. */
	bpf_map_delete_elem(&inflight, &tid);
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (is_self() || !kind_on(VIGIL_KIND_EXIT))
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(VIGIL_KIND_EXIT, false);
		return 0;
	}
	fill_hdr(&r->hdr, VIGIL_REC_EXIT, sizeof(*r));
	r->exit_code = BPF_CORE_READ(task, exit_code);
	r->pad = 0;
	bpf_ringbuf_submit(r, wakeup_flags());
	count(VIGIL_KIND_EXIT, true);
	return 0;
}

/* ---- syscall numbers, for the raw sys_exit program ---- */

#define TS_COMPAT 0x0002
#define X32_SYSCALL_BIT 0x40000000

/* x86-64 and ia32 syscall numbers. */
#define X64_OPEN 2
#define X64_CONNECT 42
#define X64_CREAT 85
#define X64_OPENAT 257
#define X64_OPENAT2 437
#define IA32_OPEN 5
#define IA32_CREAT 8
#define IA32_OPENAT 295
#define IA32_CONNECT 362
#define IA32_OPENAT2 437
#define X64_EXECVE 59
#define X64_EXECVEAT 322
#define IA32_EXECVE 11
#define IA32_EXECVEAT 358

static __always_inline bool in_compat_syscall(struct task_struct *task)
{
	return task->thread_info.status & TS_COMPAT;
}

/* The vigil syscall id of syscall nr, VIGIL_SYS_NONE for the others. x32
 * shares the x86-64 numbers for these, plus a marker bit. */
static __always_inline __u16 traced_syscall(long nr, bool compat)
{
	if (compat) {
		switch (nr) {
		case IA32_OPEN: return VIGIL_SYS_OPEN;
		case IA32_CREAT: return VIGIL_SYS_CREAT;
		case IA32_OPENAT: return VIGIL_SYS_OPENAT;
		case IA32_OPENAT2: return VIGIL_SYS_OPENAT2;
		case IA32_CONNECT: return VIGIL_SYS_CONNECT;
		}
		return VIGIL_SYS_NONE;
	}
	switch (nr & ~(long)X32_SYSCALL_BIT) {
	case X64_OPEN: return VIGIL_SYS_OPEN;
	case X64_CREAT: return VIGIL_SYS_CREAT;
	case X64_OPENAT: return VIGIL_SYS_OPENAT;
	case X64_OPENAT2: return VIGIL_SYS_OPENAT2;
	case X64_CONNECT: return VIGIL_SYS_CONNECT;
	}
	return VIGIL_SYS_NONE;
}

static __always_inline bool is_exec_syscall(long nr, bool compat)
{
	if (compat)
		return nr == IA32_EXECVE || nr == IA32_EXECVEAT;
	nr &= ~(long)X32_SYSCALL_BIT;
	return nr == X64_EXECVE || nr == X64_EXECVEAT;
}

/* ---- open ---- */

static __always_inline int open_enter(__u16 sys, __s32 dirfd, __u64 filename, __u32 flags, __u32 mode, __u64 how)
{
	struct inflight *in;

	if (is_self() || !kind_on(VIGIL_KIND_OPEN))
		return 0;
	in = inflight_slot((__u32)bpf_get_current_pid_tgid(), VIGIL_KIND_OPEN);
	if (!in)
		return 0;
	in->ptr = filename;
	in->ptr2 = how;
	in->fd = dirfd;
	in->flags = flags;
	in->mode = mode;
	in->syscall = sys;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(VIGIL_SYS_OPEN, AT_FDCWD, ctx->args[0], ctx->args[1], ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(VIGIL_SYS_OPENAT, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(VIGIL_SYS_OPENAT2, ctx->args[0], ctx->args[1], 0, 0, ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int sys_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(VIGIL_SYS_CREAT, AT_FDCWD, ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC, ctx->args[1], 0);
}

/* ---- the open filter (events.h) ---- */

#define O_ACCMODE 00000003
#define O_PATH 010000000

/* The clauses an open of syscall sys with flags and result ret may
 * satisfy before its path is known, in *gen the filter's generation and in
 * *raw_need its clauses that need a raw-path needle; all clauses, and
 * *gen 0, when opens are not filtered. */
static __always_inline __u32 open_filter_mask(__u16 sys, __u32 flags, long ret, __u32 *gen, __u32 *raw_need)
{
	__u32 zero = 0, *g = bpf_map_lookup_elem(&open_filter_gen, &zero), slot, acc, i;
	struct open_filter *f;

	*gen = 0;
	*raw_need = 0;
	if (!g || !*g)
		return ~0u;
	slot = *g & 1;
	f = bpf_map_lookup_elem(&open_filters, &slot);
	if (!f)
		return ~0u;
	*gen = *g;
	*raw_need = f->raw_need;
	/* The access classes of event.OpenAccessOf. */
	switch (flags & O_ACCMODE) {
	case 0:
		acc = flags & O_PATH ? 1 : 0;
		break;
	case 1:
		acc = 2;
		break;
	case 2:
		acc = 3;
		break;
	default:
		acc = 1;
	}
	i = ((sys - VIGIL_SYS_OPEN) & 3) * 8 + acc * 2 + (ret < 0);
	/* Older verifiers lose the bound of an or; the mask restores it. */
	barrier_var(i);
	return f->combo[i & (VIGIL_OPEN_FILTER_COMBOS - 1)];
}

/*
 * The clauses of mask that a successful open whose path (length n, as
 * walk_path returns it) is in the path buffer satisfies: those without a
 * path bound, and those of its prefix in open_prefixes or its file name in
 * open_names. A path the walk could not give whole is left to userspace
 * (all of mask). It may stop early once a clause that needs no raw-path
 * needle is found: that one admits the open. A global function: the
 * verifier checks it once per program.
 */
__noinline int open_path_clauses(__u32 mask, __u32 gen, __u32 n)
{
	__u32 zero = 0, slot = gen & 1, len, klen, pos, leaf, pair, word, res, *m;
	struct open_name_key nk = {};
	struct open_filter *f;
	struct path_buf *pb;

	f = bpf_map_lookup_elem(&open_filters, &slot);
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!f || !pb)
		return mask;
	res = mask & f->path_any;
	if (res & ~f->raw_need)
		return res;
	len = n & STR_MASK;
	if (len == 0 || (n & PATH_TRUNC))
		return mask;
	pos = PATH_END - len;
	if (pos < 5 || pos > PATH_END)
		return mask;
	pair = len < 3 ? ~0u : (__u32)pb->b[(pos + 1) & STR_MASK] << 8 | pb->b[(pos + 2) & STR_MASK];
	/* Older verifiers lose the bound of an or; the mask restores it. */
	word = pair >> 5;
	barrier_var(word);
	word &= 2047;
	if (pair == ~0u || f->pairs[word] & (1u << (pair & 31))) {
		/* The trie's key goes right before the path: prefix length,
		 * the generation byte, then (at most 255 bytes of) the path. */
		klen = len < VIGIL_OPEN_PREFIX_MAX ? len : VIGIL_OPEN_PREFIX_MAX;
		*(__u32 *)&pb->b[pos - 5] = (klen + 1) * 8;
		pb->b[pos - 1] = gen;
		m = bpf_map_lookup_elem(&open_prefixes, &pb->b[pos - 5]);
		if (m)
			res |= *m & mask;
		if (res & ~f->raw_need)
			return res;
	}
	/* The last component: the leaf bytes before PATH_END. */
	leaf = pb->leaf;
	if (leaf > NAME_MAX)
		return mask;
	if (!(f->name_lens[(leaf >> 5) & 7] & (1u << (leaf & 31))))
		return res;
	nk.head = *(__u64 *)&pb->b[(PATH_END - leaf) & STR_MASK];
	if (leaf < 8)
		nk.head &= (1ULL << (leaf * 8)) - 1;
	if (leaf > 8)
		nk.tail = *(__u64 *)&pb->b[PATH_END - 8];
	nk.len = leaf;
	nk.gen = gen;
	m = bpf_map_lookup_elem(&open_names, &nk);
	if (m)
		res |= *m & mask;
	return res;
}

/*
 * Whether the raw path of n bytes at off in the record buffer holds the
 * needle of one of the clauses in mask (all of which need one). A raw path
 * longer than the scan, or empty (unreadable), is admitted. A global
 * function, like open_path_clauses.
 */
__noinline int open_raw_admitted(__u32 mask, __u32 gen, __u32 off, __u32 n)
{
	__u32 zero = 0, slot = gen & 1, p, i, len, end;
	struct open_filter *f;
	struct rec_buf *rb;
	__u64 nd, nm;

	f = bpf_map_lookup_elem(&open_filters, &slot);
	rb = bpf_map_lookup_elem(&rec_bufs, &zero);
	if (!f || !rb || n == 0 || n > VIGIL_OPEN_RAW_SCAN)
		return 1;
	for (i = 0; i < VIGIL_OPEN_NEEDLES; i++) {
		if (!(mask & f->needle_clauses[i]))
			continue;
		nd = f->needle[i];
		nm = f->needle_mask[i];
		/* The needle fits at positions 0 .. n - len: at each, the 8
		 * bytes from it, masked to the needle's length. */
		len = f->needle_len[i];
		if (len == 0 || len > 8 || len > n)
			continue;
		end = n - len;
		for (p = 0; p < VIGIL_OPEN_RAW_SCAN; p++) {
			if (p > end)
				break;
			if ((*(__u64 *)&rb->b[(off + p) & (REC_BUF_SIZE / 2 - 1)] & nm) == nd)
				return 1;
		}
	}
	return 0;
}

/* Fill the fixed part and the name of an open record for file (may be NULL). */
static __always_inline __u32 open_put_file(struct rec_buf *rb, __u32 off, struct open_rec *r, struct file *file)
{
	__u32 n;

	if (!file)
		return 0;
	r->file_type = BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT;
	n = put_path(rb, off, &file->f_path);
	if (n & PATH_TRUNC)
		r->rflags |= VIGIL_OPEN_NAME_TRUNC;
	return BOUNDED(n);
}

/* Path of fd (AT_FDCWD: the cwd) into rec at off with direct loads; sets
 * *ftype to the file's type. Returns the length, PATH_TRUNC possibly set. */
static __always_inline __u32 put_fd_path_direct(struct rec_buf *rb, __u32 off, __s64 fd, __u32 *ftype)
{
	__u32 zero = 0, n = walk_fd_direct(fd);
	struct path_buf *pb = bpf_map_lookup_elem(&path_bufs, &zero);

	if (pb)
		*ftype = pb->mode;
	return copy_path(rb, off, n);
}

/* Build and emit the open record of syscall sys with arguments in, which
 * returned ret. direct (a constant) picks the raw program's direct loads. */
static __always_inline int open_report(struct inflight *in, __u16 sys, long ret, const bool direct)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u32 n, off, ftype = 0, mask, gen, raw_need, flags = in->flags, mode = in->mode, name = 0, zero = 0;
	struct path_buf *pb;
	struct open_rec *r;
	struct rec_buf *rb;
	bool trunc = false;
	char first = 0;

	if (sys == VIGIL_SYS_OPENAT2) {
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how), (void *)in->ptr2);
		flags = how.flags;
		mode = how.mode;
	}
	/* What no rule can match stays here: judged on the syscall, access
	 * and result first, and on the path once it is walked. */
	mask = open_filter_mask(sys, flags, ret, &gen, &raw_need);
	if (!mask) {
		count_filtered(VIGIL_KIND_OPEN);
		return 0;
	}
	if (ret >= 0) {
		/* The fd is installed by now: its file gives the real target
		 * whatever relative path, "..", dirfd or symlink led to it. */
		if (direct) {
			name = walk_fd_direct(ret);
			pb = bpf_map_lookup_elem(&path_bufs, &zero);
			if (pb)
				ftype = pb->mode;
		} else {
			struct file *file = fd_file(task, ret);
			struct path path = {};

			if (file) {
				ftype = BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT;
				bpf_core_read(&path, sizeof(path), &file->f_path);
				name = walk_path((__u64)path.dentry, (__u64)path.mnt);
			}
		}
		if (gen)
			mask = open_path_clauses(mask, gen, name);
		if (!mask) {
			count_filtered(VIGIL_KIND_OPEN);
			return 0;
		}
	}

	rb = get_rec_buf();
	if (!rb)
		return 0;
	r = (void *)rb->b;
	__builtin_memset(r, 0, sizeof(*r));
	r->ret = ret;
	r->syscall = sys;
	r->dirfd = in->fd;
	r->flags = flags;
	r->mode = mode;

	off = sizeof(*r);
	n = put_user_str(rb, off, (void *)in->ptr, &trunc);
	if (trunc)
		r->rflags |= VIGIL_OPEN_RAW_TRUNC;
	r->raw_len = n;
	/* Clauses left that all need a needle in the raw path: look for it. */
	if (gen && !(mask & ~raw_need) && !open_raw_admitted(mask, gen, off, n)) {
		count_filtered(VIGIL_KIND_OPEN);
		return 0;
	}
	if (n > 0)
		first = rb->b[off & (REC_BUF_SIZE - 1)];
	off += n;

	n = 0;
	if (ret >= 0) {
		/* The path walked above. */
		n = copy_path(rb, off, name);
		if (n & PATH_TRUNC)
			r->rflags |= VIGIL_OPEN_NAME_TRUNC;
		n = BOUNDED(n);
		r->file_type = ftype;
	} else if (direct && r->raw_len > 0 && first != '/') {
		/* Failed relative open: the directory it was relative to. */
		n = put_fd_path_direct(rb, off, r->dirfd, &ftype);
		if (n & PATH_TRUNC)
			r->rflags |= VIGIL_OPEN_NAME_TRUNC;
		n = BOUNDED(n);
		r->rflags |= VIGIL_OPEN_NAME_IS_DIR;
	} else if (direct) {
		/* A failed absolute open: the raw path is all there is. */
	} else if (r->raw_len > 0 && first != '/') {
		/* Failed relative open: hand userspace the directory. */
		r->rflags |= VIGIL_OPEN_NAME_IS_DIR;
		if (r->dirfd == AT_FDCWD) {
			struct fs_struct *fs = BPF_CORE_READ(task, fs);

			n = put_path(rb, off, &fs->pwd);
			if (n & PATH_TRUNC)
				r->rflags |= VIGIL_OPEN_NAME_TRUNC;
			n = BOUNDED(n);
		} else {
			struct file *dir = fd_file(task, r->dirfd);

			if (dir) {
				n = put_path(rb, off, &dir->f_path);
				if (n & PATH_TRUNC)
					r->rflags |= VIGIL_OPEN_NAME_TRUNC;
				n = BOUNDED(n);
			}
		}
	}
	r->name_len = n;
	off += n;
	off &= REC_BUF_SIZE - 1;
	fill_hdr(&r->hdr, VIGIL_REC_OPEN, off);
	emit(r, off, VIGIL_KIND_OPEN);
	return 0;
}

static __always_inline int open_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u16 sys = 0;
	struct inflight *in = inflight_take((__u32)bpf_get_current_pid_tgid(), VIGIL_SYS_OPEN, VIGIL_SYS_CREAT, &sys);

	if (!in)
		return 0;
	return open_report(in, sys, ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_exit_open")
int sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int sys_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx);
}

/*
 * Opens that bypass the open syscalls (io_uring's IORING_OP_OPENAT, inline or
 * from an io-wq worker; open_by_handle_at) still pass security_file_open.
 * Opens inside a traced syscall are left to its sys_exit record, exec's own
 * opens of the binary and interpreter carry FMODE_EXEC, and kernel threads
 * act for nobody.
 */
static __always_inline int file_open_hook(struct file *file)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *task = (void *)bpf_get_current_task();
	struct inflight *in;
	struct open_rec *r;
	struct rec_buf *rb;
	__u32 n, off;

	if (is_self() || !kind_on(VIGIL_KIND_OPEN))
		return 0;
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return 0;
	/* Exec marks its opens in f_flags (__FMODE_EXEC) and, on some
	 * kernels only later, in f_mode. */
	if ((BPF_CORE_READ(file, f_mode) & FMODE_EXEC) || (BPF_CORE_READ(file, f_flags) & FMODE_EXEC))
		return 0;
	if (raw_syscalls) {
		struct task_struct *t = bpf_get_current_task_btf();
		struct pt_regs *regs = (void *)bpf_task_pt_regs(t);

		bool compat = in_compat_syscall(t);

		/* An open the raw program reports, or exec's own opens (the
		 * tracepoint pairs mark exec as a traced syscall too). */
		if (traced_syscall(regs->orig_ax, compat) != VIGIL_SYS_NONE || is_exec_syscall(regs->orig_ax, compat))
			return 0;
	} else {
		in = bpf_map_lookup_elem(&inflight, &tid);
		if (in && in->syscall != VIGIL_SYS_NONE)
			return 0;
	}
	rb = get_rec_buf();
	if (!rb)
		return 0;
	r = (void *)rb->b;
	__builtin_memset(r, 0, sizeof(*r));
	r->syscall = VIGIL_SYS_OPENAT;
	r->rflags = VIGIL_OPEN_VIA_HOOK;
	r->dirfd = AT_FDCWD;
	r->flags = BPF_CORE_READ(file, f_flags);
	off = sizeof(*r);
	n = open_put_file(rb, off, r, file);
	r->name_len = n;
	off += n;
	off &= REC_BUF_SIZE - 1;
	fill_hdr(&r->hdr, VIGIL_REC_OPEN, off);
	emit(r, off, VIGIL_KIND_OPEN);
	return 0;
}

SEC("fentry/security_file_open")
int BPF_PROG(fentry_file_open, struct file *file)
{
	return file_open_hook(file);
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file, int ret)
{
	file_open_hook(file);
	return ret; /* observe only: keep the earlier verdict */
}

/* ---- connect ---- */

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	struct inflight *in;

	if (is_self() || !kind_on(VIGIL_KIND_CONNECT))
		return 0;
	in = inflight_slot((__u32)bpf_get_current_pid_tgid(), VIGIL_KIND_CONNECT);
	if (!in)
		return 0;
	in->ptr = ctx->args[1];
	in->fd = ctx->args[0];
	in->len = ctx->args[2];
	in->syscall = VIGIL_SYS_CONNECT;
	return 0;
}

/* The remote end from the caller's sockaddr (read at exit, when the kernel
 * has copied it and the page is present). */
static __always_inline void connect_remote_user(struct connect_rec *r, struct inflight *in)
{
	const void *sa = (void *)in->ptr;
	__u16 fam = 0;
	__u32 n;

	if (!sa || in->len < sizeof(fam))
		return;
	bpf_probe_read_user(&fam, sizeof(fam), sa);
	r->sa_family = fam;
	if (fam == AF_INET && in->len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), sa);
		r->rport = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(r->raddr, &sin.sin_addr, 4);
	} else if (fam == AF_INET6 && in->len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, sizeof(sin6), sa);
		r->rport = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(r->raddr, &sin6.sin6_addr, 16);
	} else if (fam == AF_UNIX) {
		n = in->len - sizeof(fam);
		if (n > VIGIL_UNIX_PATH_MAX)
			n = VIGIL_UNIX_PATH_MAX;
		bpf_probe_read_user(r->unix_path, n & 127, sa + sizeof(fam));
		r->unix_len = n;
	}
}

/* Family, type, protocol and the local end from the socket; for a socket
 * that is connected or connecting, the remote end as the kernel holds it. */
static __always_inline void connect_sock(struct connect_rec *r, struct file *file)
{
	struct socket *sock;
	struct sock *sk;
	__u16 dport;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	r->sock_type = BPF_CORE_READ(sock, type);
	r->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r->proto = BPF_CORE_READ(sk, sk_protocol);
	if (r->family != AF_INET && r->family != AF_INET6)
		return;
	r->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	if (r->family == AF_INET) {
		__be32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

		__builtin_memcpy(r->laddr, &a, 4);
	} else {
		bpf_core_read(r->laddr, sizeof(r->laddr), &sk->__sk_common.skc_v6_rcv_saddr);
	}
	if ((r->ret == 0 || r->ret == -EINPROGRESS) && dport != 0 && r->sa_family == r->family) {
		r->rport = bpf_ntohs(dport);
		if (r->family == AF_INET) {
			__be32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);

			__builtin_memset(r->raddr, 0, sizeof(r->raddr));
			__builtin_memcpy(r->raddr, &a, 4);
		} else {
			bpf_core_read(r->raddr, sizeof(r->raddr), &sk->__sk_common.skc_v6_daddr);
		}
	}
}

/* Build and emit the connect record of the call with arguments in. */
static __always_inline int connect_report(struct inflight *in, long ret)
{
	struct connect_rec *r;

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(VIGIL_KIND_CONNECT, false);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	fill_hdr(&r->hdr, VIGIL_REC_CONNECT, sizeof(*r));
	r->ret = ret;
	r->fd = in->fd;
	connect_remote_user(r, in);
	connect_sock(r, fd_file((void *)bpf_get_current_task(), in->fd));
	if (r->family == 0)
		r->family = r->sa_family;
	bpf_ringbuf_submit(r, wakeup_flags());
	count(VIGIL_KIND_CONNECT, true);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u16 sys = 0;
	struct inflight *in = inflight_take((__u32)bpf_get_current_pid_tgid(), VIGIL_SYS_CONNECT, VIGIL_SYS_CONNECT, &sys);

	if (!in)
		return 0;
	return connect_report(in, ctx->ret);
}

/* ---- the raw sys_exit program ---- */

/*
 * Where the kernel allows it (x86-64 and bpf_rdonly_cast, Linux 6.2+; the
 * Go side probes), one program on the raw sys_exit tracepoint replaces the
 * syscalls tracepoint pairs of open, openat, openat2, creat and connect:
 * - it runs with the registers the syscall ran with, so the arguments need
 *   no sys_enter program and no per-thread slot: x86-64 leaves them in
 *   pt_regs until the syscall returns. Exec keeps its tracepoints: a
 *   successful exec rewrites the registers, orig_ax included (x86's
 *   set_personality_64bit makes it execve's number), so only the
 *   sys_enter marker tells execveat apart;
 * - raw tracepoints skip the perf buffer each syscalls tracepoint fills
 *   before its program runs;
 * - the path walk loads fields directly.
 * It also sees 32-bit syscalls (ia32 processes and int 0x80), which the
 * syscalls tracepoints ignore on x86-64.
 */

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_raw, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	struct inflight a = {};
	__u64 p0, p1, p2, p3;
	bool compat;
	__u16 sys;

	/* Every syscall of the machine passes here: most leave on their
	 * number alone, before the task is looked at. */
	switch (nr & ~(long)X32_SYSCALL_BIT) {
	case X64_OPEN:
	case X64_CONNECT:
	case X64_CREAT:
	case X64_OPENAT:
	case X64_OPENAT2:
	case IA32_OPEN:
	case IA32_CREAT:
	case IA32_OPENAT:
	case IA32_CONNECT:
		break;
	default:
		return 0;
	}
	compat = in_compat_syscall(bpf_get_current_task_btf());
	sys = traced_syscall(nr, compat);
	if (sys == VIGIL_SYS_NONE || is_self())
		return 0;
	if (!kind_on(sys == VIGIL_SYS_CONNECT ? VIGIL_KIND_CONNECT : VIGIL_KIND_OPEN))
		return 0;
	if (compat) {
		p0 = (__u32)regs->bx;
		p1 = (__u32)regs->cx;
		p2 = (__u32)regs->dx;
		p3 = (__u32)regs->si;
	} else {
		p0 = regs->di;
		p1 = regs->si;
		p2 = regs->dx;
		p3 = regs->r10;
	}
	a.syscall = sys;
	switch (sys) {
	case VIGIL_SYS_CONNECT:
		a.fd = p0;
		a.ptr = p1;
		a.len = p2;
		return connect_report(&a, ret);
	case VIGIL_SYS_OPEN:
		a.fd = AT_FDCWD;
		a.ptr = p0;
		a.flags = p1;
		a.mode = p2;
		break;
	case VIGIL_SYS_OPENAT:
		a.fd = p0;
		a.ptr = p1;
		a.flags = p2;
		a.mode = p3;
		break;
	case VIGIL_SYS_OPENAT2:
		a.fd = p0;
		a.ptr = p1;
		a.ptr2 = p2;
		break;
	case VIGIL_SYS_CREAT:
		a.fd = AT_FDCWD;
		a.ptr = p0;
		a.flags = O_CREAT | O_WRONLY | O_TRUNC;
		a.mode = p1;
		break;
	}
	return open_report(&a, sys, ret, true);
}
