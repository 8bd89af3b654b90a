#!/usr/bin/env bash
# Runs `make test` as a user's fresh machine would: a minimal Debian 12 root
# (debootstrap) holding only Go, git and make, a fresh clone of this
# repository's HEAD with no ../shared beside it, and this machine's kernel.
# BPF, containerd and qemu run for real inside the chroot. Whatever the tests
# need beyond that must come from `make deps`; a package installed by hand on
# the host cannot hide here, as vagrant-libvirt once hid from CI.
#
#   sudo scripts/rehearse-fresh.sh [DIR]     (make rehearse)
#
# DIR (default /var/tmp/vigil-fresh) keeps the bootstrapped base as base.tar
# for the next run; the test root is made anew from it each time. Extra
# arguments for make go in MAKEFLAGS_TEST, e.g. MAKEFLAGS_TEST="test-go".
set -euo pipefail

dir=${1:-/var/tmp/vigil-fresh}
repo=$(cd "$(dirname "$0")/.." && pwd)
goroot=$(go env GOROOT)
root=$dir/root

if [ "$(id -u)" -ne 0 ]; then
	echo "rehearse-fresh: run as root (it builds a chroot and runs the privileged tests)" >&2
	exit 1
fi

mounts=()
cleanup() {
	local m
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		m=${mounts[i]}
		umount -R "$m" 2>/dev/null || umount -lR "$m" 2>/dev/null || true
	done
}
trap cleanup EXIT

# The archive the host's apt uses, so the chroot reaches what the host does.
mirror() {
	local uri
	uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1)
	[ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n 1)
	[ -n "$uri" ] || { echo "rehearse-fresh: no Debian archive in the host's apt sources" >&2; exit 1; }
	echo "$uri"
}

mkdir -p "$dir"
if [ ! -f "$dir/base.tar" ]; then
	command -v debootstrap >/dev/null || {
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	}
	rm -rf "$dir/base"
	echo "rehearse-fresh: bootstrapping Debian 12 (minbase + git, make) into $dir/base" >&2
	debootstrap --variant=minbase --include=git,make,ca-certificates bookworm "$dir/base" "$(mirror)" >"$dir/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$dir/debootstrap.log" >&2; exit 1; }
	rm -f "$dir/base/etc/apt/sources.list"
	cp -a /etc/apt/sources.list /etc/apt/sources.list.d "$dir/base/etc/apt/" 2>/dev/null || true
	tar -C "$dir/base" -cf "$dir/base.tar.part" . && mv "$dir/base.tar.part" "$dir/base.tar"
	rm -rf "$dir/base"
fi

rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$dir/base.tar"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# The machine image's trust store (it may hold a local CA the module proxy
# is reached through).
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
mkdir -p "$root/usr/local/go"
cp -a "$goroot/." "$root/usr/local/go/"
# A clone placed where no ../shared exists, as a user makes it.
git clone -q "$repo" "$root/src/vigil"

# The Go install as the machine image has it: its settings file too.
goenv=$(go env GOENV)
if [ -f "$goenv" ]; then
	mkdir -p "$root/root/.config/go"
	cp "$goenv" "$root/root/.config/go/env"
fi

for m in proc sys dev; do
	mkdir -p "$root/$m"
	mount --rbind "/$m" "$root/$m"
	mount --make-rslave "$root/$m"
	mounts+=("$root/$m")
done
for m in tmp run; do
	mkdir -p "$root/$m"
	mount -t tmpfs tmpfs "$root/$m"
	mounts+=("$root/$m")
done

echo "rehearse-fresh: make ${MAKEFLAGS_TEST:-test} in a fresh clone at $root/src/vigil" >&2
start=$(date +%s)
status=0
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	${CI:+CI=$CI} bash -c "cd /src/vigil && make ${MAKEFLAGS_TEST:-test}" || status=$?
echo "rehearse-fresh: make ${MAKEFLAGS_TEST:-test} exited $status after $(($(date +%s) - start)) s" >&2
exit $status
