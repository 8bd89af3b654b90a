/* SPDX-License-Identifier: GPL-2.0 */
/*
 * io_uring (sensor/decode_iouring.go: decodeIOUring), from the io_uring
 * tracepoints: a request runs without a syscall of its own (io_uring_enter
 * submits a batch, an SQPOLL ring needs no syscall at all), so without the
 * file_open hook, which this kernel may refuse, no other hook of vigil sees
 * the file IORING_OP_OPENAT opens. Two programs:
 * - io_uring_create: a process made a ring (its fd, flags and sizes);
 * - io_uring_submit_req: a request of an opcode below, once the kernel has
 *   prepared it (io_init_req ran its prep), in the context of the thread
 *   that submitted it: the caller of io_uring_enter, or the ring's SQPOLL
 *   thread, which belongs to the same process. By then the prep has copied
 *   the path into a struct filename, so the string read here is the one
 *   the request will use, not user memory that can change after the read.
 * Both are tp_btf programs on the tracepoints' raw form: the Go side
 * attaches them only where the kernel's BTF has the tracepoints with these
 * prototypes (sensor/probe.go), and turns the kind off elsewhere.
 */
#ifndef VIGIL_KINDS_IOURING_H
#define VIGIL_KINDS_IOURING_H

#define IORING_SETUP_SQPOLL (1U << 1)
#define REQ_F_FIXED_FILE (1U << REQ_F_FIXED_FILE_BIT)

/* The opcodes reported: those that name a path, make, connect or accept a
 * socket, move data over one, or send a descriptor to another ring. The
 * others (reads, writes, polls, timeouts: nearly every request of a busy
 * ring) leave on this one test, before any map is looked at. Opcode numbers
 * are uapi (include/uapi/linux/io_uring.h), the same on every kernel. */
#define IOURING_OP(op) (1ULL << IORING_OP_##op)
#define IOURING_REPORTED                                                                                  \
	(IOURING_OP(OPENAT) | IOURING_OP(OPENAT2) | IOURING_OP(RENAMEAT) | IOURING_OP(UNLINKAT) |         \
	 IOURING_OP(MKDIRAT) | IOURING_OP(SYMLINKAT) | IOURING_OP(LINKAT) | IOURING_OP(SOCKET) |         \
	 IOURING_OP(CONNECT) | IOURING_OP(ACCEPT) | IOURING_OP(BIND) | IOURING_OP(LISTEN) |              \
	 IOURING_OP(SEND) | IOURING_OP(RECV) | IOURING_OP(SENDMSG) | IOURING_OP(RECVMSG) |               \
	 IOURING_OP(SEND_ZC) | IOURING_OP(SENDMSG_ZC) | IOURING_OP(MSG_RING))

/* Put one path of a request at off: the kernel's copy of the caller's
 * string (name, a struct filename's), then, when it is relative, the
 * directory it was relative to; keep_raw (symlinkat's target, which is
 * content, not a lookup) skips the directory. lens[0] and lens[1] get the
 * two lengths; returns the bytes written. */
static __always_inline __u32 iouring_put_path(struct rec_buf *rb, __u32 off, const char *name, __s32 dirfd,
					      bool keep_raw, __u16 *lens, __u16 *rflags, __u16 trunc)
{
	__u32 n = 0, d = 0;
	long got;

	if (name) {
		got = bpf_probe_read_kernel_str(&rb->b[off & (REC_BUF_SIZE / 2 - 1)], STR_MASK + 1, name);
		if (got > STR_MASK) {
			*rflags |= trunc;
			n = STR_MASK;
		} else if (got > 0) {
			n = BOUNDED(got - 1);
		}
	}
	if (!keep_raw && n > 0 && rb->b[off & (REC_BUF_SIZE - 1)] != '/') {
		d = put_dir_path(rb, (off + n) & (REC_BUF_SIZE / 2 - 1), dirfd, false);
		if (d & PATH_TRUNC)
			*rflags |= trunc;
		d = BOUNDED(d);
	}
	lens[0] = n;
	lens[1] = d;
	return n + d;
}

/* The arguments of a request as its prep left them in the request's
 * command area. Each opcode's layout is read only where the kernel's BTF
 * has it (a load-time constant), so a kernel without one loads the rest. */
struct iouring_args {
	const char *path1;
	const char *path2;
	__s32 fd1;
	__s32 fd2;
	__u32 flags;
	__u32 mode;
};

static __always_inline void iouring_args(struct io_kiocb *req, __u8 op, struct iouring_args *a)
{
	void *cmd = &req->cmd;

	switch (op) {
	case IORING_OP_OPENAT:
	case IORING_OP_OPENAT2:
		if (bpf_core_type_exists(struct io_open)) {
			struct io_open *o = cmd;

			a->fd1 = BPF_CORE_READ(o, dfd);
			a->flags = BPF_CORE_READ(o, how.flags);
			a->mode = BPF_CORE_READ(o, how.mode);
			a->path1 = BPF_CORE_READ(o, filename, name);
		}
		return;
	case IORING_OP_RENAMEAT:
		if (bpf_core_type_exists(struct io_rename)) {
			struct io_rename *o = cmd;

			a->fd1 = BPF_CORE_READ(o, old_dfd);
			a->fd2 = BPF_CORE_READ(o, new_dfd);
			a->flags = BPF_CORE_READ(o, flags);
			a->path1 = BPF_CORE_READ(o, oldpath, name);
			a->path2 = BPF_CORE_READ(o, newpath, name);
		}
		return;
	case IORING_OP_UNLINKAT:
		if (bpf_core_type_exists(struct io_unlink)) {
			struct io_unlink *o = cmd;

			a->fd1 = BPF_CORE_READ(o, dfd);
			a->flags = BPF_CORE_READ(o, flags);
			a->path1 = BPF_CORE_READ(o, filename, name);
		}
		return;
	case IORING_OP_MKDIRAT:
		if (bpf_core_type_exists(struct io_mkdir)) {
			struct io_mkdir *o = cmd;

			a->fd1 = BPF_CORE_READ(o, dfd);
			a->mode = BPF_CORE_READ(o, mode);
			a->path1 = BPF_CORE_READ(o, filename, name);
		}
		return;
	case IORING_OP_SYMLINKAT:
	case IORING_OP_LINKAT:
		if (bpf_core_type_exists(struct io_link)) {
			struct io_link *o = cmd;

			/* symlinkat's first path is the link's content,
			 * relative to nothing. */
			if (op == IORING_OP_LINKAT)
				a->fd1 = BPF_CORE_READ(o, old_dfd);
			a->fd2 = BPF_CORE_READ(o, new_dfd);
			a->flags = BPF_CORE_READ(o, flags);
			a->path1 = BPF_CORE_READ(o, oldpath, name);
			a->path2 = BPF_CORE_READ(o, newpath, name);
		}
		return;
	}
	/* The others act on the sqe's fd, which io_init_req keeps in the
	 * request's cqe for every opcode (Linux 6.0 and later, as the
	 * tracepoint that runs this). */
	if (bpf_core_field_exists(req->cqe.fd))
		a->fd1 = BPF_CORE_READ(req, cqe.fd);
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(iouring_submit, struct io_kiocb *req)
{
	struct iouring_args a = { .fd1 = AT_FDCWD, .fd2 = AT_FDCWD };
	__u32 off, gen, raw_need, reqf = 0;
	struct iouring_rec *r;
	struct rec_buf *rb;
	__u16 lens[2];
	__u8 op;

	/* A direct load (the tracepoint's BTF types req), not a helper
	 * call: every request of every ring on the machine passes here. */
	op = req->opcode;
	if (op >= 64 || !(IOURING_REPORTED & (1ULL << op)))
		return 0;
	if (is_self() || !kind_on(VIGIL_KIND_IOURING))
		return 0;
	/* What no rule can match stays here, judged on the opcode. */
	if (!filter_mask(VIGIL_KIND_IOURING, VIGIL_IOURING_SYS_SUBMIT, op, 0, &gen, &raw_need)) {
		count_filtered(VIGIL_KIND_IOURING);
		return 0;
	}
	iouring_args(req, op, &a);

	r = scratch_rec(&rb, sizeof(*r));
	if (!r)
		return 0;
	r->opcode = op;
	r->fd1 = a.fd1;
	r->fd2 = a.fd2;
	r->flags = a.flags;
	r->mode = a.mode;
	/* io_req_flags_t is 32 bits on older kernels, 64 on newer: the flag
	 * wanted is in the low word either way (little endian). */
	bpf_core_read(&reqf, sizeof(reqf), &req->flags);
	if (reqf & REQ_F_FIXED_FILE)
		r->rflags |= VIGIL_IOURING_FIXED_FILE;
	if (BPF_CORE_READ(req, ctx, flags) & IORING_SETUP_SQPOLL)
		r->rflags |= VIGIL_IOURING_SQ_THREAD;
	off = sizeof(*r);
	off += iouring_put_path(rb, off, a.path1, a.fd1, op == IORING_OP_SYMLINKAT, lens, &r->rflags,
				VIGIL_IOURING_PATH1_TRUNC);
	r->path1_len = lens[0];
	r->dir1_len = lens[1];
	if (a.path2) {
		off &= REC_BUF_SIZE / 2 - 1;
		off += iouring_put_path(rb, off, a.path2, a.fd2, false, lens, &r->rflags, VIGIL_IOURING_PATH2_TRUNC);
		r->path2_len = lens[0];
		r->dir2_len = lens[1];
	}
	off &= REC_BUF_SIZE - 1;
	fill_hdr(&r->hdr, VIGIL_REC_IOURING_SUBMIT, off);
	emit(r, off, VIGIL_KIND_IOURING);
	return 0;
}

/* A ring created, judged by the filter under its own row and key (rings
 * are made once per process or thread, not per request). */
SEC("tp_btf/io_uring_create")
int BPF_PROG(iouring_create, int fd, void *ring, __u32 sq_entries, __u32 cq_entries, __u32 flags)
{
	__u32 gen, raw_need;
	struct iouring_rec *r;

	if (is_self() || !kind_on(VIGIL_KIND_IOURING))
		return 0;
	if (!filter_mask(VIGIL_KIND_IOURING, VIGIL_IOURING_SYS_SETUP, VIGIL_IOURING_KEY_SETUP, fd, &gen, &raw_need)) {
		count_filtered(VIGIL_KIND_IOURING);
		return 0;
	}
	r = reserve(sizeof(*r), VIGIL_KIND_IOURING);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	fill_hdr(&r->hdr, VIGIL_REC_IOURING_SETUP, sizeof(*r));
	r->ret = fd;
	r->flags = flags;
	r->sq_entries = sq_entries;
	r->cq_entries = cq_entries;
	r->fd1 = AT_FDCWD;
	r->fd2 = AT_FDCWD;
	submit(r, VIGIL_KIND_IOURING);
	return 0;
}

#endif /* VIGIL_KINDS_IOURING_H */
