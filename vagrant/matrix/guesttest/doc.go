// Package guesttest holds the kernel-matrix runner's own privileged tests:
// they check what every kernel vigil runs on must give it (BTF in
// /sys/kernel/btf/vmlinux, tracefs) and probe, by attaching a tiny counting
// program and making it fire, which BPF hooks the running kernel offers
// (tracepoint, tp_btf, kprobe, fentry, BPF LSM). Each working hook is logged
// as "hook active: NAME"; each missing one is skipped as "kernel lacks NAME",
// so the runner's per-kernel summary shows what every guest kernel activated.
package guesttest
