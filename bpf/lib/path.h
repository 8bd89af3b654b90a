/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Paths resolved in the kernel: the walk from a dentry and mount up to the
 * root of the mount namespace, and the copies of paths and user strings
 * into a record's string area.
 */
#ifndef VIGIL_LIB_PATH_H
#define VIGIL_LIB_PATH_H

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

#endif /* VIGIL_LIB_PATH_H */
