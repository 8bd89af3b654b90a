#!/usr/bin/env bash
# Installs, from Debian's archive, what vigil's build checks and test tiers
# need, skipping packages that are already there. Runs as root (make test).
# With the argument "bench" it also installs the tools the macro benchmark
# compares vigil with (make bench).
set -euo pipefail

packages=(
	clang llvm libbpf-dev bpftool    # make generate / check-generated
	containerd runc busybox-static   # container tier: containerd + a hand-built busybox image
	iproute2                         # network-namespace tests (ip netns)
	qemu-system-x86 cpio xz-utils zstd       # kernel matrix: boot Debian kernels with an initramfs
	bash coreutils findutils grep dpkg passwd  # default-rule tests trigger rules with real programs
	git make                                 # the build checks (check-generated diffs with git)
	vagrant vagrant-libvirt                  # vagrant validate of the users' Vagrantfile, its libvirt block too
)
if [ "${1:-}" = bench ]; then
	packages+=(bpftrace libbpf-tools)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages ${missing[*]}; run as root (sudo make test)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
