/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opens (sensor/decode.go: decodeOpen): open, openat, openat2, creat and
 * open_by_handle_at (whose handle is opaque: no raw path) at syscall exit, filtered by the rules (lib/filter.h) before the record is
 * built, and the optional file_open hook for opens that bypass the
 * syscalls. Each carries the opened file's identity (device, inode, link
 * count), by which the filter also admits the files the rules name.
 */
#ifndef VIGIL_KINDS_OPEN_H
#define VIGIL_KINDS_OPEN_H

/* The filter key of an open (enum open_filter_key): the bits its access
 * class depends on, which Go maps with event.OpenAccessOf. */
static __always_inline __u32 open_key(__u32 flags)
{
	return (flags & VIGIL_OPEN_KEY_ACCMODE) | (flags & O_PATH ? VIGIL_OPEN_KEY_PATH : 0);
}

/* An open record in the scratch buffer with what every open says. */
static __always_inline struct open_rec *open_rec_new(struct rec_buf **rb, __u16 sys, __s32 dirfd, __u32 flags)
{
	struct open_rec *r = scratch_rec(rb, sizeof(*r));

	if (r) {
		r->syscall = sys;
		r->dirfd = dirfd;
		r->flags = flags;
	}
	return r;
}

/* Emit open record r, whose string area ends at off. */
static __always_inline void open_emit(struct open_rec *r, __u32 off)
{
	off &= REC_BUF_SIZE - 1;
	fill_hdr(&r->hdr, VIGIL_REC_OPEN, off);
	emit(r, off, VIGIL_KIND_OPEN);
}

/* Put the directory a relative raw path was relative to at off (dir_len,
 * VIGIL_OPEN_DIR_TRUNC); returns its length. */
static __always_inline __u32 open_put_dir(struct rec_buf *rb, __u32 off, struct open_rec *r, const bool direct)
{
	__u32 d = put_dir_path(rb, off & (REC_BUF_SIZE / 2 - 1), r->dirfd, direct);

	if (d & PATH_TRUNC)
		r->rflags |= VIGIL_OPEN_DIR_TRUNC;
	d = BOUNDED(d);
	r->dir_len = d;
	return d;
}

/* Fill the fixed part and the name of an open record for file (may be NULL). */
static __always_inline __u32 open_put_file(struct rec_buf *rb, __u32 off, struct open_rec *r, struct file *file)
{
	struct inode *inode;
	__u32 n;

	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	r->file_type = BPF_CORE_READ(inode, i_mode) & S_IFMT;
	inode_ident(inode, &r->ino, &r->dev, &r->nlink);
	n = put_path(rb, off, &file->f_path);
	if (n & PATH_TRUNC)
		r->rflags |= VIGIL_OPEN_NAME_TRUNC;
	return BOUNDED(n);
}

/* Walk the path of fd with direct loads (walk_fd_direct) and take the
 * file's type and identity from the path buffer; returns the walk's
 * length. */
static __always_inline __u32 open_walk_direct(__s64 fd, __u32 *ftype, __u64 *ino, __u32 *dev, __u32 *nlink)
{
	__u32 zero = 0, n = walk_fd_direct(fd);
	struct path_buf *pb = bpf_map_lookup_elem(&path_bufs, &zero);

	if (pb) {
		*ftype = pb->mode;
		*ino = pb->ino;
		*dev = pb->dev;
		*nlink = pb->nlink;
	}
	return n;
}

/* Build and emit the open record of the call with arguments a, which
 * returned ret. direct (a constant) picks the raw program's direct loads. */
static __always_inline int open_report(struct sys_args *a, long ret, const bool direct)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u32 n, off, ftype = 0, mask, gen, raw_need, flags = a->flags, mode = a->mode, name = 0, caller = 0;
	__u32 pre, want, dev = 0, nlink = 0;
	struct inode *inode = NULL;
	__u64 ino = 0;
	__u16 sys = a->syscall;
	struct open_rec *r;
	struct rec_buf *rb;
	bool trunc = false, created = false, unwalked = false;
	char first = 0;

	/* The arguments that are not plain registers: openat2's flags and
	 * mode are in its struct open_how, creat's flags are implied. */
	if (sys == VIGIL_SYS_OPENAT2) {
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how), (void *)a->ptr);
		flags = how.flags;
		mode = how.mode;
	} else if (sys == VIGIL_SYS_CREAT) {
		flags = O_CREAT | O_WRONLY | O_TRUNC;
	}
	/* What no rule can match stays here: judged on the syscall, access
	 * and result first, and on the path once it is walked. */
	mask = filter_mask(VIGIL_KIND_OPEN, sys, open_key(flags), ret, &gen, &raw_need);
	if (!mask) {
		count_filtered(VIGIL_KIND_OPEN);
		return 0;
	}
	/* Clauses all on the caller's name or the raw path (Falco's rules)
	 * are judged on the raw path first, where it is its own fd.name,
	 * before the file is looked at; the raw program only. */
	if (direct && gen && ret >= 0 && filter_caller_only(VIGIL_KIND_OPEN, mask, gen)) {
		__u32 rest = mask;

		r = open_rec_new(&rb, sys, a->fd, flags);
		if (!r)
			return 0;
		n = put_user_str(rb, sizeof(*r), (void *)a->path, &trunc);
		if (!trunc && (rest & raw_need) && !filter_raw_admitted(VIGIL_KIND_OPEN, rest & raw_need, gen, sizeof(*r), n))
			rest &= ~raw_need;
		if (!trunc && (!rest || !filter_raw_name_may_match(VIGIL_KIND_OPEN, rest, gen, sizeof(*r), n))) {
			count_filtered(VIGIL_KIND_OPEN);
			return 0;
		}
		trunc = false;
	}
	if (ret >= 0) {
		/* The fd is installed by now: its file gives the real target
		 * whatever relative path, "..", dirfd or symlink led to it.
		 * The raw program first judges the path's bounds without
		 * walking it, and walks only an open that may pass. */
		if (direct) {
			unwalked = gen && !open_path_may_match(ret, mask, gen);
			if (!unwalked)
				name = open_walk_direct(ret, &ftype, &ino, &dev, &nlink);
		} else {
			struct file *file = fd_file(task, ret);
			struct path path = {};

			if (file) {
				inode = BPF_CORE_READ(file, f_inode);
				ftype = BPF_CORE_READ(inode, i_mode) & S_IFMT;
				bpf_core_read(&path, sizeof(path), &file->f_path);
				name = walk_path((__u64)path.dentry, (__u64)path.mnt);
			}
		}
		if (gen) {
			/* Unwalked, no path bound holds: what filter_path_clauses
			 * gives a path that fails every one. */
			__u64 v = unwalked ? filter_unbounded_clauses(VIGIL_KIND_OPEN, mask, gen) :
					     filter_path_clauses(VIGIL_KIND_OPEN, mask, gen, name);

			pre = mask;
			mask = (__u32)v;
			caller = v >> 32;
			/* A file the rules name reached by another name (a hard
			 * link, a bind mount): its identity admits it. Unwalked,
			 * open_path_may_match has found it is no such file. */
			if (!unwalked && !(mask & ~raw_need) && (want = filter_ident_wanted(VIGIL_KIND_OPEN, pre & ~mask, gen))) {
				if (inode)
					inode_ident(inode, &ino, &dev, &nlink);
				mask |= filter_ident_clauses(VIGIL_KIND_OPEN, want, gen, dev, ino);
			}
		}
		if (!mask && !caller) {
			count_filtered(VIGIL_KIND_OPEN);
			return 0;
		}
		/* It may pass: the record and the caller's name need the path. */
		if (unwalked)
			name = open_walk_direct(ret, &ftype, &ino, &dev, &nlink);
		/* The helper reads' identity, for the record, once the open
		 * passed (the raw program has it from the walk). */
		if (inode && ino == 0)
			inode_ident(inode, &ino, &dev, &nlink);
		/* Whether this open created the file, which only O_CREAT can
		 * do: the kernel marks the file it made. */
		if (flags & O_CREAT) {
			struct file *file = fd_file(task, ret);

			created = file && (BPF_CORE_READ(file, f_mode) & FMODE_CREATED);
		}
	}

	r = open_rec_new(&rb, sys, a->fd, flags);
	if (!r)
		return 0;
	r->ret = ret;
	r->mode = mode;
	r->ino = ino;
	r->dev = dev;
	r->nlink = nlink;
	if (created)
		r->rflags |= VIGIL_OPEN_CREATED;

	off = sizeof(*r);
	n = put_user_str(rb, off, (void *)a->path, &trunc);
	if (trunc)
		r->rflags |= VIGIL_OPEN_RAW_TRUNC;
	r->raw_len = n;
	/* Clauses on the caller's name that the walked path failed: they
	 * stand unless the caller's name is the walked path; another name
	 * ("..", a symlink, /proc/self/fd/N) the kernel cannot judge. */
	if (caller) {
		if (trunc || !filter_caller_is_walked(off, n, name, ret, r->dirfd))
			mask |= caller;
		if (!mask) {
			count_filtered(VIGIL_KIND_OPEN);
			return 0;
		}
	}
	/* Clauses left that all need a needle in the raw path: look for it. */
	if (gen && !(mask & ~raw_need) && !filter_raw_admitted(VIGIL_KIND_OPEN, mask, gen, off, n)) {
		count_filtered(VIGIL_KIND_OPEN);
		return 0;
	}
	if (n > 0)
		first = rb->b[off & (REC_BUF_SIZE - 1)];
	off += n;

	if (ret >= 0) {
		/* The path walked above. */
		n = copy_path(rb, off, name);
		if (n & PATH_TRUNC)
			r->rflags |= VIGIL_OPEN_NAME_TRUNC;
		n = BOUNDED(n);
		r->name_len = n;
		r->file_type = ftype;
		off += n;
	}
	/* A relative raw path: hand userspace the directory it was relative
	 * to, walked only now that the open passed the filter. */
	if (r->raw_len > 0 && first != '/')
		off += open_put_dir(rb, off, r, direct);
	open_emit(r, off);
	return 0;
}

/*
 * Opens that bypass the open syscalls (io_uring's IORING_OP_OPENAT, inline or
 * from an io-wq worker) still pass security_file_open.
 * Opens inside a traced syscall are left to its sys_exit record, exec's own
 * opens of the binary and interpreter carry FMODE_EXEC, and kernel threads
 * act for nobody.
 */
static __always_inline int file_open_hook(struct file *file)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *task = (void *)bpf_get_current_task();
	struct sys_args *in;
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
		struct syscall_ids ids = syscall_lookup(regs->orig_ax);

		/* An open inside a syscall of the table: the raw program
		 * reports it, or it is exec's own (whose tracepoints stay). */
		if ((in_compat_syscall(t) ? ids.ia32 : ids.x64) != VIGIL_SYS_NONE)
			return 0;
	} else {
		in = bpf_map_lookup_elem(&inflight, &tid);
		if (in && in->syscall != VIGIL_SYS_NONE)
			return 0;
	}
	r = open_rec_new(&rb, VIGIL_SYS_OPENAT, AT_FDCWD, BPF_CORE_READ(file, f_flags));
	if (!r)
		return 0;
	r->rflags = VIGIL_OPEN_VIA_HOOK;
	off = sizeof(*r);
	n = open_put_file(rb, off, r, file);
	r->name_len = n;
	open_emit(r, off + n);
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

#endif /* VIGIL_KINDS_OPEN_H */
