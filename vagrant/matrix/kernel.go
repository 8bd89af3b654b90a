package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kernel is a Debian kernel image package unpacked in the cache.
type kernel struct {
	pkg     string // concrete image package, e.g. linux-image-6.1.0-56-amd64
	version string // its Debian version
	release string // uname -r of the kernel
	root    string // where the package is unpacked
}

// vmlinuz is the path of the bootable image.
func (k kernel) vmlinuz() string { return filepath.Join(k.root, "boot", "vmlinuz-"+k.release) }

// modulesDir is the kernel's module tree.
func (k kernel) modulesDir() string { return filepath.Join(k.root, "lib", "modules", k.release) }

// errPackageNotFound means apt knows no package of that name.
var errPackageNotFound = errors.New("package not found in the apt lists")

// aptPackage is the candidate version of a package as apt-cache shows it.
type aptPackage struct {
	name, version string
	depends       []string // package names only, alternatives flattened
}

// apt resolves and fetches kernel packages with the host's apt.
type apt struct {
	log     *slog.Logger
	updated bool // apt-get update already ran in this process
}

// show returns the candidate of name, running apt-get update once if apt
// does not know the package (a fresh machine may have empty or stale lists).
func (a *apt) show(ctx context.Context, name string) (aptPackage, error) {
	p, err := aptShow(ctx, name)
	if errors.Is(err, errPackageNotFound) && !a.updated && os.Geteuid() == 0 {
		a.log.Info("package not in the apt lists, running apt-get update", "package", name)
		if err := a.update(ctx); err != nil {
			return aptPackage{}, err
		}
		p, err = aptShow(ctx, name)
	}
	return p, err
}

func aptShow(ctx context.Context, name string) (aptPackage, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "apt-cache", "show", "--no-all-versions", name)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		if strings.Contains(stderr.String(), "No packages found") || len(bytes.TrimSpace(out)) == 0 {
			return aptPackage{}, fmt.Errorf("showing %s: %w", name, errPackageNotFound)
		}
		return aptPackage{}, fmt.Errorf("showing %s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return parseAptShow(out)
}

// parseAptShow reads the first stanza of `apt-cache show` output.
func parseAptShow(out []byte) (aptPackage, error) {
	var p aptPackage
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		key, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch key {
		case "Package":
			p.name = value
		case "Version":
			p.version = value
		case "Depends":
			for _, dep := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == '|' }) {
				if f := strings.Fields(dep); len(f) > 0 {
					p.depends = append(p.depends, f[0])
				}
			}
		}
	}
	if p.name == "" || p.version == "" {
		return aptPackage{}, fmt.Errorf("parsing apt-cache output: no Package or Version field")
	}
	return p, nil
}

// resolve follows meta packages (linux-image-amd64 -> linux-image-6.1.0-56-amd64)
// down to the package that holds the kernel.
func (a *apt) resolve(ctx context.Context, name string) (aptPackage, error) {
	p, err := a.show(ctx, name)
	for depth := 0; err == nil && depth < 4; depth++ {
		next := ""
		for _, d := range p.depends {
			if strings.HasPrefix(d, "linux-image-") {
				next = d
				break
			}
		}
		if next == "" {
			return p, nil
		}
		p, err = a.show(ctx, next)
	}
	if errors.Is(err, errPackageNotFound) {
		return aptPackage{}, fmt.Errorf("resolving kernel package %s: %w (apt-cache search linux-image lists the kernels apt knows)", name, err)
	}
	if err != nil {
		return aptPackage{}, fmt.Errorf("resolving kernel package %s: %w", name, err)
	}
	return aptPackage{}, fmt.Errorf("resolving kernel package %s: meta packages nest too deep", name)
}

// errDownload means apt-get could not download a package it knows, which
// stale apt lists cause when the mirror has moved on to a newer version.
var errDownload = errors.New("downloading package")

// fetch returns the kernel of package name, unpacked under cacheDir,
// downloading it only when that version is not cached yet. A failed
// download is retried once after apt-get update.
func (a *apt) fetch(ctx context.Context, cacheDir, name string) (kernel, error) {
	k, err := a.fetchOnce(ctx, cacheDir, name)
	if errors.Is(err, errDownload) && !a.updated && os.Geteuid() == 0 {
		a.log.Info("download failed, running apt-get update and retrying", "package", name, "err", err)
		if err := a.update(ctx); err != nil {
			return kernel{}, err
		}
		k, err = a.fetchOnce(ctx, cacheDir, name)
	}
	return k, err
}

func (a *apt) update(ctx context.Context) error {
	a.updated = true
	if out, err := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); err != nil {
		return fmt.Errorf("running apt-get update: %w\n%s", err, out)
	}
	return nil
}

func (a *apt) fetchOnce(ctx context.Context, cacheDir, name string) (kernel, error) {
	p, err := a.resolve(ctx, name)
	if err != nil {
		return kernel{}, err
	}
	kernelsDir := filepath.Join(cacheDir, "kernels")
	dir := filepath.Join(kernelsDir, p.name+"_"+p.version)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		if err := a.download(ctx, kernelsDir, dir, p); err != nil {
			return kernel{}, err
		}
	}
	k := kernel{pkg: p.name, version: p.version, root: dir}
	vmlinuz, err := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if err != nil || len(vmlinuz) != 1 {
		return kernel{}, fmt.Errorf("finding the kernel image of %s in %s: want one boot/vmlinuz-*, found %d", p.name, dir, len(vmlinuz))
	}
	k.release = strings.TrimPrefix(filepath.Base(vmlinuz[0]), "vmlinuz-")
	return k, nil
}

// download fetches package p with apt-get download and unpacks it into dir,
// removing older cached versions of the same package.
func (a *apt) download(ctx context.Context, kernelsDir, dir string, p aptPackage) error {
	a.log.Info("downloading kernel package", "package", p.name, "version", p.version)
	if err := os.MkdirAll(kernelsDir, 0o755); err != nil {
		return fmt.Errorf("creating kernel cache: %w", err)
	}
	tmp, err := os.MkdirTemp(kernelsDir, ".download-")
	if err != nil {
		return fmt.Errorf("creating download directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	// apt drops privileges to _apt for downloads, which cannot write a
	// root-owned temporary directory: download as the caller instead.
	get := exec.CommandContext(ctx, "apt-get", "download", "-o", "APT::Sandbox::User=root", p.name+"="+p.version)
	get.Dir = tmp
	if out, err := get.CombinedOutput(); err != nil {
		return fmt.Errorf("%w %s=%s: %v\n%s", errDownload, p.name, p.version, err, out)
	}
	debs, err := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if err != nil || len(debs) != 1 {
		return fmt.Errorf("downloading %s: want one .deb, found %d", p.name, len(debs))
	}
	unpacked := filepath.Join(tmp, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], unpacked).CombinedOutput(); err != nil {
		return fmt.Errorf("unpacking %s: %w\n%s", debs[0], err, out)
	}
	if err := os.WriteFile(filepath.Join(unpacked, ".complete"), []byte(p.name+" "+p.version+"\n"), 0o644); err != nil {
		return fmt.Errorf("marking %s complete: %w", p.name, err)
	}
	old, _ := filepath.Glob(filepath.Join(kernelsDir, p.name+"_*"))
	for _, o := range old {
		if err := os.RemoveAll(o); err != nil {
			return fmt.Errorf("removing old kernel %s: %w", o, err)
		}
	}
	if err := os.Rename(unpacked, dir); err != nil {
		return fmt.Errorf("moving %s into the cache: %w", p.name, err)
	}
	return nil
}

// module is a kernel module ready to be loaded, decompressed.
type module struct {
	name string
	data []byte
}

// modules returns the named modules of k and everything they depend on, in
// an order that insmod accepts (dependencies first). Modules built into the
// kernel are left out; a module that is neither built in nor shipped is an
// error.
func (k kernel) modules(ctx context.Context, names []string) ([]module, error) {
	index := map[string]string{}
	err := filepath.WalkDir(filepath.Join(k.modulesDir(), "kernel"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := moduleName(d.Name()); ok && !d.IsDir() {
			index[name] = path
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing modules of %s: %w", k.release, err)
	}
	builtin, err := k.builtinModules()
	if err != nil {
		return nil, err
	}
	var (
		ordered []module
		state   = map[string]int{} // 1 visiting, 2 done
		visit   func(name string) error
	)
	visit = func(name string) error {
		name = strings.ReplaceAll(name, "-", "_")
		switch state[name] {
		case 1:
			return fmt.Errorf("module %s depends on itself", name)
		case 2:
			return nil
		}
		state[name] = 1
		path, ok := index[name]
		if !ok {
			if builtin[name] {
				state[name] = 2
				return nil
			}
			return fmt.Errorf("module %s is neither built into %s nor in its package", name, k.release)
		}
		data, err := readModule(ctx, path)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("reading dependencies of %s: %w", path, err)
		}
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[name] = 2
		ordered = append(ordered, module{name: name, data: data})
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return ordered, nil
}

// builtinModules reads modules.builtin: the modules compiled into the kernel.
func (k kernel) builtinModules() (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(k.modulesDir(), "modules.builtin"))
	if err != nil {
		return nil, fmt.Errorf("reading built-in modules of %s: %w", k.release, err)
	}
	builtin := map[string]bool{}
	for _, line := range strings.Fields(string(b)) {
		if name, ok := moduleName(filepath.Base(line)); ok {
			builtin[name] = true
		}
	}
	return builtin, nil
}

// moduleName returns the module name of a file name (veth.ko.xz -> veth),
// with dashes as underscores as the kernel names modules.
func moduleName(file string) (string, bool) {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if base, ok := strings.CutSuffix(file, ext); ok {
			return strings.ReplaceAll(base, "-", "_"), true
		}
	}
	return "", false
}

// readModule returns the module at path, decompressed with the host's xz,
// zstd or gzip when Debian shipped it compressed.
func readModule(ctx context.Context, path string) ([]byte, error) {
	var tool string
	switch filepath.Ext(path) {
	case ".ko":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading module: %w", err)
		}
		return b, nil
	case ".xz":
		tool = "xz"
	case ".zst":
		tool = "zstd"
	case ".gz":
		tool = "gzip"
	default:
		return nil, fmt.Errorf("reading module %s: unknown compression", path)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, "-dc", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("decompressing %s with %s: %w: %s", path, tool, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// moduleDepends returns the "depends=" list of a module's .modinfo section.
func moduleDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("parsing ELF: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .modinfo: %w", err)
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if deps, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var names []string
			for _, d := range strings.Split(string(deps), ",") {
				if d != "" {
					names = append(names, d)
				}
			}
			return names, nil
		}
	}
	return nil, nil
}
