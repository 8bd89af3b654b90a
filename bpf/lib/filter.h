/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel filters (events.h, struct kind_filter): events that no
 * loaded rule can match stay in the kernel, counted as filtered. A kind's
 * header asks filter_mask with what it knows before the path (syscall, key,
 * result; a kind whose key costs reads asks filter_mask_any_key first),
 * then filter_path_clauses once the path is walked, and
 * filter_raw_admitted for clauses that need a needle in the caller's path,
 * and filter_caller_is_walked for clauses bounded on the caller's name.
 * Every step admits what it cannot judge.
 */
#ifndef VIGIL_LIB_FILTER_H
#define VIGIL_LIB_FILTER_H

/* kind's filter slot of generation gen. */
static __always_inline __u32 filter_slot(__u32 kind, __u32 gen)
{
	return INDEX(kind, 16) * 2 + (gen & 1);
}

/* The class of result ret in a filter's results (events.h, enum
 * filter_result). */
static __always_inline __u32 filter_result(long ret)
{
	if (ret < 0)
		return VIGIL_FILTER_RESULT_FAILED;
	return ret <= VIGIL_FILTER_LOW_RESULT ? VIGIL_FILTER_RESULT_LOW : VIGIL_FILTER_RESULT_HIGH;
}

/*
 * kind's active filter, and in *gen its generation; NULL, and *gen 0, when
 * the kind is not filtered. filter_gen[kind] names the active generation;
 * Go writes a new filter under the next one, then switches it, so an event
 * is judged by one filter or the other, never a mix.
 */
static __always_inline struct kind_filter *filter_active(__u32 kind, __u32 *gen)
{
	__u32 *g = bpf_map_lookup_elem(&filter_gen, &kind), slot, gv;
	struct kind_filter *f;

	*gen = 0;
	if (!g || !(gv = *g))
		return NULL;
	slot = filter_slot(kind, gv);
	f = bpf_map_lookup_elem(&filters, &slot);
	if (f)
		*gen = gv;
	return f;
}

/*
 * The clauses an event of kind with syscall id sys, key and result ret may
 * satisfy before its path is known; in *gen the filter's generation, in
 * *raw_need its clauses that need a raw-path needle. All clauses, and *gen
 * 0, when the kind is not filtered.
 */
static __always_inline __u32 filter_mask(__u32 kind, __u16 sys, __u32 key, long ret, __u32 *gen, __u32 *raw_need)
{
	struct kind_filter *f = filter_active(kind, gen);

	*raw_need = 0;
	if (!f)
		return ~0u;
	*raw_need = f->raw_need;
	return f->syscalls[INDEX(sys, VIGIL_FILTER_SYSCALLS)] & f->keys[INDEX(key, VIGIL_FILTER_KEYS)] & f->results[filter_result(ret)];
}

/*
 * The clauses an event of kind with syscall id sys and result ret may
 * satisfy whatever its key turns out to be: a first judgement for a kind
 * whose key costs reads (kinds/dup.h), which filter_mask then narrows. All
 * clauses when the kind is not filtered.
 */
static __always_inline __u32 filter_mask_any_key(__u32 kind, __u16 sys, long ret)
{
	struct kind_filter *f;
	__u32 gen;

	f = filter_active(kind, &gen);
	if (!f)
		return ~0u;
	return f->syscalls[INDEX(sys, VIGIL_FILTER_SYSCALLS)] & f->results[filter_result(ret)];
}

/* Whether the file name of len bytes whose first and last 8 bytes are in
 * nk (filter_name_key's head and tail) may be in filter_names: its bit in
 * the name prefilter, which spares most names the hash lookup. */
static __always_inline bool filter_name_hinted(struct kind_filter *f, struct filter_name_key *nk, __u32 len)
{
	__u32 first = nk->head & 0xff, last, h;

	if (len == 0 || len > NAME_MAX)
		return true;
	last = len <= 8 ? (nk->head >> (((len - 1) & 7) * 8)) & 0xff : nk->tail >> 56;
	h = VIGIL_NAME_HINT(len, first, last);
	return f->name_hints[INDEX(h >> 5, VIGIL_FILTER_HINTS / 32)] & (1u << (h & 31));
}

/*
 * The clauses of mask that an event whose path (length n, as walk_path
 * returns it) is in the path buffer satisfies: those without a path bound,
 * and those of its prefix in filter_prefixes, of a suffix it ends with, or
 * of its file name in filter_names. A path the walk could not give whole is left to userspace
 * (all of mask). It may stop early once a clause that needs no raw-path
 * needle is found: that one admits the event. A global function: the
 * verifier checks it once per program.
 *
 * The clauses in the low 32 bits are judged; the high 32 bits hold the
 * clauses of mask bounded on the caller's name (caller_name) that the
 * walked path failed: that failure counts only if the caller's name turns
 * out to be the walked path (filter_caller_is_walked), else they admit the
 * event. They are set only when no judged clause admits the event on its
 * own, so filters without such clauses (vigil's defaults) pay nothing.
 */
__noinline __u64 filter_path_clauses(__u32 kind, __u32 mask, __u32 gen, __u32 n)
{
	__u32 zero = 0, slot = filter_slot(kind, gen), len, klen, pos, leaf, pair, res, i, sl, *m;
	struct filter_name_key nk = {};
	struct kind_filter *f;
	struct path_buf *pb;

	f = bpf_map_lookup_elem(&filters, &slot);
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
	if (pos < 6 || pos > PATH_END)
		return mask;
	pair = len < 3 ? ~0u : (__u32)pb->b[(pos + 1) & STR_MASK] << 8 | pb->b[(pos + 2) & STR_MASK];
	if (pair == ~0u || f->pairs[INDEX(pair >> 5, 2048)] & (1u << (pair & 31))) {
		/* The trie's key goes right before the path: prefix length,
		 * kind, generation, then (at most 255 bytes of) the path. */
		klen = len < VIGIL_FILTER_PREFIX_MAX ? len : VIGIL_FILTER_PREFIX_MAX;
		*(__u32 *)&pb->b[pos - 6] = (klen + 2) * 8;
		pb->b[pos - 2] = kind;
		pb->b[pos - 1] = gen;
		m = bpf_map_lookup_elem(&filter_prefixes, &pb->b[pos - 6]);
		if (m)
			res |= *m & mask;
		if (res & ~f->raw_need)
			return res;
	}
	/* Suffixes: the 8 bytes that end at PATH_END, shifted so that the
	 * suffix's length remains, against each suffix's last bytes. */
	for (i = 0; i < VIGIL_FILTER_SUFFIXES; i++) {
		sl = f->suffix_len[i];
		if (!(mask & f->suffix_clauses[i]) || sl == 0 || sl > VIGIL_FILTER_NEEDLE_MAX || sl > len)
			continue;
		if (*(__u64 *)&pb->b[PATH_END - 8] >> ((8 - sl) * 8) == f->suffix[i])
			res |= mask & f->suffix_clauses[i];
	}
	if (res & ~f->raw_need)
		return res;
	/* The last component: the leaf bytes before PATH_END. */
	leaf = pb->leaf;
	if (leaf > NAME_MAX)
		return mask;
	if (!(f->name_lens[(leaf >> 5) & 7] & (1u << (leaf & 31))))
		return res | (__u64)(mask & ~res & f->caller_name) << 32;
	nk.head = *(__u64 *)&pb->b[(PATH_END - leaf) & STR_MASK];
	if (leaf < 8)
		nk.head &= (1ULL << (leaf * 8)) - 1;
	if (leaf > 8)
		nk.tail = *(__u64 *)&pb->b[PATH_END - 8];
	if (!filter_name_hinted(f, &nk, leaf))
		return res | (__u64)(mask & ~res & f->caller_name) << 32;
	nk.len = leaf;
	nk.gen = gen;
	nk.kind = kind;
	m = bpf_map_lookup_elem(&filter_names, &nk);
	if (m)
		res |= *m & mask;
	return res | (__u64)(mask & ~res & f->caller_name) << 32;
}

/* The clauses of mask that a file may satisfy by its identity: 0 when
 * the filter names no file by identity, so that filters without such
 * clauses cost one test and the identity need not even be read. */
static __always_inline __u32 filter_ident_wanted(__u32 kind, __u32 mask, __u32 gen)
{
	__u32 slot = filter_slot(kind, gen);
	struct kind_filter *f = bpf_map_lookup_elem(&filters, &slot);

	return f ? mask & f->ident_clauses : 0;
}

/* The clauses of mask (filter_ident_wanted's) that the opened file
 * satisfies by its identity (dev, ino): those filter_idents holds for it in
 * generation gen. */
static __always_inline __u32 filter_ident_clauses(__u32 kind, __u32 mask, __u32 gen, __u32 dev, __u64 ino)
{
	__u32 slot = filter_slot(kind, gen), h = VIGIL_IDENT_HINT(ino), *m;
	struct kind_filter *f = bpf_map_lookup_elem(&filters, &slot);
	struct filter_ident_key k = {};

	if (!mask || ino == 0 || !f)
		return 0;
	/* Most files are none of the rules': the prefilter spares them the
	 * hash lookup. */
	if (!(f->ident_hints[INDEX(h >> 5, VIGIL_FILTER_HINTS / 32)] & (1u << (h & 31))))
		return 0;
	k.ino = ino;
	k.dev = dev;
	k.gen = gen;
	k.kind = kind;
	m = bpf_map_lookup_elem(&filter_idents, &k);
	return m ? *m & mask : 0;
}

/* What filter_path_clauses returns for a path that satisfies no path
 * bound of mask's clauses: those without one, and the clauses on the
 * caller's name, which such a path fails (open_path_may_match). */
static __always_inline __u64 filter_unbounded_clauses(__u32 kind, __u32 mask, __u32 gen)
{
	__u32 slot = filter_slot(kind, gen), res;
	struct kind_filter *f = bpf_map_lookup_elem(&filters, &slot);

	if (!f)
		return mask;
	res = mask & f->path_any;
	return res | (__u64)(mask & ~res & f->caller_name) << 32;
}

/* The bit of pair (a path's two bytes after its first slash) in a
 * filter's pairs bitmap. */
static __always_inline bool filter_pair_set(struct kind_filter *f, __u32 pair)
{
	return f->pairs[INDEX(pair >> 5, 2048)] & (1u << (pair & 31));
}

/*
 * Whether the path of the current task's fd may satisfy the path bound
 * (prefix, suffix or file name) of a clause of mask, judged before the path
 * is walked: 0 only when filter_path_clauses on the walked path would find
 * none, so that the open is judged without the walk's read of every name
 * (a helper call each). The climb follows walk_path_impl's pointers with
 * direct loads and no copy, counting the bytes the walk would write; then
 * the two bytes after the first slash (the name of the last dentry the
 * walk would write) against pairs, and the last component against the
 * suffixes and names, each read only when its bitmap or a suffix asks.
 * Anything the walk would cut or could not judge (a long or deep path, a
 * first name under two bytes, a file that is a mount's root) answers 1,
 * and so does a file the rules name by identity (filter_ident_clauses on
 * mask's clauses that have identities), which open_report then need not
 * check. Clauses without a path bound, or bounded on the caller's name,
 * need the walk: mask holding one answers 1 at once. The raw program's
 * direct variant only (Linux 6.2); a global function, verified once.
 */
__noinline int open_path_may_match(__s64 fd, __u32 mask, __u32 gen)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 zero = 0, slot = filter_slot(VIGIL_KIND_OPEN, gen), len, leaf, sl, i, *m;
	struct dentry *dentry, *mnt_root, *top;
	struct filter_name_key nk = {};
	const unsigned char *leaf_name;
	struct dentry_head dh;
	struct mount_head mh;
	volatile __u32 *vpos;
	struct kind_filter *f;
	struct path_buf *pb;
	struct mount *mnt;
	struct inode *inode;
	struct file *file;
	__u8 pair[2] = {};
	__u64 end = 0;
	int steps;

	f = bpf_map_lookup_elem(&filters, &slot);
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!f || !pb)
		return 1;
	/* A clause without a path bound admits on its own; one on the
	 * caller's name needs the walked path to be judged. */
	if (mask & ((f->path_any & ~f->raw_need) | f->caller_name))
		return 1;
	file = fd_file_direct(task, fd);
	if (!file)
		return 1;
	if (!file->f_path.dentry || !file->f_path.mnt)
		return 1;
	dentry = RDONLY(struct dentry, file->f_path.dentry);
	mnt = RDONLY(struct mount, (__u64)file->f_path.mnt - bpf_core_field_offset(struct mount, mnt));
	mnt_root = mnt->mnt.mnt_root;
	/* The leaf is the file's own name, unless the file is a mount's
	 * root (the walk then starts at the mountpoint): left to the walk. */
	if (dentry == mnt_root)
		return 1;
	read_dentry(dentry, &dh, true);
	leaf = dh.len < NAME_MAX ? dh.len : NAME_MAX;
	leaf_name = dh.name;
	/* The climb keeps its position in map memory and its last named
	 * dentry in one pointer, so that its states stay few for the
	 * verifier, as walk_path_impl's do. */
	vpos = &pb->pos;
	*vpos = PATH_END;
	top = dentry;
	for (steps = 0; steps < PATH_MAX_STEPS; steps++) {
		if (dentry == mnt_root) {
			read_mount(mnt, &mh, true);
			if (mh.parent == mnt)
				break;
			dentry = mh.mountpoint;
			mnt = mh.parent;
			mnt_root = mnt->mnt.mnt_root;
			continue;
		}
		read_dentry(dentry, &dh, true);
		len = dh.len;
		if (len > NAME_MAX)
			len = NAME_MAX;
		/* Where the walk would stop short and cut the path. */
		if (len + 1 >= *vpos)
			return 1;
		*vpos = *vpos - len - 1;
		top = dentry;
		if (dh.parent == dentry)
			break;
		dentry = dh.parent;
	}
	/* Cut after PATH_MAX_STEPS, or too long for filter_path_clauses's
	 * trie key to fit before it. */
	if (steps >= PATH_MAX_STEPS || *vpos < 6)
		return 1;
	/* The first name, whose first two bytes make the path's pair; one
	 * shorter than two bytes is left to the walk. */
	read_dentry(top, &dh, true);
	if (dh.len < 2)
		return 1;
	bpf_probe_read_kernel(pair, sizeof(pair), dh.name);
	if (filter_pair_set(f, (__u32)pair[0] << 8 | pair[1]))
		return 1;
	/* Suffixes of mask's clauses: against the leaf's last 8 bytes, which
	 * a shorter leaf does not hold. */
	for (i = 0; i < VIGIL_FILTER_SUFFIXES; i++) {
		sl = f->suffix_len[i];
		if (!(mask & f->suffix_clauses[i]) || sl == 0 || sl > VIGIL_FILTER_NEEDLE_MAX)
			continue;
		if (leaf < 8)
			return 1;
		if (!end)
			bpf_probe_read_kernel(&end, sizeof(end), leaf_name + leaf - 8);
		if (end >> ((8 - sl) * 8) == f->suffix[i])
			return 1;
	}
	/* The last component, keyed as filter_path_clauses keys it. */
	if (f->name_lens[(leaf >> 5) & 7] & (1u << (leaf & 31))) {
		bpf_probe_read_kernel(&nk.head, leaf < 8 ? leaf & 7 : 8, leaf_name);
		if (leaf > 8)
			bpf_probe_read_kernel(&nk.tail, sizeof(nk.tail), leaf_name + leaf - 8);
		if (filter_name_hinted(f, &nk, leaf)) {
			nk.len = leaf;
			nk.gen = gen;
			nk.kind = VIGIL_KIND_OPEN;
			m = bpf_map_lookup_elem(&filter_names, &nk);
			if (m && (*m & mask))
				return 1;
		}
	}
	/* No path bound holds: a file the rules name by identity still
	 * may (open_report's identity check, done here, where the file
	 * is at hand). */
	if (!(mask & f->ident_clauses))
		return 0;
	inode = file->f_inode;
	return filter_ident_clauses(VIGIL_KIND_OPEN, mask & f->ident_clauses, gen, inode->i_sb->s_dev, inode->i_ino) != 0;
}

/*
 * Whether climbing from the file of fd the names of its last need bytes
 * of walked path ("/name" each), as the path walk climbs (crossing
 * mounts), reaches the directory a relative path was relative to: dirfd's
 * file, or the cwd for AT_FDCWD. At most VIGIL_FILTER_UP_MAX names. Helper
 * reads, so both programs share it; a global function, verified once. Its
 * counts live in map memory, read back through volatile accesses, for the
 * reason walk_path_impl keeps its position there.
 */
__noinline int fd_up_is_dir(__s64 fd, __s32 dirfd, __u32 need)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file *f = fd_file(task, fd), *d;
	struct path fp = {}, dp = {};
	struct dentry *dentry, *mnt_root;
	volatile __u32 *got, *names;
	struct dentry_head dh;
	struct mount_head mh;
	struct path_buf *pb;
	struct mount *mnt;
	__u32 i, zero = 0;

	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!f || !pb)
		return 0;
	got = &pb->up_got;
	names = &pb->up_names;
	*got = 0;
	*names = 0;
	bpf_core_read(&fp, sizeof(fp), &f->f_path);
	if (dirfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		bpf_core_read(&dp, sizeof(dp), &fs->pwd);
	} else {
		d = fd_file(task, dirfd);
		if (!d)
			return 0;
		bpf_core_read(&dp, sizeof(dp), &d->f_path);
	}
	if (!fp.dentry || !fp.mnt || !dp.dentry)
		return 0;
	dentry = fp.dentry;
	mnt = (void *)fp.mnt - bpf_core_field_offset(struct mount, mnt);
	mnt_root = BPF_CORE_READ(fp.mnt, mnt_root);
	for (i = 0; i < 2 * VIGIL_FILTER_UP_MAX; i++) {
		if (dentry == mnt_root) {
			read_mount(mnt, &mh, false);
			if (mh.parent == mnt)
				return 0;
			dentry = mh.mountpoint;
			mnt = mh.parent;
			mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
			continue;
		}
		read_dentry(dentry, &dh, false);
		if (dh.parent == dentry || dh.len > NAME_MAX || *names >= VIGIL_FILTER_UP_MAX)
			return 0;
		*names = *names + 1;
		*got = *got + dh.len + 1;
		dentry = dh.parent;
		if (*got >= need)
			break;
	}
	return *got == need && dentry == dp.dentry && (void *)mnt + bpf_core_field_offset(struct mount, mnt) == (void *)dp.mnt;
}

/*
 * Whether the caller's name for the open of n raw bytes at off in the record
 * buffer is the path the walk left in the path buffer (length w, as
 * walk_path returns it), so that bounds on the caller's name can be judged
 * on it. The walk writes "/" and whole dentry names, never ".", ".." or an
 * empty one, so a raw path equal to it or to its end is clean. An absolute
 * raw path must be that path byte for byte: it then reached no symlink. A
 * relative one must be the walked path's end after a slash, and its names
 * (at most VIGIL_FILTER_UP_MAX), climbed from the opened file (fd), must
 * lead to its directory (dirfd): the name userspace joins from that
 * directory is then the walked path. A raw path longer than
 * VIGIL_FILTER_RAW_SCAN, unread or cut, is not judged (0). A global
 * function, like filter_path_clauses.
 */
__noinline int filter_caller_is_walked(__u32 off, __u32 n, __u32 w, __s64 fd, __s32 dirfd)
{
	__u32 zero = 0, len = w & STR_MASK, i, base;
	struct path_buf *pb;
	struct rec_buf *rb;
	bool rel;
	__u64 a, b;

	if (n == 0 || n > VIGIL_FILTER_RAW_SCAN || n > len || (w & PATH_TRUNC))
		return 0;
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	rb = bpf_map_lookup_elem(&rec_bufs, &zero);
	if (!pb || !rb)
		return 0;
	rel = rb->b[off & (REC_BUF_SIZE / 2 - 1)] != '/';
	/* A relative path's slash before it in the walked path. */
	base = BOUNDED(PATH_END - n - 1);
	if (rel ? n == len || pb->b[base] != '/' : n != len)
		return 0;
	/* The walked path's last n bytes against the raw path: whole words
	 * from the start, then the last 8 bytes, which may overlap them. */
	base = PATH_END - n;
	for (i = 0; i + 8 <= VIGIL_FILTER_RAW_SCAN; i += 8) {
		if (i + 8 > n)
			break;
		a = *(__u64 *)&rb->b[(off + i) & (REC_BUF_SIZE / 2 - 1)];
		b = *(__u64 *)&pb->b[(base + i) & STR_MASK];
		if (a != b)
			return 0;
	}
	if (n >= 8) {
		a = *(__u64 *)&rb->b[(off + n - 8) & (REC_BUF_SIZE / 2 - 1)];
		b = *(__u64 *)&pb->b[(PATH_END - 8) & STR_MASK];
		if (a != b)
			return 0;
	} else {
		/* Shorter than a word: the bytes after each string are not its. */
		a = *(__u64 *)&rb->b[off & (REC_BUF_SIZE / 2 - 1)];
		b = *(__u64 *)&pb->b[base & STR_MASK];
		if ((a ^ b) & ((1ULL << (n * 8)) - 1))
			return 0;
	}
	return !rel || fd_up_is_dir(fd, dirfd, n + 1);
}

/* The bytes of word w equal to the byte repeated in rep: each one's top bit
 * set, and maybe also the top bits of bytes above one that is (the borrow
 * of the subtraction runs on), never none where one is. */
static __always_inline __u64 word_has_byte(__u64 w, __u64 rep)
{
	__u64 x = w ^ rep;

	return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/*
 * Whether the raw path of n bytes at off in the record buffer holds the
 * needle of one of the clauses in mask (all of which need one). A raw path
 * longer than the scan, or empty (unreadable), is admitted. A global
 * function, like filter_path_clauses.
 *
 * The scan goes a word at a time: only a word holding the needle's first
 * byte has its positions compared, so a path without it (the usual case:
 * "../" in a path with no dot) costs n / 8 steps, not n.
 */
__noinline int filter_raw_admitted(__u32 kind, __u32 mask, __u32 gen, __u32 off, __u32 n)
{
	__u32 zero = 0, slot = filter_slot(kind, gen), p, w, i, j, len, end;
	struct kind_filter *f;
	struct rec_buf *rb;
	__u64 nd, nm, rep;

	f = bpf_map_lookup_elem(&filters, &slot);
	rb = bpf_map_lookup_elem(&rec_bufs, &zero);
	if (!f || !rb || n == 0 || n > VIGIL_FILTER_RAW_SCAN)
		return 1;
	for (i = 0; i < VIGIL_FILTER_NEEDLES; i++) {
		if (!(mask & f->needle_clauses[i]))
			continue;
		nd = f->needle[i];
		nm = f->needle_mask[i];
		/* The needle fits at positions 0 .. n - len: at each, the 8
		 * bytes from it, masked to the needle's length. */
		len = f->needle_len[i];
		if (len == 0 || len > VIGIL_FILTER_NEEDLE_MAX || len > n)
			continue;
		end = n - len;
		rep = (nd & 0xff) * 0x0101010101010101ULL;
		for (w = 0; w < VIGIL_FILTER_RAW_SCAN; w += 8) {
			if (w > end)
				break;
			if (!word_has_byte(*(__u64 *)&rb->b[(off + w) & (REC_BUF_SIZE / 2 - 1)], rep))
				continue;
			for (j = 0; j < 8; j++) {
				p = w + j;
				if (p > end)
					break;
				if ((*(__u64 *)&rb->b[(off + p) & (REC_BUF_SIZE / 2 - 1)] & nm) == nd)
					return 1;
			}
		}
	}
	return 0;
}

/* Whether every clause of mask bounds the caller's name or needs a
 * raw-path needle (and none names a file by identity): then the raw path
 * alone may judge the event (filter_raw_admitted,
 * filter_raw_name_may_match). */
static __always_inline bool filter_caller_only(__u32 kind, __u32 mask, __u32 gen)
{
	__u32 slot = filter_slot(kind, gen);
	struct kind_filter *f = bpf_map_lookup_elem(&filters, &slot);

	return f && !(mask & ~(f->caller_name | f->raw_need)) && !(mask & f->ident_clauses);
}

/*
 * Whether the caller's name of an open, its raw path of n bytes at off in
 * the record buffer, may satisfy the path bound (prefix, suffix or file
 * name) of a clause of mask, all of which bound the caller's name (Falco's
 * fd.name) and name no file by identity: 0 only when it satisfies none,
 * so that such clauses are judged without the file or its walk. It judges
 * only a raw path that is its own fd.name: absolute and clean (no "//",
 * no name starting with ".", so no "." or "..", no slash at the end), which
 * userspace's join leaves as it is; any other, or one longer than
 * VIGIL_FILTER_RAW_SCAN, answers 1. The scan goes a word at a time, with
 * the word one byte on beside it: a slash in one lane and a slash or a
 * dot in the same lane of the next word is a "//" or a "/.". A global
 * function, like filter_path_clauses.
 */
__noinline int filter_raw_name_may_match(__u32 kind, __u32 mask, __u32 gen, __u32 off, __u32 n)
{
	__u32 zero = 0, slot = filter_slot(kind, gen), w, l, leaf, sl, i, pair, *m;
	const __u64 slashes = 0x2f2f2f2f2f2f2f2fULL, dots = 0x2e2e2e2e2e2e2e2eULL;
	struct filter_name_key nk = {};
	volatile __u32 *last, *vn;
	struct path_buf *pb;
	__u64 a, b, s, lanes, end;
	struct kind_filter *f;
	struct rec_buf *rb;

	f = bpf_map_lookup_elem(&filters, &slot);
	rb = bpf_map_lookup_elem(&rec_bufs, &zero);
	pb = bpf_map_lookup_elem(&path_bufs, &zero);
	if (!f || !rb || !pb || n < 3 || n > VIGIL_FILTER_RAW_SCAN)
		return 1;
	if (mask & (f->path_any | f->ident_clauses | ~f->caller_name))
		return 1;
	/* The last slash's position lives in map memory, read back through a
	 * volatile access, for the reason walk_path_impl keeps its position
	 * there. */
	last = &pb->raw_last;
	*last = 0;
	vn = &pb->raw_len;
	*vn = n;
	if (rb->b[off & (REC_BUF_SIZE / 2 - 1)] != '/' || rb->b[(off + n - 1) & (REC_BUF_SIZE / 2 - 1)] == '/')
		return 1;
	for (w = 0; w < VIGIL_FILTER_RAW_SCAN; w += 8) {
		if (w >= *vn)
			break;
		a = *(__u64 *)&rb->b[(off + w) & (REC_BUF_SIZE / 2 - 1)];
		b = *(__u64 *)&rb->b[(off + w + 1) & (REC_BUF_SIZE / 2 - 1)];
		/* The lanes of bytes w .. n - 1 (the next word's lanes are
		 * one byte on: the last one is past the string, its NUL). */
		l = *vn - w;
		lanes = l >= 8 ? ~0ULL : (1ULL << ((l & 7) * 8)) - 1;
		s = word_has_byte(a, slashes) & lanes;
		if (s & (word_has_byte(b, slashes) | word_has_byte(b, dots)))
			return 1;
		/* The highest slash of the word: word_has_byte may also mark
		 * a byte right above a true one, which is then a "." after a
		 * "/", caught above. */
		if (s) {
			/* Its lane: marks are bit 7 of a byte; halve to it. */
			i = 0;
			if (s >> 32) {
				i += 4;
				s >>= 32;
			}
			if (s >> 16) {
				i += 2;
				s >>= 16;
			}
			if (s >> 8)
				i += 1;
			*last = w + i;
		}
	}
	/* The two bytes after the first slash, against the prefixes. */
	pair = (__u32)rb->b[(off + 1) & (REC_BUF_SIZE / 2 - 1)] << 8 | rb->b[(off + 2) & (REC_BUF_SIZE / 2 - 1)];
	if (filter_pair_set(f, pair))
		return 1;
	/* The suffixes of mask's clauses, against the last 8 bytes. */
	end = n >= 8 ? *(__u64 *)&rb->b[(off + n - 8) & (REC_BUF_SIZE / 2 - 1)] : 0;
	for (i = 0; i < VIGIL_FILTER_SUFFIXES; i++) {
		sl = f->suffix_len[i];
		if (!(mask & f->suffix_clauses[i]) || sl == 0 || sl > VIGIL_FILTER_NEEDLE_MAX)
			continue;
		if (n < 8 || end >> ((8 - sl) * 8) == f->suffix[i])
			return 1;
	}
	/* The last name, after the last slash, keyed as filter_path_clauses
	 * keys the walked path's. */
	l = *last;
	if (l >= n)
		return 1;
	leaf = n - 1 - l;
	if (leaf == 0 || leaf > NAME_MAX)
		return 1;
	if (!(f->name_lens[(leaf >> 5) & 7] & (1u << (leaf & 31))))
		return 0;
	nk.head = *(__u64 *)&rb->b[(off + l + 1) & (REC_BUF_SIZE / 2 - 1)];
	if (leaf < 8)
		nk.head &= (1ULL << (leaf * 8)) - 1;
	if (leaf > 8)
		nk.tail = end;
	if (!filter_name_hinted(f, &nk, leaf))
		return 0;
	nk.len = leaf;
	nk.gen = gen;
	nk.kind = kind;
	m = bpf_map_lookup_elem(&filter_names, &nk);
	return m && (*m & mask);
}

#endif /* VIGIL_LIB_FILTER_H */
