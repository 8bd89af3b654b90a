/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Syscall numbers, compat detection and argument records, all derived from
 * syscall_table.h.
 */
#ifndef VIGIL_LIB_SYSCALL_H
#define VIGIL_LIB_SYSCALL_H

#define TS_COMPAT 0x0002
#define X32_SYSCALL_BIT 0x40000000
/* Above every x86 syscall number vigil traces. */
#define SYSCALL_NR_MAX 512

/* The vigil syscall id of each x86-64 and ia32 number, VIGIL_SYS_NONE for
 * the others: one load from .rodata tells the raw program whether a
 * syscall concerns it, however many rows the table has. A number given
 * twice in one ABI fails the build (-Winitializer-overrides). */
struct syscall_ids {
	__u8 x64;
	__u8 ia32;
};

static const struct syscall_ids syscall_ids[SYSCALL_NR_MAX] = {
#define SYSCALL_IDS(name, id, x64_nr, ia32_nr, kind, hook, args) \
	[x64_nr].x64 = VIGIL_SYS_##id, [ia32_nr].ia32 = VIGIL_SYS_##id,
	VIGIL_SYSCALLS(SYSCALL_IDS)
#undef SYSCALL_IDS
};

/* Both ids of syscall number nr; x32 shares x86-64's numbers, plus a
 * marker bit. */
static __always_inline struct syscall_ids syscall_lookup(long nr)
{
	__u64 n = nr & ~(long)X32_SYSCALL_BIT;
	struct syscall_ids none = {};

	if (n >= SYSCALL_NR_MAX)
		return none;
	return syscall_ids[n];
}

/* Whether task is in a 32-bit (ia32) syscall: x86's entry code sets
 * TS_COMPAT for the syscall's duration. task must be a trusted pointer. */
static __always_inline bool in_compat_syscall(struct task_struct *task)
{
	return task->thread_info.status & TS_COMPAT;
}

/* The same for the current task; direct (a constant) picks the direct load
 * (bpf_get_current_task_btf, Linux 5.11) over a helper read, which every
 * supported kernel allows. */
static __always_inline bool current_in_compat_syscall(const bool direct)
{
	struct task_struct *task;

	if (direct)
		return in_compat_syscall(bpf_get_current_task_btf());
	task = (void *)bpf_get_current_task();
	return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT;
}

static __always_inline void set_arg(struct sys_args *a, int role, __u64 v)
{
	switch (role) {
	case ARG_PATH:
		a->path = v;
		break;
	case ARG_FD:
		a->fd = v;
		break;
	case ARG_FLAGS:
		a->flags = v;
		break;
	case ARG_MODE:
		a->mode = v;
		break;
	case ARG_PTR:
		a->ptr = v;
		break;
	case ARG_LEN:
		a->len = v;
		break;
	case ARG_CMD:
		a->cmd = v;
		break;
	case ARG_ID:
		a->id[0] = v;
		break;
	case ARG_ID2:
		a->id[1] = v;
		break;
	case ARG_ID3:
		a->id[2] = v;
		break;
	case ARG_PATH2:
		a->path2 = v;
		break;
	case ARG_FD2:
		a->fd2 = v;
		break;
	case ARG_DOMAIN:
		a->domain = v;
		break;
	case ARG_PROTO:
		a->proto = v;
		break;
	case ARG_PTR2:
		a->ptr2 = v;
		break;
	}
}

/* Argument i of the syscall in regs: x86-64 passes them in di, si, dx,
 * r10, r8, r9; ia32 in bx, cx, dx, si, di, bp, 32 bits wide. */
static __always_inline __u64 reg_arg(struct pt_regs *regs, int i, bool compat)
{
	if (compat) {
		switch (i) {
		case 0: return (__u32)regs->bx;
		case 1: return (__u32)regs->cx;
		case 2: return (__u32)regs->dx;
		case 3: return (__u32)regs->si;
		case 4: return (__u32)regs->di;
		}
		return (__u32)regs->bp;
	}
	switch (i) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	}
	return regs->r9;
}

/* Store argument i, read by get(i), if the row's roles (a constant) name
 * it. Spelled out per argument rather than looped: a loop clang keeps
 * would index the tracepoint context with a register, which the verifier
 * refuses. */
#define SET_ARGS(a, roles, get)                                       \
	({                                                            \
		if (ARG_ROLE(roles, 0)) set_arg(a, ARG_ROLE(roles, 0), get(0)); \
		if (ARG_ROLE(roles, 1)) set_arg(a, ARG_ROLE(roles, 1), get(1)); \
		if (ARG_ROLE(roles, 2)) set_arg(a, ARG_ROLE(roles, 2), get(2)); \
		if (ARG_ROLE(roles, 3)) set_arg(a, ARG_ROLE(roles, 3), get(3)); \
		if (ARG_ROLE(roles, 4)) set_arg(a, ARG_ROLE(roles, 4), get(4)); \
		if (ARG_ROLE(roles, 5)) set_arg(a, ARG_ROLE(roles, 5), get(5)); \
	})

/* Fill a from regs by the roles of a row: one load and store per argument
 * the row names. */
static __always_inline void reg_args(struct sys_args *a, struct pt_regs *regs, bool compat, const __u32 roles)
{
#define REG_ARG(i) reg_arg(regs, i, compat)
	SET_ARGS(a, roles, REG_ARG);
#undef REG_ARG
}

/* The same from a syscalls tracepoint's arguments. */
static __always_inline void tp_args(struct sys_args *a, struct trace_event_raw_sys_enter *ctx, const __u32 roles)
{
#define TP_ARG(i) ctx->args[i]
	SET_ARGS(a, roles, TP_ARG);
#undef TP_ARG
}

/* The calling thread's inflight slot, created on its first traced syscall;
 * NULL (counted as a drop of kind) when the map is full. One slot per
 * thread, kept until the thread exits: sys_enter and sys_exit write it in
 * place, which costs far less than inserting and deleting a hash element
 * on every syscall. */
static __always_inline struct sys_args *inflight_slot(__u32 tid, __u32 kind)
{
	struct sys_args *in = bpf_map_lookup_elem(&inflight, &tid);
	struct sys_args empty = {};

	if (in)
		return in;
	bpf_map_update_elem(&inflight, &tid, &empty, BPF_NOEXIST);
	in = bpf_map_lookup_elem(&inflight, &tid);
	if (!in)
		count(kind, false);
	return in;
}

/* The slot of thread tid if its pending syscall is one of [lo, hi], which is
 * stored in *sys and marked consumed (exec's marker, taken by
 * sched_process_exec); the arguments stay readable until the thread's next
 * syscall. */
static __always_inline struct sys_args *inflight_take(__u32 tid, __u16 lo, __u16 hi, __u16 *sys)
{
	struct sys_args *in = bpf_map_lookup_elem(&inflight, &tid);

	if (!in)
		return NULL;
	*sys = in->syscall;
	if (*sys < lo || *sys > hi)
		return NULL;
	in->syscall = VIGIL_SYS_NONE;
	return in;
}

#endif /* VIGIL_LIB_SYSCALL_H */
