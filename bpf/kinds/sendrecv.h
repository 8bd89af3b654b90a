/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sendto, sendmsg, recvfrom and recvmsg (sensor/decode_sendrecv.go:
 * decodeSendRecv), at syscall exit: the socket's family, protocol and both
 * ends as the kernel holds them, the peer the call named when the socket
 * has none (an unconnected UDP socket's destination or source), and the
 * byte count. Never the payload.
 *
 * These are the busiest syscalls vigil traces, so the filter judges in
 * steps that each cost more: the syscall and result alone, then the
 * socket's family, protocol and state, and only then the addresses and
 * the peer map.
 */
#ifndef VIGIL_KINDS_SENDRECV_H
#define VIGIL_KINDS_SENDRECV_H

/* The class and connected bits of the filter key (events.h,
 * enum sendrecv_filter_key), from the socket itself, and in *ino the
 * socket's inode number; 0 when file is not a socket. */
static __always_inline __u32 sendrecv_sock_key(struct file *file, struct sock **skp, struct sock_info *si, __u32 *ino)
{
	struct socket *sock;
	struct sock *sk;
	__u32 key = 0;
	__u8 state;

	*skp = NULL;
	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	*ino = BPF_CORE_READ(file, f_inode, i_ino);
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	*skp = sk;
	si->type = BPF_CORE_READ(sock, type);
	si->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	si->proto = BPF_CORE_READ(sk, sk_protocol);
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (si->family == AF_INET || si->family == AF_INET6) {
		if (si->proto == IPPROTO_TCP)
			key = VIGIL_SR_KEY_TCP;
		else if (si->proto == IPPROTO_UDP)
			key = VIGIL_SR_KEY_UDP;
		else
			key = VIGIL_SR_KEY_IP_OTHER;
	} else if (si->family == AF_UNIX) {
		key = VIGIL_SR_KEY_UNIX;
	}
	/* UDP and unix sockets are TCP_ESTABLISHED once connected, TCP ones
	 * from the handshake until closed; an unconnected or listening one
	 * is TCP_CLOSE or TCP_LISTEN. */
	if (state != TCP_CLOSE && state != TCP_LISTEN)
		key |= VIGIL_SR_KEY_CONNECTED;
	return key;
}

/* What the call names besides the socket: the peer's address and its
 * length (sendto's destination, recvfrom's source with its length as the
 * kernel wrote it back, or a message's msg_name and msg_namelen), and
 * where the data is (the buffer, or a message's first iovec). 32-bit
 * callers' messages have the compat layout. */
struct sendrecv_args {
	__u64 sa;
	__u64 data;
	__u32 sa_len;
	__u32 data_len;
};

static __always_inline void sendrecv_call_args(struct sys_args *a, struct sendrecv_args *o)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__s32 n = 0;

	switch (a->syscall) {
	case VIGIL_SYS_SENDTO:
		o->sa = a->ptr;
		o->sa_len = a->len;
		o->data = a->path;
		o->data_len = ~0u;
		return;
	case VIGIL_SYS_RECVFROM:
		o->data = a->path;
		o->data_len = ~0u;
		if (!a->ptr || !a->ptr2)
			return;
		bpf_probe_read_user(&n, sizeof(n), (void *)a->ptr2);
		o->sa = a->ptr;
		o->sa_len = n;
		return;
	}
	if (!a->ptr)
		return;
	if (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) {
		struct compat_msghdr m = {};
		struct compat_iovec iov = {};

		bpf_probe_read_user(&m, sizeof(m), (void *)a->ptr);
		o->sa = m.msg_name;
		o->sa_len = m.msg_namelen;
		if (m.msg_iovlen && m.msg_iov) {
			bpf_probe_read_user(&iov, sizeof(iov), (void *)(__u64)m.msg_iov);
			o->data = iov.iov_base;
			o->data_len = iov.iov_len;
		}
	} else {
		struct user_msghdr m = {};
		struct iovec iov = {};

		bpf_probe_read_user(&m, sizeof(m), (void *)a->ptr);
		o->sa = (__u64)m.msg_name;
		o->sa_len = m.msg_namelen;
		if (m.msg_iovlen && m.msg_iov) {
			bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov);
			o->data = (__u64)iov.iov_base;
			o->data_len = iov.iov_len;
		}
	}
}

/*
 * The needles of the filter in slot (the generation's) that the first
 * bytes of the data (n of them, the call's byte count) hold, one bit each.
 * The data is read into the record buffer, searched and left there; it
 * never goes into a record. A global function: the verifier checks its
 * loop once per program.
 */
__noinline int sendrecv_find_needles(__u32 slot, __u64 data, __u32 n)
{
	__u32 zero = 0, i, p, len, end, found = 0;
	struct kind_filter *f;
	struct rec_buf *rb;
	__u64 nd, nm;

	f = bpf_map_lookup_elem(&filters, &slot);
	rb = bpf_map_lookup_elem(&rec_bufs, &zero);
	if (!f || !rb || !data || n == 0)
		return 0;
	if (n > VIGIL_FILTER_RAW_SCAN)
		n = VIGIL_FILTER_RAW_SCAN;
	/* Zeroed past the data, so the 8-byte loads below never read a
	 * former call's bytes. */
	__builtin_memset(__builtin_assume_aligned(rb->b, 8), 0, VIGIL_FILTER_RAW_SCAN + 8);
	if (bpf_probe_read_user(rb->b, n & (VIGIL_FILTER_RAW_SCAN * 2 - 1), (void *)data))
		return 0;
	for (i = 0; i < VIGIL_FILTER_NEEDLES; i++) {
		len = f->needle_len[i];
		if (len == 0 || len > VIGIL_FILTER_NEEDLE_MAX || len > n)
			continue;
		nd = f->needle[i];
		nm = f->needle_mask[i];
		end = n - len;
		for (p = 0; p < VIGIL_FILTER_RAW_SCAN; p++) {
			if (p > end)
				break;
			if ((*(__u64 *)&rb->b[p & (VIGIL_FILTER_RAW_SCAN - 1)] & nm) == nd) {
				found |= 1u << i;
				break;
			}
		}
	}
	return found;
}

/* Read an IP sockaddr of the socket's family at sa into si's remote end;
 * false when there is none, or it is of another family or too short. */
static __always_inline bool sendrecv_read_peer(__u64 sa, __u32 len, struct sock_info *si)
{
	__u16 fam = 0;

	if (!sa || len < sizeof(fam) || len > 128)
		return false;
	bpf_probe_read_user(&fam, sizeof(fam), (void *)sa);
	if (fam != si->family)
		return false;
	if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), (void *)sa);
		__builtin_memset(si->raddr, 0, sizeof(si->raddr));
		__builtin_memcpy(si->raddr, &sin.sin_addr, 4);
		si->rport = bpf_ntohs(sin.sin_port);
		return true;
	}
	if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, sizeof(sin6), (void *)sa);
		__builtin_memcpy(si->raddr, &sin6.sin6_addr, 16);
		si->rport = bpf_ntohs(sin6.sin6_port);
		return true;
	}
	return false;
}

/* Whether the peer in si differs from the last one sk named, which it
 * then becomes. The entry of a closed socket whose memory sk reuses has
 * another inode number: a new socket's first peer is a change. */
static __always_inline bool sendrecv_peer_changed(struct sock *sk, __u32 ino, struct sock_info *si)
{
	__u64 key = (__u64)sk;
	struct sr_peer p = {}, *old;

	__builtin_memcpy(p.addr, si->raddr, sizeof(p.addr));
	p.port = si->rport;
	p.family = si->family;
	p.ino = ino;
	old = bpf_map_lookup_elem(&sr_peers, &key);
	if (old && old->ino == p.ino && old->port == p.port && old->family == p.family &&
	    *(__u64 *)&old->addr[0] == *(__u64 *)&p.addr[0] && *(__u64 *)&old->addr[8] == *(__u64 *)&p.addr[8])
		return false;
	bpf_map_update_elem(&sr_peers, &key, &p, BPF_ANY);
	return true;
}

/* Whether the server's end is the socket's own (event.serverSide). */
static __always_inline bool sendrecv_server_local(__u16 sys, __u32 rflags)
{
	if (rflags & VIGIL_SR_CONNECTED)
		return rflags & VIGIL_SR_ACCEPTED;
	return sys == VIGIL_SYS_RECVFROM || sys == VIGIL_SYS_RECVMSG;
}

/* Whether port is in the port bitmap of the kind's filter of generation
 * gen (the pairs bitmap, which the kind has no paths to use for). */
static __always_inline bool sendrecv_port_named(__u32 gen, __u16 port)
{
	__u32 slot = filter_slot(VIGIL_KIND_SENDRECV, gen);
	struct kind_filter *f;

	if (!gen)
		return false;
	f = bpf_map_lookup_elem(&filters, &slot);
	return f && (f->pairs[INDEX(port >> 5, 2048)] & (1u << (port & 31)));
}

static __always_inline int sendrecv_report(struct sys_args *a, long ret)
{
	__u32 key, gen, raw_need, rflags = 0, ino = 0, mask, slot, found, i;
	struct sendrecv_args ca = {};
	struct sock_info si = {};
	struct kind_filter *f;
	struct sendrecv_rec *r;
	struct sock *sk;

	/* Step 1: the syscall and the result, before the socket is read. */
	if (!filter_mask(VIGIL_KIND_SENDRECV, a->syscall, VIGIL_SR_KEY_ANY, ret, &gen, &raw_need))
		goto filtered;
	/* Step 2: the socket's family, transport and state, whatever its
	 * peer and server port turn out to be. */
	key = sendrecv_sock_key(fd_file((void *)bpf_get_current_task(), a->fd), &sk, &si, &ino);
	if (!(filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key, ret, &gen, &raw_need) |
	      filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key | VIGIL_SR_KEY_NAME_CHANGED, ret, &gen, &raw_need) |
	      filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key | VIGIL_SR_KEY_PORT, ret, &gen, &raw_need) |
	      filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key | VIGIL_SR_KEY_NAME_CHANGED | VIGIL_SR_KEY_PORT, ret, &gen, &raw_need)))
		goto filtered;
	/* Step 3: the ends; an unconnected IP socket's peer is the address
	 * the call named, and whether it changed is the last judgement. */
	if (key & VIGIL_SR_KEY_CONNECTED) {
		rflags |= VIGIL_SR_CONNECTED;
		/* Which end connected, for fd.cip and fd.sip: a socket accept
		 * returned is a clone of its listener, backlog included; one
		 * that connected never listened. */
		if (sk && BPF_CORE_READ(sk, sk_max_ack_backlog))
			rflags |= VIGIL_SR_ACCEPTED;
	}
	if (sk && (si.family == AF_INET || si.family == AF_INET6)) {
		if (si.family == AF_INET) {
			__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
			__be32 rm = BPF_CORE_READ(sk, __sk_common.skc_daddr);

			__builtin_memcpy(si.laddr, &l, 4);
			__builtin_memcpy(si.raddr, &rm, 4);
		} else {
			bpf_core_read(si.laddr, sizeof(si.laddr), &sk->__sk_common.skc_v6_rcv_saddr);
			bpf_core_read(si.raddr, sizeof(si.raddr), &sk->__sk_common.skc_v6_daddr);
		}
		si.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		si.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (!(rflags & VIGIL_SR_CONNECTED) && ret >= 0) {
			sendrecv_call_args(a, &ca);
			if (sendrecv_read_peer(ca.sa, ca.sa_len, &si)) {
				rflags |= VIGIL_SR_PEER_ARG;
				if (sendrecv_peer_changed(sk, ino, &si)) {
					rflags |= VIGIL_SR_NAME_CHANGED;
					key |= VIGIL_SR_KEY_NAME_CHANGED;
				}
			}
		}
		/* The server's port, as fd.sport reads it: on an unconnected
		 * socket the receiver's, on a connected one the end accept
		 * made's. */
		if (sendrecv_port_named(gen, sendrecv_server_local(a->syscall, rflags) ? si.lport : si.rport))
			key |= VIGIL_SR_KEY_PORT;
	}
	mask = filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key, ret, &gen, &raw_need);
	if (!mask)
		goto filtered;

	/* Step 4, for the clauses that need one of the rules' needles in
	 * the data (evt.buffer contains X): search the data's first bytes,
	 * before a record is reserved (a discarded one would still fill the
	 * ring buffer until the reader passes it). */
	f = NULL;
	found = 0;
	if ((mask & raw_need) && ret > 0) {
		if (!ca.data && !ca.sa_len)
			sendrecv_call_args(a, &ca);
		slot = filter_slot(VIGIL_KIND_SENDRECV, gen);
		found = sendrecv_find_needles(slot, ca.data, ret < ca.data_len ? ret : ca.data_len);
		f = bpf_map_lookup_elem(&filters, &slot);
		if (f) {
			mask &= ~raw_need;
			for (i = 0; i < VIGIL_FILTER_NEEDLES; i++)
				if (found & (1u << i))
					mask |= f->needle_clauses[i];
			if (!mask)
				goto filtered;
		}
	}

	r = reserve(sizeof(*r), VIGIL_KIND_SENDRECV);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	if (f && found) {
		for (i = 0; i < VIGIL_FILTER_NEEDLES; i++) {
			if (!(found & (1u << i)))
				continue;
			r->needle[i] = f->needle[i];
			r->needle_len[i] = f->needle_len[i];
		}
		r->needles = found;
	}
	fill_hdr(&r->hdr, VIGIL_REC_SENDRECV, sizeof(*r));
	r->ret = ret;
	r->fd = a->fd;
	r->flags = a->flags;
	r->syscall = a->syscall;
	r->rflags = rflags;
	r->sock = si;
	submit(r, VIGIL_KIND_SENDRECV);
	return 0;
filtered:
	count_filtered(VIGIL_KIND_SENDRECV);
	return 0;
}

#endif /* VIGIL_KINDS_SENDRECV_H */
