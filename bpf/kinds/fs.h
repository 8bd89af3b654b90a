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

/* 1 when x equals k, else 0, without a branch: the verifier then walks
 * one path per byte of the scan below, not one per outcome. The barrier
 * keeps clang from turning it back into a comparison. */
static __always_inline __u64 fs_eq(__u64 x, __u64 k)
{
	__u64 d = x ^ k;

	barrier_var(d);
	return (d - 1) >> 63;
}

/*
 * The clauses of mask, which bound one path argument, that the caller's
 * path at upath may satisfy. Only a path that already is its final name is
 * judged: absolute and clean (no empty, "." or ".." component, no trailing
 * slash), so that userspace's join leaves it as it is (event.FSFilterPath),
 * and at most VIGIL_FILTER_RAW_SCAN bytes; any other gives all of mask. The
 * path is read into the record buffer, where filter_raw_admitted searches
 * needles, and copied to end at PATH_END in the path buffer, where
 * filter_path_clauses finds its prefixes, names and suffixes. A global
 * function: the verifier checks it once.
 */
__noinline int fs_path_clauses(__u64 upath, __u32 mask, __u32 gen)
{
	__u32 zero = 0, slot = filter_slot(VIGIL_KIND_FS, gen), n, i, res;
	__u64 w = '/', c, slash, bad = 0, last = 0;
	struct kind_filter *f;
	struct path_buf *pb;
	struct rec_buf *rb;
	long r;

	f = bpf_map_lookup_elem(&filters, &slot);
	rb = bpf_map_lookup_elem(&rec_bufs, &zero);
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!f || !rb || !pb || !upath)
		return mask;
	r = bpf_probe_read_user_str(rb->b, VIGIL_FILTER_RAW_SCAN + 2, (void *)upath);
	if (r < 2 || r > VIGIL_FILTER_RAW_SCAN + 1 || rb->b[0] != '/')
		return mask;
	n = r - 1;
	/* Each slash, and the end, closes a component: "", "." and ".."
	 * are the ones a join would change. w holds the bytes before it,
	 * the latest in its low byte; last is the last slash. "/" alone is
	 * clean. */
	for (i = 1; i < VIGIL_FILTER_RAW_SCAN; i++) {
		if (i >= n)
			break;
		c = rb->b[i];
		slash = fs_eq(c, '/');
		bad |= slash & (fs_eq(w & 0xff, '/') | fs_eq(w & 0xffff, '/' << 8 | '.') |
				fs_eq(w & 0xffffff, '/' << 16 | '.' << 8 | '.'));
		last ^= (last ^ i) & -slash;
		w = w << 8 | c;
	}
	if (n > 1)
		bad |= fs_eq(w & 0xff, '/') | fs_eq(w & 0xffff, '/' << 8 | '.') |
		       fs_eq(w & 0xffffff, '/' << 16 | '.' << 8 | '.');
	if (bad)
		return mask;
	n &= 2 * VIGIL_FILTER_RAW_SCAN - 1;
	bpf_probe_read_kernel(&pb->b[(PATH_END - n) & STR_MASK], n, rb->b);
	pb->leaf = n - 1 - last;
	res = filter_path_clauses(VIGIL_KIND_FS, mask, gen, n);
	if (res & ~f->raw_need)
		return res;
	/* Clauses left that all need a needle in the path: look for it. */
	if (res && filter_raw_admitted(VIGIL_KIND_FS, res, gen, 0, n))
		return res;
	return 0;
}

/* Whether a successful change may satisfy one of the clauses of mask by
 * its paths: a clause that bounds no path admits it; one that bounds a
 * path argument (path_args) needs that path to satisfy its bounds. */
static __always_inline bool fs_paths_admitted(struct sys_args *a, __u32 mask, __u32 gen)
{
	__u32 slot = filter_slot(VIGIL_KIND_FS, gen), m1, m2;
	struct kind_filter *f = bpf_map_lookup_elem(&filters, &slot);

	if (!f || (mask & f->path_any & ~f->raw_need))
		return true;
	m1 = mask & f->path_args[0];
	m2 = mask & f->path_args[1];
	if (m1 && fs_path_clauses(a->path, m1, gen))
		return true;
	return m2 && fs_path_clauses(a->path2, m2, gen);
}

static __always_inline int fs_report(struct sys_args *a, long ret, const bool direct)
{
	bool symlink = a->syscall == VIGIL_SYS_SYMLINK || a->syscall == VIGIL_SYS_SYMLINKAT;
	__u32 off, gen, raw_need, mask;
	struct rec_buf *rb;
	struct fs_rec *r;
	__u16 lens[2];

	/* What no rule can match stays here: judged on the syscall, the
	 * mode's searched bits and the result (lib/filter.h), then, on
	 * success, on the paths the caller gave where they are already
	 * final (fs_path_clauses); the others are joined in userspace. */
	mask = filter_mask(VIGIL_KIND_FS, a->syscall, fs_key(a->mode), ret, &gen, &raw_need);
	if (!mask || (gen && ret >= 0 && !fs_paths_admitted(a, mask, gen))) {
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
