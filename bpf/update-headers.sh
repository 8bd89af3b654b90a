#!/usr/bin/env bash
# Refresh the vendored headers under bpf/include: vmlinux.h from the running
# kernel's BTF and the libbpf BPF-side headers from libbpf-dev. The vendored
# copies, not the machine's, are what `go generate ./bpf` compiles against, so
# regeneration is reproducible anywhere. Run it by hand when a newer kernel
# type is needed, then regenerate and commit both.
set -euo pipefail
cd "$(dirname "$0")/include"

btf=${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}
libbpf=${LIBBPF_INCLUDE:-/usr/include/bpf}

bpftool btf dump file "$btf" format c > vmlinux.h
for h in bpf_helpers.h bpf_helper_defs.h bpf_core_read.h bpf_tracing.h bpf_endian.h; do
	cp "$libbpf/$h" "bpf/$h"
done
echo "vmlinux.h from $btf ($(uname -r)); libbpf headers from $libbpf" >&2
