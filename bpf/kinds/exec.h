/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Exec (sensor/decode.go: decodeExec). A successful exec is reported by
 * sched_process_exec from the new image; the syscall's tracepoint pair
 * (syscall_table.h) leaves the marker that tells execve from execveat and
 * reports the failures.
 */
#ifndef VIGIL_KINDS_EXEC_H
#define VIGIL_KINDS_EXEC_H

/* A failed exec, with the filename the caller passed; a successful one is
 * left to sched_process_exec. */
static __always_inline int exec_report(struct sys_args *a, long ret)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct exec_rec *r;
	struct rec_buf *rb;
	bool trunc = false;
	__u32 n;

	if (ret >= 0)
		return 0;
	r = scratch_rec(&rb, sizeof(*r));
	if (!r)
		return 0;
	r->ret = ret;
	r->syscall = a->syscall;
	n = put_user_str(rb, sizeof(*r), (void *)a->path, &trunc);
	r->filename_len = n;
	if (trunc)
		r->flags |= VIGIL_EXEC_FILENAME_TRUNC;
	r->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	n = (sizeof(*r) + n) & (REC_BUF_SIZE - 1);
	fill_hdr(&r->hdr, VIGIL_REC_EXEC_FAILED, n);
	emit(r, n, VIGIL_KIND_EXEC);
	return 0;
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

#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define CAP_DAC_OVERRIDE 1
#define S_IWOTH 00002
#define S_IWGRP 00020
#define S_IWUSR 00200

/* The overlayfs layer the executable lives on. overlayfs allocates its
 * inodes as struct ovl_inode, which holds the upper dentry right after the
 * embedded VFS inode: set when the file exists in the upper layer. The
 * layout is overlayfs's own (no BTF when it is a module), unchanged since
 * Linux 4.x; falcosecurity/libs reads it the same way, so the facts mean
 * what Falco's rules expect. */
static __always_inline __u32 exe_layer(struct inode *inode)
{
	__u64 isize = bpf_core_type_size(struct inode);
	void *upper = NULL;

	if (BPF_CORE_READ(inode, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC || !isize)
		return 0;
	bpf_probe_read_kernel(&upper, sizeof(upper), (char *)inode + isize);
	return upper ? VIGIL_EXEC_EXE_UPPER : VIGIL_EXEC_EXE_LOWER;
}

/* Whether the task may write inode by its mode bits or CAP_DAC_OVERRIDE;
 * supplementary groups and ACLs are not consulted. */
static __always_inline __u32 exe_writable(struct inode *inode, const struct cred *cred, __u64 cap_eff)
{
	__u16 mode = BPF_CORE_READ(inode, i_mode);

	if ((mode & S_IWOTH) || (cap_eff & (1ULL << CAP_DAC_OVERRIDE)) ||
	    ((mode & S_IWUSR) && BPF_CORE_READ(inode, i_uid.val) == BPF_CORE_READ(cred, fsuid.val)) ||
	    ((mode & S_IWGRP) && BPF_CORE_READ(inode, i_gid.val) == BPF_CORE_READ(cred, fsgid.val)))
		return VIGIL_EXEC_EXE_WRITABLE;
	return 0;
}

/* The inode timestamps by kernel: 6.11+ keeps seconds and nanoseconds
 * apart, 6.6-6.10 named them __i_ctime and (6.7+) __i_mtime, older
 * kernels i_ctime and i_mtime. */
struct inode___v66 {
	struct timespec64 __i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));
struct inode___v67 {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));
struct inode___old {
	struct timespec64 i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline __u64 ts_ns(struct timespec64 ts)
{
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __always_inline void exe_times(struct inode *inode, struct exec_rec *r)
{
	struct inode___v66 *v66 = (void *)inode;
	struct inode___v67 *v67 = (void *)inode;
	struct inode___old *old = (void *)inode;

	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		r->exe_ctime_ns = BPF_CORE_READ(inode, i_ctime_sec) * 1000000000ULL + BPF_CORE_READ(inode, i_ctime_nsec);
		r->exe_mtime_ns = BPF_CORE_READ(inode, i_mtime_sec) * 1000000000ULL + BPF_CORE_READ(inode, i_mtime_nsec);
		return;
	}
	if (bpf_core_field_exists(v66->__i_ctime)) {
		r->exe_ctime_ns = ts_ns(BPF_CORE_READ(v66, __i_ctime));
		if (bpf_core_field_exists(v67->__i_mtime))
			r->exe_mtime_ns = ts_ns(BPF_CORE_READ(v67, __i_mtime));
		else
			r->exe_mtime_ns = ts_ns(BPF_CORE_READ(v66, i_mtime));
		return;
	}
	r->exe_ctime_ns = ts_ns(BPF_CORE_READ(old, i_ctime));
	r->exe_mtime_ns = ts_ns(BPF_CORE_READ(old, i_mtime));
}

/* The number of pid in the namespace at level, 0 when pid has none there. */
static __always_inline __u32 pid_nr_at(struct pid *pid, __u32 level)
{
	struct upid up = {};

	if (!pid || level > 31 || BPF_CORE_READ(pid, level) < level)
		return 0;
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

/* Capabilities, the process's ids in its pid namespace and its session. */
static __always_inline void exec_ids(struct task_struct *task, struct exec_rec *r)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	__u32 level = BPF_CORE_READ(pid, level);

	/* kernel_cap_t is a u64 since 6.3 and two u32 (low first) before:
	 * the same eight bytes on little-endian. */
	bpf_core_read(&r->cap_inheritable, sizeof(__u64), &cred->cap_inheritable);
	bpf_core_read(&r->cap_permitted, sizeof(__u64), &cred->cap_permitted);
	bpf_core_read(&r->cap_effective, sizeof(__u64), &cred->cap_effective);
	r->vpid = pid_nr_at(pid, level);
	r->vpgid = pid_nr_at(BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID]), level);
	r->sid = pid_nr_at(BPF_CORE_READ(task, signal, pids[PIDTYPE_SID]), 0);
}

/* The executable's path on the mount of the task's root when it was
 * reached through another mount of the same file system (a bind mount of
 * one of its directories, or the file system mounted twice): the walk from
 * its dentry with the root's mount in place of its own stops at the file
 * system's root, so it names where the file lives whichever mount it was run
 * through. Only when the root mount shows the whole file system (not inside
 * a container or chroot whose root is a directory of it). Written into the
 * record buffer at off; returns the length, PATH_TRUNC possibly set, 0 when
 * it does not apply. A global function, verified once on its own: inlined,
 * this second walk pushed sched_process_exec past the verifier's budget on
 * Linux 6.1. The task is the current one (the exec's), whose executable
 * it reads again: a global function takes no kernel pointers. */
__noinline __u32 put_exe_root_path(__u32 off)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct vfsmount *emnt, *rmnt;
	struct super_block *sb;
	struct path_buf *pb;
	struct rec_buf *rb;
	__u32 zero = 0, n, len;

	if (!exe || off > REC_BUF_SIZE / 2 - 1)
		return 0;
	emnt = BPF_CORE_READ(exe, f_path.mnt);
	rmnt = BPF_CORE_READ(task, fs, root.mnt);
	sb = BPF_CORE_READ(emnt, mnt_sb);
	if (!emnt || !rmnt || emnt == rmnt || sb != BPF_CORE_READ(rmnt, mnt_sb) ||
	    BPF_CORE_READ(rmnt, mnt_root) != BPF_CORE_READ(sb, s_root))
		return 0;
	n = walk_path((__u64)BPF_CORE_READ(exe, f_path.dentry), (__u64)rmnt);
	rb = bpf_map_lookup_elem(&rec_bufs, &zero);
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!rb || !pb)
		return 0;
	/* copy_path's copy, with off bounded right before it: 6.1's verifier
	 * forgets the range of a 32-bit value spilled across a call, which
	 * the check above gave it. */
	len = BOUNDED(n);
	barrier_var(off);
	off &= REC_BUF_SIZE / 2 - 1;
	bpf_probe_read_kernel(&rb->b[off], len, &pb->b[(PATH_END - len) & STR_MASK]);
	return n;
}

/* Copy [start, end) of the new mm (argv or the environment, which the
 * kernel has just filled) into rb at off, at most STR_MASK bytes; a longer
 * range sets trunc in *flags. Returns the bytes copied, 0 when unreadable. */
static __always_inline __u32 put_mm_range(struct rec_buf *rb, __u32 off, __u64 start, __u64 end, __u32 *flags, __u32 trunc)
{
	__u64 want;
	__u32 n;

	if (end <= start)
		return 0;
	want = end - start;
	if (want > STR_MASK) {
		want = STR_MASK;
		*flags |= trunc;
	}
	n = BOUNDED(want);
	if (bpf_probe_read_user(&rb->b[off], n, (void *)start))
		return 0;
	return n;
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
	long sn;

	if (is_self() || !kind_on(VIGIL_KIND_EXEC))
		return 0;
	r = scratch_rec(&rb, sizeof(*r));
	if (!r)
		return 0;

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
	/* binfmt_script and binfmt_misc replace interp; any other exec leaves
	 * it pointing at filename. */
	if (BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename))
		flags |= VIGIL_EXEC_INTERP;

	/* A 32-bit image: loading an ia32 ELF sets TS_COMPAT until the exec
	 * returns to user space, loading a 64-bit one clears it. Only x86
	 * has the field; elsewhere the check is dropped at load. The bit is
	 * moved, not branched on: a branch here doubles the paths 6.1's
	 * verifier walks through the rest of the program, past its limit. */
	if (bpf_core_field_exists(task->thread_info.status))
		flags |= (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) * (VIGIL_EXEC_COMPAT / TS_COMPAT);

	/* argv, NUL-separated, from the new mm. */
	n = put_mm_range(rb, off, BPF_CORE_READ(task, mm, arg_start), BPF_CORE_READ(task, mm, arg_end),
			 &flags, VIGIL_EXEC_ARGS_TRUNC);
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
	exec_ids(task, r);
	if (exe) {
		struct inode *inode = BPF_CORE_READ(exe, f_inode);

		r->exe_ino = BPF_CORE_READ(inode, i_ino);
		exe_times(inode, r);
		flags |= exe_layer(inode);
		flags |= exe_writable(inode, BPF_CORE_READ(task, cred), r->cap_effective);
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

	/* The environment, NUL-separated, likewise. */
	n = put_mm_range(rb, off, BPF_CORE_READ(task, mm, env_start), BPF_CORE_READ(task, mm, env_end),
			 &flags, VIGIL_EXEC_ENV_TRUNC);
	r->env_len = n;
	off += n;

	n = 0;
	if (exe) {
		n = put_exe_root_path(off);
		if (n & PATH_TRUNC)
			flags |= VIGIL_EXEC_EXE_TRUNC;
		n = BOUNDED(n);
	}
	r->exe_root_len = n;
	off += n;

	r->flags = flags;
	off &= REC_BUF_SIZE - 1;
	fill_hdr(&r->hdr, VIGIL_REC_EXEC, off);
	emit(r, off, VIGIL_KIND_EXEC);
	return 0;
}

#endif /* VIGIL_KINDS_EXEC_H */
