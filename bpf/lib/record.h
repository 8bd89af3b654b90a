/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every record goes through: the kinds switch, the common header,
 * the ring buffer with batched wakeups, and the per-CPU counters of each
 * kind (emitted, dropped, filtered), which userspace reports.
 */
#ifndef VIGIL_LIB_RECORD_H
#define VIGIL_LIB_RECORD_H

static __always_inline bool is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

static __always_inline bool kind_on(__u32 kind)
{
	__u32 *on = bpf_map_lookup_elem(&kinds, &kind);

	return on && *on;
}

static __always_inline void count_filtered(__u32 kind)
{
	struct kind_counters *c = bpf_map_lookup_elem(&counters, &kind);

	if (c)
		c->filtered++;
}

static __always_inline void count(__u32 kind, bool ok)
{
	struct kind_counters *c = bpf_map_lookup_elem(&counters, &kind);

	if (!c)
		return;
	if (ok)
		c->emitted++;
	else
		c->dropped++;
}

/* Wake the reader only once enough data is pending: a wakeup per record
 * doubles the cost of a traced syscall, and the reader polls anyway. */
static __always_inline __u64 wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_hdr(struct rec_hdr *h, __u16 type, __u16 size)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
}

/* Copy a record built in scratch memory into the ring buffer. */
static __always_inline void emit(void *rec, __u64 size, __u32 kind)
{
	long err = bpf_ringbuf_output(&events, rec, size, wakeup_flags());

	count(kind, err == 0);
}

/* Reserve a fixed-size record in the ring buffer; a failure is a drop. */
static __always_inline void *reserve(__u64 size, __u32 kind)
{
	void *r = bpf_ringbuf_reserve(&events, size, 0);

	if (!r)
		count(kind, false);
	return r;
}

static __always_inline void submit(void *rec, __u32 kind)
{
	bpf_ringbuf_submit(rec, wakeup_flags());
	count(kind, true);
}

static __always_inline struct rec_buf *get_rec_buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&rec_bufs, &zero);
}

/* A record too large for the stack, built in the per-CPU buffer (*rb):
 * its fixed part of size bytes zeroed, the string area after it. NULL
 * when the buffer cannot be had. */
static __always_inline void *scratch_rec(struct rec_buf **rb, __u32 size)
{
	*rb = get_rec_buf();
	if (!*rb)
		return NULL;
	/* Map values are 8-byte aligned: zero by words, not bytes. */
	__builtin_memset(__builtin_assume_aligned((*rb)->b, 8), 0, size);
	return (*rb)->b;
}

#endif /* VIGIL_LIB_RECORD_H */
