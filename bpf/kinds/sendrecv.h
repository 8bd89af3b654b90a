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

/* The family, transport and connected bits of the filter key (events.h,
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
	switch (si->family) {
	case AF_INET:
		key = VIGIL_SR_KEY_INET;
		break;
	case AF_INET6:
		key = VIGIL_SR_KEY_INET6;
		break;
	case AF_UNIX:
		key = VIGIL_SR_KEY_UNIX;
		break;
	}
	if (si->family == AF_INET || si->family == AF_INET6) {
		if (si->proto == IPPROTO_TCP)
			key |= VIGIL_SR_KEY_TCP;
		else if (si->proto == IPPROTO_UDP)
			key |= VIGIL_SR_KEY_UDP;
		else
			key |= VIGIL_SR_KEY_L4_OTHER;
	}
	/* UDP and unix sockets are TCP_ESTABLISHED once connected, TCP ones
	 * from the handshake until closed; an unconnected or listening one
	 * is TCP_CLOSE or TCP_LISTEN. */
	if (state != TCP_CLOSE && state != TCP_LISTEN)
		key |= VIGIL_SR_KEY_CONNECTED;
	return key;
}

/* The address and its length that the call names: sendto's destination,
 * recvfrom's source (its length as the kernel wrote it back), or a
 * message's msg_name and msg_namelen (the compat layout for 32-bit
 * callers). */
static __always_inline void sendrecv_addr_arg(struct sys_args *a, __u64 *sa, __u32 *len)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__s32 n = 0;

	*sa = 0;
	*len = 0;
	switch (a->syscall) {
	case VIGIL_SYS_SENDTO:
		*sa = a->ptr;
		*len = a->len;
		return;
	case VIGIL_SYS_RECVFROM:
		if (!a->ptr || !a->ptr2)
			return;
		bpf_probe_read_user(&n, sizeof(n), (void *)a->ptr2);
		*sa = a->ptr;
		*len = n;
		return;
	}
	if (!a->ptr)
		return;
	if (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) {
		struct compat_msghdr m = {};

		bpf_probe_read_user(&m, sizeof(m), (void *)a->ptr);
		*sa = m.msg_name;
		*len = m.msg_namelen;
	} else {
		struct user_msghdr m = {};

		bpf_probe_read_user(&m, sizeof(m), (void *)a->ptr);
		*sa = (__u64)m.msg_name;
		*len = m.msg_namelen;
	}
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

static __always_inline int sendrecv_report(struct sys_args *a, long ret)
{
	__u32 key, gen, raw_need, rflags = 0, alen, ino = 0;
	struct sock_info si = {};
	struct sendrecv_rec *r;
	struct sock *sk;
	__u64 sa;

	/* Step 1: the syscall and the result, before the socket is read. */
	if (!filter_mask(VIGIL_KIND_SENDRECV, a->syscall, VIGIL_SR_KEY_ANY, ret, &gen, &raw_need))
		goto filtered;
	/* Step 2: the socket's family, transport and state, whichever way
	 * the call changes the peer. */
	key = sendrecv_sock_key(fd_file((void *)bpf_get_current_task(), a->fd), &sk, &si, &ino);
	if (!(filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key, ret, &gen, &raw_need) |
	      filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key | VIGIL_SR_KEY_NAME_CHANGED, ret, &gen, &raw_need)))
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
			sendrecv_addr_arg(a, &sa, &alen);
			if (sendrecv_read_peer(sa, alen, &si)) {
				rflags |= VIGIL_SR_PEER_ARG;
				if (sendrecv_peer_changed(sk, ino, &si)) {
					rflags |= VIGIL_SR_NAME_CHANGED;
					key |= VIGIL_SR_KEY_NAME_CHANGED;
				}
			}
		}
	}
	if (!filter_mask(VIGIL_KIND_SENDRECV, a->syscall, key, ret, &gen, &raw_need))
		goto filtered;

	r = reserve(sizeof(*r), VIGIL_KIND_SENDRECV);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
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
