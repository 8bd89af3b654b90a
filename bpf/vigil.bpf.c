//go:build ignore

// SPDX-License-Identifier: GPL-2.0
/*
 * vigil's kernel side, one object: exec, fork, exit, open and connect
 * records into one ring buffer. This file holds what the object shares
 * (settings, maps) and includes the rest in dependency order:
 *
 *   events.h          record layouts, enums and bounds, shared with Go
 *   syscall_table.h   the traced syscalls, one row each
 *   lib/defs.h        constants, scratch buffer and argument layouts
 *   lib/record.h      kinds switch, record header, emit, counters
 *   lib/path.h        the path walk, path and string copies
 *   lib/fd.h          the file behind a descriptor
 *   lib/syscall.h     syscall numbers, compat, argument reads, the slots
 *   lib/filter.h      per-kind in-kernel filters driven by the rules
 *   lib/sock.h        what a socket descriptor is: family, protocol, ends
 *   kinds/            one header per decoder of sensor/decode*.go: exec, proc
 *                     (fork, exit), open, connect, priv, fs, socket, dup,
 *                     sendrecv, iouring
 *   lib/dispatch.h    the raw sys_exit program and the tracepoint pairs,
 *                     generated from syscall_table.h
 *
 * Settings that never change after load are const volatile; the kinds
 * switch and the filters are maps, so a rules reload can change them at
 * run time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "lib/defs.h"

char LICENSE[] SEC("license") = "GPL";

/* Settings fixed at load time by the Go side. */
const volatile __u32 self_tgid = 0;
const volatile __u64 wakeup_bytes = 1 << 20;
/* 1 when the rows hooked VIGIL_HOOK_RAW come from the raw sys_exit program
 * rather than their tracepoint pairs (sensor/probe.go decides). */
const volatile __u32 raw_syscalls = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* kinds[k] != 0: emit records of kind k. Written by Go at any time. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NUM_KINDS);
	__type(key, __u32);
	__type(value, __u32);
} kinds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_NUM_KINDS);
	__type(key, __u32);
	__type(value, struct kind_counters);
} counters SEC(".maps");

/* The tracepoint pairs' per-thread argument slots (lib/syscall.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* thread id */
	__type(value, struct sys_args);
} inflight SEC(".maps");

/* filter_gen[k]: the generation of kind k's active filter, 0 when its
 * events are not filtered; the filter is filters[k * 2 + (gen & 1)]
 * (lib/filter.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NUM_KINDS);
	__type(key, __u32);
	__type(value, __u32);
} filter_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NUM_KINDS * 2);
	__type(key, __u32);
	__type(value, struct kind_filter);
} filters SEC(".maps");

/* Two generations' entries of every filtered kind. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * VIGIL_FILTER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct filter_prefix_key);
	__type(value, __u32); /* clauses */
} filter_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_FILTER_ENTRIES);
	__type(key, struct filter_name_key);
	__type(value, __u32); /* clauses */
} filter_names SEC(".maps");

/* Two generations' file identities of every filtered kind: the clauses
 * a file satisfies by its device and inode (lib/filter.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_FILTER_IDENTS);
	__type(key, struct filter_ident_key);
	__type(value, __u32); /* clauses */
} filter_idents SEC(".maps");

/* The last peer each unconnected socket sent to or received from, by its
 * struct sock (kinds/sendrecv.h: fd.name_changed). LRU: a socket closed
 * without a word leaves its entry to be evicted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sr_peer);
} sr_peers SEC(".maps");

/* Records larger than the stack are built here; per CPU because tracepoint
 * programs run with preemption disabled and cannot interleave on one CPU.
 * The syscall tracepoints, faultable since Linux 6.13, still wrap their BPF
 * programs in preempt_disable_notrace (as the 6.13 series does; on 6.18 no
 * interleaving was seen); a kernel that runs them preemptibly breaks this,
 * which sensor's TestScratchIsolation shows. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rec_buf);
} rec_bufs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_bufs SEC(".maps");

/* Types only the Go side reads (records it decodes, enums it names) are
 * anchored here so that they reach BTF for bpf2go -type. The records with a
 * flexible array cannot be members, so they get their own anchor. */
struct btf_anchor {
	struct rec_hdr hdr;
	struct fork_rec fork;
	struct exit_rec exit;
	struct connect_rec connect;
	struct priv_rec priv;
	struct socket_rec socket;
	struct sendrecv_rec sendrecv;
	enum event_kind kind;
	enum rec_type rec_type;
	enum syscall_id syscall;
	enum syscall_hook hook;
	enum syscall_trace trace;
	enum str_bounds bounds;
	enum exec_rec_flags exec_flags;
	enum open_rec_flags open_flags;
	enum filter_bounds filter_bounds;
	enum filter_result filter_result;
	enum open_filter_key open_key;
	enum priv_filter_key priv_key;
	enum bpf_obj_type bpf_obj;
	enum fs_rec_flags fs_flags;
	enum dup_rec_flags dup_flags;
	enum socket_filter_key socket_key;
	enum dup_filter_key dup_key;
	enum fs_filter_key fs_key;
	enum sendrecv_rec_flags sendrecv_flags;
	enum sendrecv_filter_key sendrecv_key;
	enum iouring_rec_flags iouring_flags;
	enum iouring_filter_key iouring_key;
};
const struct btf_anchor *unused_btf_anchor __attribute__((unused));
const struct exec_rec *unused_exec_rec __attribute__((unused));
const struct open_rec *unused_open_rec __attribute__((unused));
const struct fs_rec *unused_fs_rec __attribute__((unused));
const struct dup_rec *unused_dup_rec __attribute__((unused));
const struct iouring_rec *unused_iouring_rec __attribute__((unused));

#include "lib/record.h"
#include "lib/path.h"
#include "lib/fd.h"
#include "lib/syscall.h"
#include "lib/filter.h"
#include "lib/sock.h"
#include "kinds/exec.h"
#include "kinds/proc.h"
#include "kinds/open.h"
#include "kinds/connect.h"
#include "kinds/priv.h"
#include "kinds/fs.h"
#include "kinds/socket.h"
#include "kinds/dup.h"
#include "kinds/sendrecv.h"
#include "kinds/iouring.h"
#include "lib/dispatch.h"
