/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket calls (sensor/decode_fsop.go: decodeSocket), at syscall exit:
 * socket's arguments as passed, which a failed call (an unprivileged
 * AF_PACKET) also has, and the socket as the kernel holds it: the new one
 * of socket and accept, the one listen and bind act on (bound by then).
 */
#ifndef VIGIL_KINDS_SOCKET_H
#define VIGIL_KINDS_SOCKET_H

static __always_inline int socket_report(struct sys_args *a, long ret)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct sock_info si = {};
	struct socket_rec *r;
	__u32 key, gen, raw_need;

	if (a->syscall == VIGIL_SYS_SOCKET || a->syscall == VIGIL_SYS_ACCEPT || a->syscall == VIGIL_SYS_ACCEPT4) {
		if (ret >= 0)
			read_sock(fd_file(task, ret), &si);
	} else {
		read_sock(fd_file(task, a->fd), &si);
	}
	/* What no rule can match stays here: judged on the syscall, the
	 * family and the result (lib/filter.h; enum socket_filter_key). */
	key = a->syscall == VIGIL_SYS_SOCKET ? a->domain : si.family;
	if (key > VIGIL_SOCKET_KEY_OTHER)
		key = VIGIL_SOCKET_KEY_OTHER;
	if (!filter_mask(VIGIL_KIND_SOCKET, a->syscall, key, ret, &gen, &raw_need)) {
		count_filtered(VIGIL_KIND_SOCKET);
		return 0;
	}

	r = reserve(sizeof(*r), VIGIL_KIND_SOCKET);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	fill_hdr(&r->hdr, VIGIL_REC_SOCKET, sizeof(*r));
	r->ret = ret;
	r->syscall = a->syscall;
	r->fd = a->fd;
	if (a->syscall == VIGIL_SYS_SOCKET) {
		r->fd = -1;
		r->domain = a->domain;
		r->type = a->flags;
		r->proto = a->proto;
	} else if (a->syscall == VIGIL_SYS_ACCEPT4) {
		r->flags = a->flags;
	}
	r->sock = si;
	submit(r, VIGIL_KIND_SOCKET);
	return 0;
}

#endif /* VIGIL_KINDS_SOCKET_H */
