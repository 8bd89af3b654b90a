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
	struct socket_rec *r;

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
	if (a->syscall == VIGIL_SYS_SOCKET || a->syscall == VIGIL_SYS_ACCEPT || a->syscall == VIGIL_SYS_ACCEPT4) {
		if (ret >= 0)
			read_sock(fd_file((void *)bpf_get_current_task(), ret), &r->sock);
	} else {
		read_sock(fd_file((void *)bpf_get_current_task(), a->fd), &r->sock);
	}
	submit(r, VIGIL_KIND_SOCKET);
	return 0;
}

#endif /* VIGIL_KINDS_SOCKET_H */
