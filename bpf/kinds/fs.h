/* SPDX-License-Identifier: GPL-2.0 */
/*
 * File-system changes (sensor/decode_fs.go: decodeFS), at syscall exit:
 * symlink, link, rename, unlink, rmdir, mkdir, chmod and their variants.
 * The paths are the caller's, made absolute against the directory the
 * kernel resolves here, because that name is what rules match and, once a
 * file is removed or renamed, the only one left.
 */
#ifndef VIGIL_KINDS_FS_H
#define VIGIL_KINDS_FS_H

/* Put one path argument at off: the caller's string (upath), then, when it
 * is relative, the directory it was relative to; with no string at all
 * (fchmod), the path of dirfd's own file. keep_raw (a symlink's target,
 * which is content, not a lookup) skips the directory. lens[0] and lens[1]
 * get the two lengths; returns the bytes written. */
static __always_inline __u32 fs_put_arg(struct rec_buf *rb, __u32 off, __u64 upath, __s32 dirfd, bool keep_raw,
					__u16 *lens, __u16 *rflags, __u16 trunc, const bool direct)
{
	bool cut = false;
	__u32 n = 0, d = 0;

	if (upath) {
		n = put_user_str(rb, off, (void *)upath, &cut);
		if (cut)
			*rflags |= trunc;
	}
	if (!keep_raw && ((!upath && dirfd != AT_FDCWD) || (n > 0 && rb->b[off & (REC_BUF_SIZE - 1)] != '/'))) {
		d = put_dir_path(rb, (off + n) & (REC_BUF_SIZE / 2 - 1), dirfd, direct);
		if (d & PATH_TRUNC)
			*rflags |= trunc;
		d = BOUNDED(d);
	}
	lens[0] = n;
	lens[1] = d;
	return n + d;
}

/* The filter key of mode (enum fs_filter_key). */
static __always_inline __u32 fs_key(__u32 mode)
{
	return (mode & 04000 ? VIGIL_FS_KEY_SUID : 0) | (mode & 02000 ? VIGIL_FS_KEY_SGID : 0) |
	       (mode & 0111 ? VIGIL_FS_KEY_EXEC : 0);
}

static __always_inline int fs_report(struct sys_args *a, long ret, const bool direct)
{
	bool symlink = a->syscall == VIGIL_SYS_SYMLINK || a->syscall == VIGIL_SYS_SYMLINKAT;
	__u32 off, gen, raw_need;
	struct rec_buf *rb;
	struct fs_rec *r;
	__u16 lens[2];

	/* What no rule can match stays here: judged on the syscall, the
	 * mode's searched bits and the result (lib/filter.h). The paths are
	 * joined in userspace, so they are not judged here. */
	if (!filter_mask(VIGIL_KIND_FS, a->syscall, fs_key(a->mode), ret, &gen, &raw_need)) {
		count_filtered(VIGIL_KIND_FS);
		return 0;
	}

	r = scratch_rec(&rb, sizeof(*r));
	if (!r)
		return 0;
	r->ret = ret;
	r->syscall = a->syscall;
	r->fd1 = a->fd;
	r->fd2 = a->fd2;
	r->flags = a->flags;
	r->mode = a->mode;
	off = sizeof(*r);
	off += fs_put_arg(rb, off, a->path, a->fd, symlink, lens, &r->rflags, VIGIL_FS_PATH1_TRUNC, direct);
	r->raw1_len = lens[0];
	r->dir1_len = lens[1];
	if (a->path2) {
		off &= REC_BUF_SIZE / 2 - 1;
		off += fs_put_arg(rb, off, a->path2, a->fd2, false, lens, &r->rflags, VIGIL_FS_PATH2_TRUNC, direct);
		r->raw2_len = lens[0];
		r->dir2_len = lens[1];
	}
	off &= REC_BUF_SIZE - 1;
	fill_hdr(&r->hdr, VIGIL_REC_FS, off);
	emit(r, off, VIGIL_KIND_FS);
	return 0;
}

#endif /* VIGIL_KINDS_FS_H */
