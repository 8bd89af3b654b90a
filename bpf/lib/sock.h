/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a descriptor of the current task is when it is a socket: family,
 * type, protocol and both ends, as the kernel holds them at that moment.
 */
#ifndef VIGIL_LIB_SOCK_H
#define VIGIL_LIB_SOCK_H

/* Fill si from file when file is a socket; leave it zeroed otherwise. An
 * IP socket's ends are read whatever its state: an unbound or unconnected
 * end reads as zero address and port. */
static __always_inline void read_sock(struct file *file, struct sock_info *si)
{
	struct socket *sock;
	struct sock *sk;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	si->type = BPF_CORE_READ(sock, type);
	si->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	si->proto = BPF_CORE_READ(sk, sk_protocol);
	if (si->family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(si->laddr, &l, 4);
		__builtin_memcpy(si->raddr, &r, 4);
	} else if (si->family == AF_INET6) {
		bpf_core_read(si->laddr, sizeof(si->laddr), &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(si->raddr, sizeof(si->raddr), &sk->__sk_common.skc_v6_daddr);
	} else {
		return;
	}
	si->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	si->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

#endif /* VIGIL_LIB_SOCK_H */
