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

#define ANON_INODE_FS_MAGIC 0x09041934

/* The bpf object behind f, as a (VIGIL_BPF_OBJ_*, id) pair in r->arg[1],
 * r->arg[2]; nothing for any other file. The bpf syscall hands out its maps,
 * programs and links as anonymous inodes named "bpf-map", "bpf-prog" and
 * "bpf_link"; checking the anon_inode file system as well means a regular
 * file that happens to carry such a name is never taken for one. */
static __always_inline void bpf_target_file(struct file *f, struct priv_rec *r)
{
	char name[9] = {};
	void *obj;

	if (!f || BPF_CORE_READ(f, f_inode, i_sb, s_magic) != ANON_INODE_FS_MAGIC)
		return;
	bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	if (name[0] != 'b' || name[1] != 'p' || name[2] != 'f')
		return;
	obj = BPF_CORE_READ(f, private_data);
	if (name[3] == '-' && name[4] == 'm' && name[5] == 'a' && name[6] == 'p' && name[7] == 0) {
		r->arg[1] = VIGIL_BPF_OBJ_MAP;
		r->arg[2] = BPF_CORE_READ((struct bpf_map *)obj, id);
	} else if (name[3] == '-' && name[4] == 'p' && name[5] == 'r' && name[6] == 'o' && name[7] == 'g' && name[8] == 0) {
		r->arg[1] = VIGIL_BPF_OBJ_PROG;
		r->arg[2] = BPF_CORE_READ((struct bpf_prog *)obj, aux, id);
	} else if (name[3] == '_' && name[4] == 'l' && name[5] == 'i' && name[6] == 'n' && name[7] == 'k' && name[8] == 0) {
		r->arg[1] = VIGIL_BPF_OBJ_LINK;
		r->arg[2] = BPF_CORE_READ((struct bpf_link *)obj, id);
	}
}

/* The map, program or link a bpf command acts on. Commands that return a
 * new descriptor (BPF_*_GET_FD_BY_ID, BPF_OBJ_GET) are read from that
 * descriptor at exit, which is the kernel's own object; a failed
 * *_GET_FD_BY_ID keeps the id the caller asked for. Commands given a
 * descriptor name it in union bpf_attr: its first word for the element
 * operations, BPF_MAP_FREEZE, BPF_OBJ_GET_INFO_BY_FD, BPF_LINK_UPDATE and
 * BPF_LINK_DETACH; after four pointers and the count for the batch
 * operations; after the path for BPF_OBJ_PIN. That word is read from the
 * caller's memory at exit: a thread of the caller could change it after the
 * kernel read it (README, threat model). */
static __always_inline void bpf_target(struct sys_args *a, long ret, struct priv_rec *r)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u32 off = 0, fd = 0, id = 0;

	switch (a->cmd) {
	case VIGIL_BPF_PROG_GET_FD_BY_ID:
	case VIGIL_BPF_MAP_GET_FD_BY_ID:
	case VIGIL_BPF_LINK_GET_FD_BY_ID:
		if (ret < 0) {
			bpf_probe_read_user(&id, sizeof(id), (void *)a->ptr);
			r->arg[1] = a->cmd == VIGIL_BPF_MAP_GET_FD_BY_ID ? VIGIL_BPF_OBJ_MAP :
				    a->cmd == VIGIL_BPF_PROG_GET_FD_BY_ID ? VIGIL_BPF_OBJ_PROG : VIGIL_BPF_OBJ_LINK;
			r->arg[2] = id;
			return;
		}
		/* fall through */
	case VIGIL_BPF_OBJ_GET:
		if (ret >= 0)
			bpf_target_file(fd_file(task, ret), r);
		return;
	case VIGIL_BPF_MAP_LOOKUP_ELEM:
	case VIGIL_BPF_MAP_UPDATE_ELEM:
	case VIGIL_BPF_MAP_DELETE_ELEM:
	case VIGIL_BPF_MAP_GET_NEXT_KEY:
	case VIGIL_BPF_OBJ_GET_INFO_BY_FD:
	case VIGIL_BPF_MAP_LOOKUP_AND_DELETE_ELEM:
	case VIGIL_BPF_MAP_FREEZE:
	case VIGIL_BPF_LINK_UPDATE:
	case VIGIL_BPF_LINK_DETACH:
		break;
	case VIGIL_BPF_OBJ_PIN:
		off = 8;
		break;
	case VIGIL_BPF_MAP_LOOKUP_BATCH:
	case VIGIL_BPF_MAP_LOOKUP_AND_DELETE_BATCH:
	case VIGIL_BPF_MAP_UPDATE_BATCH:
	case VIGIL_BPF_MAP_DELETE_BATCH:
		off = 36;
		break;
	default:
		return;
	}
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(a->ptr + off)))
		return;
	bpf_target_file(fd_file(task, (__s32)fd), r);
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
		bpf_target(a, ret, r);
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
