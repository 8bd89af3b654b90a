package main

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// testBinary is one package's static test binary and what its tests read.
type testBinary struct {
	name     string // short name, e.g. "sensor"
	path     string // host path of the binary
	pkgDir   string // package directory relative to the module root
	testdata string // host path of the package's testdata, "" if it has none
}

// guest is what goes into one kernel's initramfs.
type guest struct {
	busybox     string // host path of a static busybox
	tests       []testBinary
	modules     []module
	testArgs    []string      // extra flags for every test binary (e.g. -test.run)
	testTimeout time.Duration // -test.timeout of every binary
}

// Guest layout: binaries in guestBin, each package's tests run in
// guestSrc/<package dir> (where its testdata is) as `go test` does.
const (
	guestBin     = "vigil/bin"
	guestSrc     = "vigil/src"
	guestModules = "lib/modules/vigil"
)

// Markers the init script prints on the serial console.
const (
	markerInit  = "VIGIL-GUEST-INIT"
	markerPkg   = "VIGIL-PKG"
	markerExit  = "VIGIL-TEST-EXIT="
	markerSetup = "VIGIL-SETUP-FAILED"
)

// writeInitramfs writes the guest's initramfs (uncompressed newc cpio, which
// every kernel unpacks) to dst.
func writeInitramfs(ctx context.Context, dst string, g guest) error {
	applets, err := busyboxApplets(ctx, g.busybox)
	if err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("creating initramfs: %w", err)
	}
	defer f.Close()
	a := &archive{w: newCPIOWriter(f), dirs: map[string]bool{".": true}}

	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "root", "etc", guestModules} {
		a.dir(d)
	}
	a.charDev("dev/console", 0o600, 5, 1)
	a.charDev("dev/null", 0o666, 1, 3)
	a.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"))
	a.file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	a.file("etc/hosts", 0o644, []byte("127.0.0.1 localhost\n::1 localhost\n"))
	a.hostFile("bin/busybox", 0o755, g.busybox)
	for _, applet := range applets {
		if applet != "bin/busybox" {
			a.symlink(applet, "/bin/busybox")
		}
	}
	for _, m := range g.modules {
		a.file(path.Join(guestModules, m.name+".ko"), 0o644, m.data)
	}
	for _, t := range g.tests {
		a.hostFile(path.Join(guestBin, t.name+".test"), 0o755, t.path)
		a.dir(path.Join(guestSrc, t.pkgDir))
		if t.testdata != "" {
			a.hostTree(path.Join(guestSrc, t.pkgDir, "testdata"), t.testdata)
		}
	}
	a.file("init", 0o755, []byte(initScript(g)))
	if a.err != nil {
		return fmt.Errorf("writing initramfs: %w", a.err)
	}
	if err := a.w.Close(); err != nil {
		return fmt.Errorf("writing initramfs: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing initramfs: %w", err)
	}
	return nil
}

// initScript is the guest's /init: set up what the sensor needs, load the
// modules, run every test binary, print the exit marker and power off.
// Every setup step that fails prints VIGIL-SETUP-FAILED and status 125, so a
// broken guest is never mistaken for failing tests.
func initScript(g guest) string {
	var b strings.Builder
	b.WriteString(`#!/bin/sh
# /init of vigil's kernel-matrix guest, written by vagrant/matrix.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
fail() {
	echo "` + markerSetup + `: $*"
	echo "` + markerExit + `125"
	poweroff -f
}
run() { "$@" || fail "$*"; }
run mount -t proc proc /proc
run mount -t sysfs sysfs /sys
run mount -t devtmpfs devtmpfs /dev
run mkdir -p /dev/pts /dev/shm
run mount -t devpts -o ptmxmode=0666 devpts /dev/pts
run mount -t tmpfs tmpfs /dev/shm
run mount -t securityfs securityfs /sys/kernel/security
run mount -t tracefs tracefs /sys/kernel/tracing
run mount -t debugfs debugfs /sys/kernel/debug
run mount -t bpf bpf /sys/fs/bpf
run mount -t cgroup2 cgroup2 /sys/fs/cgroup
run ip link set lo up
run hostname vigil-guest
echo "` + markerInit + ` release=$(uname -r) lsm=$(cat /sys/kernel/security/lsm)"
`)
	for _, m := range g.modules {
		fmt.Fprintf(&b, "run insmod /%s/%s.ko\n", guestModules, m.name)
	}
	b.WriteString("status=0\n")
	for _, t := range g.tests {
		// -test.short: the guest's CPUs are emulated, so tests that repeat
		// an operation thousands of times for volume do a tenth of it.
		args := []string{"/" + path.Join(guestBin, t.name+".test"), "-test.v", "-test.short", "-test.timeout=" + g.testTimeout.String()}
		args = append(args, g.testArgs...)
		for i, a := range args {
			args[i] = shellQuote(a)
		}
		fmt.Fprintf(&b, "echo %s\n", shellQuote(markerPkg+" "+t.name))
		fmt.Fprintf(&b, "run cd %s\n", shellQuote("/"+path.Join(guestSrc, t.pkgDir)))
		fmt.Fprintf(&b, "%s || status=$?\n", strings.Join(args, " "))
	}
	b.WriteString(`echo "` + markerExit + `$status"
poweroff -f
`)
	return b.String()
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// busyboxApplets checks that busybox is static (the initramfs has no libc)
// and returns where its applets go, e.g. "bin/sh", "usr/sbin/chroot".
func busyboxApplets(ctx context.Context, busybox string) ([]string, error) {
	f, err := elf.Open(busybox)
	if err != nil {
		return nil, fmt.Errorf("opening busybox: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked: install busybox-static", busybox)
		}
	}
	out, err := exec.CommandContext(ctx, busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// archive adds entries to a cpio archive, creating parent directories on
// the way and keeping the first error.
type archive struct {
	w    *cpioWriter
	dirs map[string]bool
	err  error
}

func (a *archive) dir(name string) {
	if a.err != nil || a.dirs[name] {
		return
	}
	a.dir(path.Dir(name))
	a.dirs[name] = true
	if a.err == nil {
		a.err = a.w.Dir(name, 0o755)
	}
}

func (a *archive) file(name string, perm fs.FileMode, data []byte) {
	a.dir(path.Dir(name))
	if a.err == nil {
		a.err = a.w.File(name, perm, int64(len(data)), bytes.NewReader(data))
	}
}

func (a *archive) symlink(name, target string) {
	a.dir(path.Dir(name))
	if a.err == nil {
		a.err = a.w.Symlink(name, target)
	}
}

func (a *archive) charDev(name string, perm fs.FileMode, major, minor uint32) {
	a.dir(path.Dir(name))
	if a.err == nil {
		a.err = a.w.CharDev(name, perm, major, minor)
	}
}

// hostFile adds the host file src, streamed rather than read whole.
func (a *archive) hostFile(name string, perm fs.FileMode, src string) {
	a.dir(path.Dir(name))
	if a.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		a.err = fmt.Errorf("opening %s: %w", src, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		a.err = fmt.Errorf("reading %s: %w", src, err)
		return
	}
	a.err = a.w.File(name, perm, st.Size(), f)
}

// hostTree adds the host directory src (files, directories and symlinks)
// as name.
func (a *archive) hostTree(name, src string) {
	if a.err != nil {
		return
	}
	a.err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := path.Join(name, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			a.dir(dst)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			a.symlink(dst, target)
		case info.Mode().IsRegular():
			a.hostFile(dst, info.Mode().Perm(), p)
		}
		return a.err
	})
	if a.err != nil {
		a.err = fmt.Errorf("adding %s: %w", src, a.err)
	}
}
