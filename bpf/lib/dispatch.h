/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The programs of the syscalls in syscall_table.h, generated from its rows:
 * a raw sys_exit program (two variants; x86-64 loads one of them), and a
 * syscalls tracepoint pair per row, which every supported kernel has. Both
 * fill a struct sys_args by the row's roles and hand it to the kind's
 * report.
 */
#ifndef VIGIL_LIB_DISPATCH_H
#define VIGIL_LIB_DISPATCH_H

/* One call site per kind: each report is inlined once per program. */
static __always_inline int report(__u32 kind, struct sys_args *a, long ret, const bool direct)
{
	switch (kind) {
	case VIGIL_KIND_EXEC:
		return exec_report(a, ret);
	case VIGIL_KIND_OPEN:
		return open_report(a, ret, direct);
	case VIGIL_KIND_CONNECT:
		return connect_report(a, ret);
	case VIGIL_KIND_PRIV:
	case VIGIL_KIND_CRED:
		return priv_report(a, ret, kind);
	case VIGIL_KIND_FS:
		return fs_report(a, ret, direct);
	case VIGIL_KIND_SOCKET:
		return socket_report(a, ret);
	case VIGIL_KIND_DUP:
		return dup_report(a, ret, direct);
	case VIGIL_KIND_SENDRECV:
		return sendrecv_report(a, ret);
	}
	return 0;
}

/*
 * On x86-64, one program on the raw sys_exit tracepoint replaces the
 * tracepoint pairs of the rows hooked VIGIL_HOOK_RAW (tp_btf: Linux 5.5,
 * below vigil's floor; the Go side probes):
 * - it runs with the registers the syscall ran with, so the arguments need
 *   no sys_enter program and no per-thread slot: x86-64 leaves them in
 *   pt_regs until the syscall returns;
 * - raw tracepoints skip the perf buffer each syscalls tracepoint fills
 *   before its program runs;
 * - it also sees 32-bit syscalls (ia32 processes and int 0x80), which the
 *   syscalls tracepoints ignore on x86-64.
 * The registers come from the tracepoint's own arguments, which tp_btf
 * lets the program load directly on every kernel. direct (a constant)
 * picks how the reports read the rest of the kernel: loads through
 * bpf_rdonly_cast (Linux 6.2, the cheaper) or helper reads, as the
 * tracepoint pairs do.
 */
static __always_inline int sys_exit_regs(struct pt_regs *regs, long ret, const bool direct)
{
	struct syscall_ids ids = syscall_lookup(regs->orig_ax);
	struct sys_args a = { .fd = AT_FDCWD, .fd2 = AT_FDCWD };
	__u32 kind;
	bool compat;

	/* Every syscall of the machine passes here: most leave on their
	 * number alone, before the task is looked at. */
	if (!(ids.x64 | ids.ia32))
		return 0;
	compat = current_in_compat_syscall(direct);
	a.syscall = compat ? ids.ia32 : ids.x64;
	switch (a.syscall) {
#define RAW_ROW(name, id, x64, ia32, k, hook, roles) \
	case VIGIL_SYS_##id:                    \
		if (hook != VIGIL_HOOK_RAW)        \
			return 0;                  \
		kind = k;                          \
		reg_args(&a, regs, compat, roles); \
		break;
	VIGIL_SYSCALLS(RAW_ROW)
#undef RAW_ROW
	default:
		return 0;
	}
	if (is_self() || !kind_on(kind))
		return 0;
	return report(kind, &a, ret, direct);
}

/* The raw program where bpf_rdonly_cast exists (Linux 6.2). */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_raw, struct pt_regs *regs, long ret)
{
	return sys_exit_regs(regs, ret, true);
}

/* The raw program for kernels without bpf_rdonly_cast (Linux 5.8 to 6.1):
 * the same reports with helper reads, so that ia32 syscalls are seen
 * there too. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_raw_read, struct pt_regs *regs, long ret)
{
	return sys_exit_regs(regs, ret, false);
}

/* sys_enter of a row: save its arguments in the thread's slot. */
static __always_inline int sys_enter(struct trace_event_raw_sys_enter *ctx, __u16 id, __u32 kind, const __u32 roles)
{
	struct sys_args *a;

	if (is_self() || !kind_on(kind))
		return 0;
	a = inflight_slot((__u32)bpf_get_current_pid_tgid(), kind);
	if (!a)
		return 0;
	__builtin_memset(a, 0, sizeof(*a));
	a->fd = AT_FDCWD;
	a->fd2 = AT_FDCWD;
	tp_args(a, ctx, roles);
	a->syscall = id;
	return 0;
}

/* sys_exit of a row: report the call its sys_enter saved, then free the
 * slot for the thread's next syscall. */
static __always_inline int sys_exit(struct trace_event_raw_sys_exit *ctx, __u16 id, __u32 kind)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sys_args *a = bpf_map_lookup_elem(&inflight, &tid);

	if (!a || a->syscall != id)
		return 0;
	report(kind, a, ctx->ret, false);
	a->syscall = VIGIL_SYS_NONE;
	return 0;
}

#define TP_PAIR(name, id, x64, ia32, kind, hook, roles)                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                          \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)          \
	{                                                                    \
		return sys_enter(ctx, VIGIL_SYS_##id, kind, roles);        \
	}                                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #name)                           \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)            \
	{                                                                    \
		return sys_exit(ctx, VIGIL_SYS_##id, kind);                \
	}
VIGIL_SYSCALLS(TP_PAIR)
#undef TP_PAIR

#endif /* VIGIL_LIB_DISPATCH_H */
