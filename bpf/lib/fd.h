/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file behind a descriptor of the current task, by helper reads or,
 * in the raw program, by direct loads.
 */
#ifndef VIGIL_LIB_FD_H
#define VIGIL_LIB_FD_H

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

/* The fields of an inode its identity needs: i_ino and i_nlink, which are
 * neighbours in struct inode. */
struct inode_head {
	__u64 ino;
	__u32 nlink;
	__u32 pad;
};

/* The identity of an inode: its number, its file system's s_dev and its
 * link count, by helper reads; i_ino and i_nlink with one read where CO-RE
 * confirms the layout. */
static __always_inline void inode_ident(struct inode *inode, __u64 *ino, __u32 *dev, __u32 *nlink)
{
	__u32 base = bpf_core_field_offset(struct inode, i_ino);
	struct inode_head h = {};

	if (bpf_core_field_size(struct inode, i_ino) == 8 &&
	    bpf_core_field_offset(struct inode, __i_nlink) == base + offsetof(struct inode_head, nlink)) {
		bpf_probe_read_kernel(&h, offsetof(struct inode_head, pad), (void *)inode + base);
	} else {
		h.ino = BPF_CORE_READ(inode, i_ino);
		h.nlink = BPF_CORE_READ(inode, __i_nlink);
	}
	*ino = h.ino;
	*nlink = h.nlink;
	*dev = BPF_CORE_READ(inode, i_sb, s_dev);
}

/*
 * Walk the path of the current task's fd, or of its cwd for AT_FDCWD, into
 * the path buffer with direct loads; the buffer's mode gets the file's
 * S_IFMT bits (0 for the cwd), and its ino, dev and nlink the file's
 * identity (inode_ident). Returns walk_path's length, 0 when fd is not
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
	pb->ino = 0;
	pb->dev = 0;
	pb->nlink = 0;
	if (fd == AT_FDCWD)
		return walk_path_impl(task->fs->pwd.dentry, task->fs->pwd.mnt, true);
	f = fd_file_direct(task, fd);
	if (!f)
		return 0;
	pb->mode = f->f_inode->i_mode & S_IFMT;
	pb->ino = f->f_inode->i_ino;
	pb->dev = f->f_inode->i_sb->s_dev;
	pb->nlink = f->f_inode->__i_nlink;
	return walk_path_impl(f->f_path.dentry, f->f_path.mnt, true);
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

/* Path of the directory a relative path of the caller is relative to (the
 * dirfd's file, or the cwd for AT_FDCWD) into rec at off; direct (a
 * constant) picks the raw program's direct loads. Also the path of any fd.
 * Returns the length, PATH_TRUNC possibly set; 0 when fd is not open. */
static __always_inline __u32 put_dir_path(struct rec_buf *rb, __u32 off, __s32 dirfd, const bool direct)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file *dir;
	__u32 ftype = 0;

	if (direct)
		return put_fd_path_direct(rb, off, dirfd, &ftype);
	if (dirfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		return put_path(rb, off, &fs->pwd);
	}
	dir = fd_file(task, dirfd);
	if (!dir)
		return 0;
	return put_path(rb, off, &dir->f_path);
}

#endif /* VIGIL_LIB_FD_H */
