/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process lifecycle: fork and exit (sensor/decode.go: decodeFork,
 * decodeExit). The process table needs both whatever the rules want, so
 * the Go side keeps these kinds on.
 */
#ifndef VIGIL_KINDS_PROC_H
#define VIGIL_KINDS_PROC_H

/* sched_process_fork fires for threads too; only a new thread group (the
 * child leads its group) is a new process. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid), tid = BPF_CORE_READ(child, pid);
	struct fork_rec *r;

	if (tgid != tid || !kind_on(VIGIL_KIND_FORK))
		return 0;
	r = reserve(sizeof(*r), VIGIL_KIND_FORK);
	if (!r)
		return 0;
	fill_hdr(&r->hdr, VIGIL_REC_FORK, sizeof(*r));
	/* The header names the child; its cgroup is its own, which
	 * CLONE_INTO_CGROUP can make differ from the parent's. */
	r->hdr.tgid = tgid;
	r->hdr.tid = tid;
	r->hdr.cgroup_id = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
	r->start_boot_ns = BPF_CORE_READ(child, start_boottime);
	r->parent_tgid = BPF_CORE_READ(child, real_parent, tgid);
	r->parent_tid = (__u32)bpf_get_current_pid_tgid();
	submit(r, VIGIL_KIND_FORK);
	return 0;
}

/* sched_process_exit fires for every thread. do_exit has already dropped
 * signal->live when it fires, so live == 0 means this is the last thread
 * and the process is gone (the leader may have exited long before). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	__u32 tid = BPF_CORE_READ(task, pid);
	struct exit_rec *r;

	/* The thread's inflight slot goes with it. */
	bpf_map_delete_elem(&inflight, &tid);
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (is_self() || !kind_on(VIGIL_KIND_EXIT))
		return 0;
	r = reserve(sizeof(*r), VIGIL_KIND_EXIT);
	if (!r)
		return 0;
	fill_hdr(&r->hdr, VIGIL_REC_EXIT, sizeof(*r));
	r->exit_code = BPF_CORE_READ(task, exit_code);
	r->pad = 0;
	submit(r, VIGIL_KIND_EXIT);
	return 0;
}

#endif /* VIGIL_KINDS_PROC_H */
