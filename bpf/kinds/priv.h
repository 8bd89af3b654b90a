/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Privileged operations and credential changes (sensor/decode_priv.go:
 * decodePriv), at syscall exit: the arguments Falco names, and the task's
 * credentials after the call, which is how userspace learns of a change of
 * uid, gid or capabilities (a failed call leaves them as they were).
 */
#ifndef VIGIL_KINDS_PRIV_H
#define VIGIL_KINDS_PRIV_H

/* The filter key (events.h, enum priv_filter_key): ptrace's request or
 * bpf's command, folded into VIGIL_FILTER_KEYS values; 0 for the others. */
static __always_inline __u32 priv_key(struct sys_args *a)
{
	__u32 c = a->cmd;

	switch (a->syscall) {
	case VIGIL_SYS_PTRACE:
		if (c < VIGIL_PRIV_KEY_PTRACE_EXT)
			return c;
		if (c >= VIGIL_PRIV_PTRACE_EXT_BASE && c - VIGIL_PRIV_PTRACE_EXT_BASE < VIGIL_PRIV_KEY_OTHER - VIGIL_PRIV_KEY_PTRACE_EXT)
			return VIGIL_PRIV_KEY_PTRACE_EXT + c - VIGIL_PRIV_PTRACE_EXT_BASE;
		return VIGIL_PRIV_KEY_OTHER;
	case VIGIL_SYS_BPF:
		return c < VIGIL_PRIV_KEY_OTHER ? c : VIGIL_PRIV_KEY_OTHER;
	}
	return 0;
}

static __always_inline int priv_report(struct sys_args *a, long ret, __u32 kind)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	const struct cred *cred;
	__u32 gen, raw_need;
	struct priv_rec *r;

	/* Credential changes always pass: the process table needs them. */
	if (kind == VIGIL_KIND_PRIV && !filter_mask(kind, a->syscall, priv_key(a), ret, &gen, &raw_need)) {
		count_filtered(kind);
		return 0;
	}
	r = reserve(sizeof(*r), kind);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	fill_hdr(&r->hdr, VIGIL_REC_PRIV, sizeof(*r));
	r->ret = ret;
	r->syscall = a->syscall;
	switch (a->syscall) {
	case VIGIL_SYS_PTRACE:
		r->arg[0] = a->cmd;
		r->arg[1] = (__s32)a->id[0];
		break;
	case VIGIL_SYS_INIT_MODULE:
		r->arg[0] = a->len;
		break;
	case VIGIL_SYS_FINIT_MODULE:
	case VIGIL_SYS_SETNS:
		r->arg[0] = a->fd;
		r->arg[1] = a->flags;
		break;
	case VIGIL_SYS_BPF:
		r->arg[0] = a->cmd;
		break;
	default:
		/* unshare and userfaultfd: flags; set*id: the ids. */
		r->arg[0] = a->flags;
		if (kind == VIGIL_KIND_CRED) {
			r->arg[0] = (__s32)a->id[0];
			r->arg[1] = (__s32)a->id[1];
			r->arg[2] = (__s32)a->id[2];
		}
	}
	cred = BPF_CORE_READ(task, cred);
	r->uid = BPF_CORE_READ(cred, uid.val);
	r->gid = BPF_CORE_READ(cred, gid.val);
	r->euid = BPF_CORE_READ(cred, euid.val);
	r->egid = BPF_CORE_READ(cred, egid.val);
	/* kernel_cap_t: see exec_ids. */
	bpf_core_read(&r->cap_inheritable, sizeof(__u64), &cred->cap_inheritable);
	bpf_core_read(&r->cap_permitted, sizeof(__u64), &cred->cap_permitted);
	bpf_core_read(&r->cap_effective, sizeof(__u64), &cred->cap_effective);
	submit(r, kind);
	return 0;
}

#endif /* VIGIL_KINDS_PRIV_H */
