// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
//go:build ignore

/*
 * The eBPF floor: the least work a tracer can do on the hooks vigil's
 * sensor uses (bpf/lib/dispatch.h), so the benchmark can show how much of
 * vigil's overhead is the kernel's price for having a program attached at
 * all. The Go side attaches the syscalls' tracepoint pairs or the raw
 * sys_exit program, as the sensor chooses on the same machine. Every program bumps a per-CPU counter; with emit_records set, the
 * hooks where vigil emits an event also submit a 16-byte ring-buffer record
 * without waking the reader. Built against the sensor's vendored headers.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The hooks, in the order of the counters map. A syscall's _EXIT hook
 * counts its exits whichever program saw them: its sys_exit tracepoint or
 * the raw sys_exit program. */
enum hook {
	HOOK_OPENAT_ENTER = 0,
	HOOK_OPENAT_EXIT = 1,
	HOOK_CONNECT_ENTER = 2,
	HOOK_CONNECT_EXIT = 3,
	HOOK_EXECVE_ENTER = 4,
	HOOK_EXECVE_EXIT = 5,
	HOOK_FORK = 6,
	HOOK_EXEC = 7,
	HOOK_EXIT = 8,
	HOOK_FCHMODAT_ENTER = 9,
	HOOK_FCHMODAT_EXIT = 10,
	HOOK_RENAMEAT_ENTER = 11,
	HOOK_RENAMEAT_EXIT = 12,
	HOOK_UNLINKAT_ENTER = 13,
	HOOK_UNLINKAT_EXIT = 14,
	HOOK_SENDTO_ENTER = 15,
	HOOK_SENDTO_EXIT = 16,
	HOOK_RECVFROM_ENTER = 17,
	HOOK_RECVFROM_EXIT = 18,
	HOOK_DUP2_ENTER = 19,
	HOOK_DUP2_EXIT = 20,
	NUM_HOOKS = 21,
};

/* One ring-buffer record. ptgid is the parent's tgid, filled only on exec
 * and exit, where the benchmark attributes a child's event to the load
 * generator that forked it. */
struct record {
	__u32 hook;
	__u32 tgid;
	__u32 ptgid;
	__s32 ret;
};

/* Per-CPU, per-hook counts: hits are program runs, drops failed reserves. */
struct counter {
	__u64 hits;
	__u64 drops;
};

/* Set from Go before load; the verifier prunes the record path when 0. */
const volatile __u32 emit_records = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NUM_HOOKS);
	__type(key, enum hook);
	__type(value, struct counter);
} counts SEC(".maps");

/* 16 MiB holds 700k records (24 bytes each with the ring's header): 0.3 s
 * of the dup2 loop's 2.5 million events per second, room for a reader
 * that a loaded machine leaves without a CPU for many of its 10 ms polls.
 * The size costs the programs nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
	__type(value, struct record);
} records SEC(".maps");

static __always_inline struct counter *count(enum hook hook)
{
	struct counter *c = bpf_map_lookup_elem(&counts, &hook);

	if (c)
		c->hits++;
	return c;
}

static __always_inline void emit(struct counter *c, enum hook hook, __u32 ptgid, __s32 ret)
{
	struct record *r;

	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		if (c)
			c->drops++;
		return;
	}
	r->hook = hook;
	r->tgid = bpf_get_current_pid_tgid() >> 32;
	r->ptgid = ptgid;
	r->ret = ret;
	/* No wakeup: the reader polls, so a busy producer never pays for one. */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/*
 * The syscalls the benchmark's loops issue, as the sensor's fallback hooks
 * them: a sys_enter tracepoint that only counts (the sensor saves the
 * arguments there) and a sys_exit one that counts and, like the sensor,
 * emits the event with the result. Exec is apart: the sensor keeps its
 * tracepoints on every kernel.
 */
#define TP_PAIR(name, ENTER, EXIT)                                     \
	SEC("tracepoint/syscalls/sys_enter_" #name)                     \
	int floor_##name##_enter(struct trace_event_raw_sys_enter *ctx) \
	{                                                               \
		count(ENTER);                                           \
		return 0;                                               \
	}                                                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                      \
	int floor_##name##_exit(struct trace_event_raw_sys_exit *ctx)   \
	{                                                               \
		struct counter *c = count(EXIT);                        \
                                                                        \
		if (emit_records)                                       \
			emit(c, EXIT, 0, ctx->ret);                     \
		return 0;                                               \
	}

TP_PAIR(openat, HOOK_OPENAT_ENTER, HOOK_OPENAT_EXIT)
TP_PAIR(connect, HOOK_CONNECT_ENTER, HOOK_CONNECT_EXIT)
TP_PAIR(fchmodat, HOOK_FCHMODAT_ENTER, HOOK_FCHMODAT_EXIT)
TP_PAIR(renameat, HOOK_RENAMEAT_ENTER, HOOK_RENAMEAT_EXIT)
TP_PAIR(unlinkat, HOOK_UNLINKAT_ENTER, HOOK_UNLINKAT_EXIT)
TP_PAIR(sendto, HOOK_SENDTO_ENTER, HOOK_SENDTO_EXIT)
TP_PAIR(recvfrom, HOOK_RECVFROM_ENTER, HOOK_RECVFROM_EXIT)
TP_PAIR(dup2, HOOK_DUP2_ENTER, HOOK_DUP2_EXIT)

/*
 * Where the sensor uses it (x86-64, every kernel), one program on the raw
 * sys_exit tracepoint replaces those pairs: it runs at the exit of every
 * syscall of the machine and picks the traced ones by number, from the
 * registers the syscall ran with. The floor does the same with the least
 * work: a switch on the number, then count and emit. x86-64 numbers.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	struct counter *c;
	enum hook hook;

	/* Only x86-64 has it; elsewhere the program is never attached, and the
	 * check lets it load. */
	if (!bpf_core_field_exists(regs->orig_ax))
		return 0;
	switch (regs->orig_ax) {
	case 257:
		hook = HOOK_OPENAT_EXIT;
		break;
	case 42:
		hook = HOOK_CONNECT_EXIT;
		break;
	case 268:
		hook = HOOK_FCHMODAT_EXIT;
		break;
	case 264:
		hook = HOOK_RENAMEAT_EXIT;
		break;
	case 263:
		hook = HOOK_UNLINKAT_EXIT;
		break;
	case 44:
		hook = HOOK_SENDTO_EXIT;
		break;
	case 45:
		hook = HOOK_RECVFROM_EXIT;
		break;
	case 33:
		hook = HOOK_DUP2_EXIT;
		break;
	default:
		return 0;
	}
	c = count(hook);
	if (emit_records)
		emit(c, hook, 0, ret);
	return 0;
}

/* vigil marks execve at enter and reports failures at exit; a successful
 * exec is emitted from sched_process_exec. */
SEC("tracepoint/syscalls/sys_enter_execve")
int floor_execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	count(HOOK_EXECVE_ENTER);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int floor_execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	count(HOOK_EXECVE_EXIT);
	return 0;
}

/* The process lifecycle hooks a process table needs; the exec loop fires
 * all three per operation. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child)
{
	struct counter *c = count(HOOK_FORK);

	if (emit_records)
		emit(c, HOOK_FORK, 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct counter *c = count(HOOK_EXEC);

	if (emit_records)
		emit(c, HOOK_EXEC, BPF_CORE_READ(task, real_parent, tgid), 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *task)
{
	struct counter *c = count(HOOK_EXIT);

	if (emit_records)
		emit(c, HOOK_EXIT, BPF_CORE_READ(task, real_parent, tgid), 0);
	return 0;
}
