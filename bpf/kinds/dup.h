/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dup, dup2 and dup3 (sensor/decode_sock.go: decodeDup), at syscall exit:
 * what the duplicated descriptor is, read from the kernel's fd table (a
 * shell's stdin and stdout moved onto a TCP socket is the reverse shell
 * Falco's rules look for).
 */
#ifndef VIGIL_KINDS_DUP_H
#define VIGIL_KINDS_DUP_H

static __always_inline int dup_report(struct sys_args *a, long ret, const bool direct)
{
	__s32 fd = ret >= 0 ? ret : a->fd;
	__u32 n = 0, off, key = 0, ftype = 0, gen, raw_need;
	struct sock_info si = {};
	struct file *file;
	struct dup_rec *r;
	struct rec_buf *rb;

	/* What no rule can match stays here. Step 1: the syscall and the
	 * result, the new descriptor (a register), before the fd table is
	 * read: a shell's stdio moved onto a socket is a dup onto 0, 1 or 2,
	 * and most dups are not (lib/filter.h; enum filter_result). */
	if (!filter_mask_any_key(VIGIL_KIND_DUP, a->syscall, ret))
		goto filtered;
	/* Step 2: what the fd is (enum dup_filter_key). */
	file = fd_file((void *)bpf_get_current_task(), fd);
	if (file) {
		ftype = BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT;
		read_sock(file, &si);
		key = si.family ? si.family : VIGIL_DUP_KEY_FILE;
		if (si.family >= VIGIL_DUP_KEY_FILE)
			key = VIGIL_DUP_KEY_OTHER;
	}
	if (!filter_mask(VIGIL_KIND_DUP, a->syscall, key, ret, &gen, &raw_need))
		goto filtered;

	r = scratch_rec(&rb, sizeof(*r));
	if (!r)
		return 0;
	r->ret = ret;
	r->syscall = a->syscall;
	r->oldfd = a->fd;
	r->newfd = a->syscall == VIGIL_SYS_DUP ? -1 : a->fd2;
	r->flags = a->flags;
	r->file_type = ftype;
	r->sock = si;
	off = sizeof(*r);
	/* A file's path; a socket is described by its ends. */
	if (file && r->file_type != S_IFSOCK) {
		n = put_dir_path(rb, off, fd, direct);
		if (n & PATH_TRUNC)
			r->rflags |= VIGIL_DUP_NAME_TRUNC;
		n = BOUNDED(n);
	}
	r->name_len = n;
	off = (off + n) & (REC_BUF_SIZE - 1);
	fill_hdr(&r->hdr, VIGIL_REC_DUP, off);
	emit(r, off, VIGIL_KIND_DUP);
	return 0;
filtered:
	count_filtered(VIGIL_KIND_DUP);
	return 0;
}

#endif /* VIGIL_KINDS_DUP_H */
