/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connect (sensor/decode.go: decodeConnect), at syscall exit: the remote
 * end as the caller gave it, and the socket's own view of both ends.
 */
#ifndef VIGIL_KINDS_CONNECT_H
#define VIGIL_KINDS_CONNECT_H

/* The remote end from the caller's sockaddr (read at exit, when the kernel
 * has copied it and the page is present). */
static __always_inline void connect_remote_user(struct connect_rec *r, struct sys_args *a)
{
	const void *sa = (void *)a->ptr;
	__u16 fam = 0;
	__u32 n;

	if (!sa || a->len < sizeof(fam))
		return;
	bpf_probe_read_user(&fam, sizeof(fam), sa);
	r->sa_family = fam;
	if (fam == AF_INET && a->len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), sa);
		r->rport = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(r->raddr, &sin.sin_addr, 4);
	} else if (fam == AF_INET6 && a->len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, sizeof(sin6), sa);
		r->rport = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(r->raddr, &sin6.sin6_addr, 16);
	} else if (fam == AF_UNIX) {
		n = a->len - sizeof(fam);
		if (n > VIGIL_UNIX_PATH_MAX)
			n = VIGIL_UNIX_PATH_MAX;
		bpf_probe_read_user(r->unix_path, n & 127, sa + sizeof(fam));
		r->unix_len = n;
	}
}

/* Family, type, protocol and the local end from the socket; for a socket
 * that is connected or connecting, the remote end as the kernel holds it. */
static __always_inline void connect_sock(struct connect_rec *r, struct file *file)
{
	struct sock_info si = {};

	read_sock(file, &si);
	r->family = si.family;
	r->sock_type = si.type;
	r->proto = si.proto;
	if (si.family != AF_INET && si.family != AF_INET6)
		return;
	r->lport = si.lport;
	__builtin_memcpy(r->laddr, si.laddr, sizeof(r->laddr));
	if ((r->ret == 0 || r->ret == -EINPROGRESS) && si.rport != 0 && r->sa_family == si.family) {
		r->rport = si.rport;
		__builtin_memcpy(r->raddr, si.raddr, sizeof(r->raddr));
	}
}

/* Build and emit the connect record of the call with arguments a. */
static __always_inline int connect_report(struct sys_args *a, long ret)
{
	struct connect_rec *r;

	r = reserve(sizeof(*r), VIGIL_KIND_CONNECT);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	fill_hdr(&r->hdr, VIGIL_REC_CONNECT, sizeof(*r));
	r->ret = ret;
	r->fd = a->fd;
	connect_remote_user(r, a);
	connect_sock(r, fd_file((void *)bpf_get_current_task(), a->fd));
	if (r->family == 0)
		r->family = r->sa_family;
	submit(r, VIGIL_KIND_CONNECT);
	return 0;
}

#endif /* VIGIL_KINDS_CONNECT_H */
