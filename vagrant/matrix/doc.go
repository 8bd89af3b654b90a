// Command matrix is vigil's kernel-matrix runner (`make vm-test`): it boots
// Debian kernels other than the host's under qemu and runs vigil's privileged
// test tier inside each, so the hooks this machine's kernel lacks (kprobe,
// fentry, BPF LSM) are exercised where they exist.
//
// For every kernel package (by default Debian 12's 6.1 and 6.12 series, named
// by their apt meta packages) it resolves the concrete linux-image package,
// downloads it with `apt-get download` and unpacks it with `dpkg-deb -x` into a
// cache directory (the host's /boot is never touched), builds an initramfs
// holding busybox-static, the static test binaries (`go test -c`,
// CGO_ENABLED=0), the kernel modules the tests need and an init script, and
// boots it with qemu-system-x86_64 (KVM when a probe boot shows it works, TCG
// otherwise). The init script mounts proc, sysfs, devtmpfs, securityfs,
// tracefs, debugfs, bpffs and cgroup2, brings lo up, loads the modules, runs
// each test binary with -test.v and prints VIGIL-TEST-EXIT=<status> on the
// serial console before powering off. The runner fails on a missing marker, a
// non-zero status or a timeout, prints the guest output on failure, and ends
// with one summary line per kernel: release, result, hooks active, timings.
//
// Usage, from the repository root:
//
//	go run ./vagrant/matrix [flags]
//
// See vagrant/README.md for the flags and the packages it needs.
package main
