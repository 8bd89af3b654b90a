#!/bin/bash
# Provisions vigil's Debian 12 VM (run by the Vagrantfile as root):
#   provision.sh GO_VERSION   install the 6.12 kernel, the build and test
#                             dependencies and Go GO_VERSION
#   provision.sh --check      after the reboot: print the kernel and the BPF
#                             features vigil uses, fail if BTF is missing
set -euo pipefail

if [[ "${1:-}" == "--check" ]]; then
	echo "kernel: $(uname -r)"
	if [[ ! -r /sys/kernel/btf/vmlinux ]]; then
		echo "no /sys/kernel/btf/vmlinux: this kernel lacks BTF, which vigil needs" >&2
		exit 1
	fi
	echo "active LSMs: $(cat /sys/kernel/security/lsm)"
	echo "go: $(go version)"
	echo "ready: vagrant ssh, then cd /vigil && sudo make run (or sudo make test)"
	exit 0
fi

go_version=${1:?usage: provision.sh GO_VERSION | --check}
export DEBIAN_FRONTEND=noninteractive

apt-get update
# Debian 12 ships 6.1; its security archive carries the 6.12 series as
# linux-image-6.12-amd64, older snapshots only in bookworm-backports.
if apt-cache show linux-image-6.12-amd64 >/dev/null 2>&1; then
	kernel=(linux-image-6.12-amd64)
else
	echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/backports.list
	apt-get update
	kernel=(-t bookworm-backports linux-image-amd64)
fi
apt-get install -y --no-install-recommends "${kernel[@]}"

# Build: clang/llvm compile the BPF objects (bpf2go), libbpf-dev has the
# headers, bpftool dumps vmlinux.h. Tests: containerd and runc (container
# tier), busybox-static, cpio, xz-utils and qemu (kernel matrix), iproute2.
apt-get install -y --no-install-recommends \
	build-essential make git ca-certificates curl \
	clang llvm libbpf-dev bpftool \
	containerd runc \
	busybox-static cpio xz-utils zstd qemu-system-x86 \
	iproute2 procps

# Go from the official tarball, checked against its published SHA-256.
arch=$(dpkg --print-architecture)
if [[ "$(/usr/local/go/bin/go env GOVERSION 2>/dev/null || true)" != "go${go_version}" ]]; then
	tarball="go${go_version}.linux-${arch}.tar.gz"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	curl -fsSLo "$tmp/$tarball" "https://dl.google.com/go/$tarball"
	want=$(curl -fsSL "https://dl.google.com/go/$tarball.sha256")
	echo "$want  $tmp/$tarball" | sha256sum -c -
	rm -rf /usr/local/go
	tar -C /usr/local -xzf "$tmp/$tarball"
fi
# On PATH for every user and for sudo (whose secure_path has /usr/local/bin).
ln -sf /usr/local/go/bin/go /usr/local/go/bin/gofmt /usr/local/bin/
