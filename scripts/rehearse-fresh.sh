#!/usr/bin/env bash
# Runs `make test` as a user's fresh machine would: a minimal Debian 12 root
# (debootstrap) holding only Go, git and make, a fresh clone of this
# repository's HEAD with no ../shared beside it, and this machine's kernel.
# BPF, containerd and qemu run for real inside it. Whatever the tests
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
	echo "rehearse-fresh: run as root (it builds a Debian root and runs the privileged tests in it)" >&2
	exit 1
fi

# The Debian archive the host's apt uses (the only one reachable here).
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

echo "rehearse-fresh: make ${MAKEFLAGS_TEST:-test} in a fresh clone at $root/src/vigil" >&2
start=$(date +%s)
status=0
# The test root becomes the root of a private mount namespace (pivot_root,
# not chroot): the kernel resolves paths up to a namespace's root mount, as
# in a container, so the paths vigil reports match what the tests expect.
unshare --mount --propagation private -- /bin/bash -s "$root" "${MAKEFLAGS_TEST:-test}" "${CI:-}" <<'EOS' || status=$?
set -euo pipefail
root=$1 target=$2 ci=$3
mount --bind "$root" "$root"
for m in proc sys dev; do
	mount --rbind "/$m" "$root/$m"
done
for m in tmp run; do
	mount -t tmpfs tmpfs "$root/$m"
done
mkdir -p "$root/.oldroot"
cd "$root"
pivot_root . .oldroot
cd /
umount -l /.oldroot
exec /usr/bin/env -i HOME=/root TERM=dumb ${ci:+CI=$ci} \
	PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	bash -c "cd /src/vigil && make $target"
EOS
echo "rehearse-fresh: make ${MAKEFLAGS_TEST:-test} exited $status after $(($(date +%s) - start)) s" >&2
exit $status
