/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket creation (sensor/decode_sock.go: decodeSocket), at syscall exit:
 * the arguments as passed, which a failed call (an unprivileged
 * AF_PACKET) also has, and the new socket as the kernel made it.
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
	r->domain = a->domain;
	r->type = a->flags;
	r->proto = a->proto;
	if (ret >= 0)
		read_sock(fd_file((void *)bpf_get_current_task(), ret), &r->sock);
	submit(r, VIGIL_KIND_SOCKET);
	return 0;
}

#endif /* VIGIL_KINDS_SOCKET_H */
