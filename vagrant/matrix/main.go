package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// config is the runner's command line.
type config struct {
	kernels  []string // apt packages, meta packages allowed
	pkgs     []string // Go packages whose tests run in every guest
	run      string   // -test.run of every test binary
	modules  []string // kernel modules the tests need
	cacheDir string
	busybox  string
	accel    string
	memory   string
	cpus     int
	parallel int           // guests booted at once (0: as the accelerator allows)
	timeout  time.Duration // per kernel: boot, tests and power-off
	cmdline  string        // kernel command line
	verbose  bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	var cfg config
	var kernels, pkgs, modules string
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&kernels, "kernels", "linux-image-amd64,linux-image-6.12-amd64",
		"comma-separated Debian kernel image packages to boot (meta packages are followed to the image)")
	fs.StringVar(&pkgs, "pkgs", "./vagrant/matrix/guesttest,./sensor",
		"comma-separated Go packages whose tests run in every guest")
	fs.StringVar(&cfg.run, "run", "", "run only tests matching this regexp (the test binaries' -test.run)")
	fs.StringVar(&modules, "modules", "veth", "comma-separated kernel modules to load in the guest, with their dependencies")
	fs.StringVar(&cfg.cacheDir, "cache", filepath.Join(cache, "vigil-matrix"), "directory for unpacked kernels and serial logs")
	fs.StringVar(&cfg.busybox, "busybox", "/bin/busybox", "static busybox for the guest (package busybox-static)")
	fs.StringVar(&cfg.accel, "accel", accelAuto, "qemu accelerator: auto (KVM if a probe boot works, else TCG), kvm or tcg")
	fs.StringVar(&cfg.memory, "memory", "2G", "guest memory")
	fs.IntVar(&cfg.cpus, "cpus", 2, "guest CPUs")
	fs.IntVar(&cfg.parallel, "parallel", 0, "guests booted at once (0: one per host CPU under TCG, host CPUs / -cpus under KVM)")
	fs.DurationVar(&cfg.timeout, "timeout", 20*time.Minute, "time limit per kernel for boot, tests and power-off")
	fs.StringVar(&cfg.cmdline, "cmdline", "console=ttyS0 panic=-1 quiet lsm=lockdown,capability,yama,bpf",
		"guest kernel command line (CI=true is added when set on the host)")
	fs.BoolVar(&cfg.verbose, "v", false, "print every guest's serial output, not only failing ones")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.kernels, cfg.pkgs, cfg.modules = splitList(kernels), splitList(pkgs), splitList(modules)
	switch {
	case len(cfg.kernels) == 0:
		return config{}, errors.New("-kernels is empty")
	case len(cfg.pkgs) == 0:
		return config{}, errors.New("-pkgs is empty")
	case cfg.accel != accelAuto && cfg.accel != accelKVM && cfg.accel != accelTCG:
		return config{}, fmt.Errorf("-accel %q: want auto, kvm or tcg", cfg.accel)
	case cfg.timeout < time.Minute:
		return config{}, fmt.Errorf("-timeout %s: want at least 1m", cfg.timeout)
	case cfg.cpus < 1:
		return config{}, fmt.Errorf("-cpus %d: want at least 1", cfg.cpus)
	case cfg.parallel < 0:
		return config{}, fmt.Errorf("-parallel %d: want 0 (automatic) or more", cfg.parallel)
	}
	if os.Getenv("CI") == "true" {
		cfg.cmdline += " CI=true"
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vm-test:", err)
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := (&runner{cfg: cfg, log: logger, stdout: os.Stdout, stderr: os.Stderr}).run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "vm-test:", err)
		os.Exit(1)
	}
}

// runner runs the matrix.
type runner struct {
	cfg            config
	log            *slog.Logger
	stdout, stderr io.Writer
}

func (r *runner) run(ctx context.Context) error {
	start := time.Now()
	qemu, err := requireTools()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.cfg.cacheDir, 0o755); err != nil {
		return fmt.Errorf("creating cache directory: %w", err)
	}
	work, err := os.MkdirTemp(r.cfg.cacheDir, "run-")
	if err != nil {
		return fmt.Errorf("creating work directory: %w", err)
	}
	defer os.RemoveAll(work)
	logDir := filepath.Join(r.cfg.cacheDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("creating log directory: %w", err)
	}

	tests, err := r.buildTests(ctx, work)
	if err != nil {
		return err
	}
	a := &apt{log: r.log}
	kernels := make([]kernel, 0, len(r.cfg.kernels))
	for _, name := range r.cfg.kernels {
		k, err := a.fetch(ctx, r.cfg.cacheDir, name)
		if err != nil {
			return err
		}
		r.log.Info("kernel ready", "package", name, "image", k.pkg, "version", k.version, "release", k.release)
		kernels = append(kernels, k)
	}

	accel, probe := r.cfg.accel, false
	if accel == accelAuto {
		accel = accelTCG
		if err := kvmUsable(); err != nil {
			r.log.Info("not using KVM", "reason", err)
		} else {
			accel, probe = accelKVM, true
		}
	}

	parallel := func(accel string) int {
		if r.cfg.parallel > 0 {
			return r.cfg.parallel
		}
		return bootParallelism(accel, r.cfg.cpus)
	}
	results, err := r.bootKernels(ctx, kernels, accel, probe, parallel, func(k kernel, accel string, probe bool) (kernelResult, error) {
		return r.runKernel(ctx, qemu, work, logDir, k, tests, accel, probe)
	})
	if err != nil {
		return err
	}
	for _, res := range results {
		if res.err != nil || r.cfg.verbose {
			fmt.Fprintf(r.stderr, "---- serial console of %s (%s) ----\n%s\n---- end of %s ----\n",
				res.kernel.release, filepath.Join(logDir, res.kernel.release+".log"), res.boot.output, res.kernel.release)
		}
	}

	failed := 0
	for _, res := range results {
		fmt.Fprintln(r.stdout, res.summary())
		if res.err != nil {
			failed++
			fmt.Fprintf(r.stdout, "  %s: %v\n", res.kernel.release, res.err)
		}
	}
	fmt.Fprintf(r.stdout, "kernel matrix took %.1fs\n", time.Since(start).Seconds())
	fmt.Fprintf(r.stdout, "vm-test: %d passed, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d kernels failed", failed, len(results))
	}
	return nil
}

// bootKernels boots the kernels with boot, up to parallel at once, and
// returns their results in the order of kernels. When probe is set, the
// first kernel boots alone and tries KVM; if that probe fails before the
// guest's init runs, the failure is logged once and every kernel, that one
// included, uses TCG. The others boot once the accelerator is settled.
func (r *runner) bootKernels(ctx context.Context, kernels []kernel, accel string, probe bool, parallel func(accel string) int, boot func(k kernel, accel string, probe bool) (kernelResult, error)) ([]kernelResult, error) {
	results := make([]kernelResult, len(kernels))
	rest := kernels
	if probe && len(kernels) > 0 {
		res, err := boot(kernels[0], accel, true)
		switch {
		case errors.Is(err, errProbe):
			r.log.Info("KVM does not work here, using TCG for every kernel", "kernel", kernels[0].release, "reason", err)
			accel = accelTCG
		case err != nil && res.boot.output == nil:
			return nil, err
		default:
			results[0], rest = res, kernels[1:]
		}
	}
	first := len(kernels) - len(rest)
	errs := make([]error, len(rest))
	sem := make(chan struct{}, max(parallel(accel), 1))
	var wg sync.WaitGroup
	for i, k := range rest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			res, err := boot(k, accel, false)
			if err != nil && res.boot.output == nil {
				errs[i] = err
				return
			}
			results[first+i] = res
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return results, ctx.Err()
}

// bootParallelism is how many guests boot at once by default: TCG runs a
// guest on one host thread (thread=single), so one guest per host CPU;
// under KVM each guest's vCPUs are host threads of their own.
func bootParallelism(accel string, guestCPUs int) int {
	if accel == accelKVM {
		return max(runtime.NumCPU()/guestCPUs, 1)
	}
	return runtime.NumCPU()
}

// runKernel boots one kernel with the tests. Its error is about running the
// guest at all; the guest's verdict is the result's err.
func (r *runner) runKernel(ctx context.Context, qemu, work, logDir string, k kernel, tests []testBinary, accel string, probe bool) (kernelResult, error) {
	res := kernelResult{kernel: k, accel: accel}
	mods, err := k.modules(ctx, r.cfg.modules)
	if err != nil {
		return res, err
	}
	g := guest{busybox: r.cfg.busybox, tests: tests, modules: mods, testTimeout: r.cfg.timeout - 45*time.Second}
	if r.cfg.run != "" {
		g.testArgs = []string{"-test.run=" + r.cfg.run}
	}
	initramfs := filepath.Join(work, k.release+".cpio")
	if err := writeInitramfs(ctx, initramfs, g); err != nil {
		return res, fmt.Errorf("building the initramfs for %s: %w", k.release, err)
	}
	image, err := k.bootImage(ctx)
	if err != nil {
		return res, err
	}
	b := boot{
		qemu: qemu, image: image, initramfs: initramfs, accel: accel,
		memory: r.cfg.memory, cpus: r.cfg.cpus, cmdline: r.cfg.cmdline,
		logPath: filepath.Join(logDir, k.release+".log"), timeout: r.cfg.timeout,
	}
	if probe {
		b.initDeadline = kvmProbeDeadline
	}
	r.log.Info("booting", "kernel", k.release, "accel", accel)
	res.boot, err = b.run(ctx)
	if errors.Is(err, errProbe) {
		return res, err
	}
	res.report = parseGuestOutput(res.boot.output)
	switch {
	case err != nil:
		res.err = err
	case !res.boot.exited:
		res.err = errors.New("guest stopped without printing " + markerExit + " (kernel panic or init crash)")
	case len(res.report.setupFailures) > 0:
		res.err = fmt.Errorf("guest setup failed: %s", strings.Join(res.report.setupFailures, "; "))
	case res.boot.status != 0:
		res.err = fmt.Errorf("tests exited with status %d", res.boot.status)
		if len(res.report.failedTests) > 0 {
			res.err = fmt.Errorf("%w; failed: %s", res.err, strings.Join(res.report.failedTests, " "))
		}
	case res.report.passed == 0:
		res.err = errors.New("no test passed in the guest")
	}
	return res, nil
}

// buildTests compiles every package's tests into a static binary.
func (r *runner) buildTests(ctx context.Context, work string) ([]testBinary, error) {
	modDir, err := goOutput(ctx, "list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return nil, err
	}
	var tests []testBinary
	seen := map[string]bool{}
	for _, pkg := range r.cfg.pkgs {
		dir, err := goOutput(ctx, "list", "-f", "{{.Dir}}", pkg)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(modDir, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("package %s is outside the module at %s", pkg, modDir)
		}
		name := strings.ReplaceAll(filepath.ToSlash(rel), "/", "_")
		if seen[name] {
			continue
		}
		seen[name] = true
		bin := filepath.Join(work, name+".test")
		r.log.Info("building test binary", "package", pkg)
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the tests of %s: %w\n%s", pkg, err, out)
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("building the tests of %s: package has no test files", pkg)
		}
		t := testBinary{name: name, path: bin, pkgDir: filepath.ToSlash(rel)}
		if st, err := os.Stat(filepath.Join(dir, "testdata")); err == nil && st.IsDir() {
			t.testdata = filepath.Join(dir, "testdata")
		}
		tests = append(tests, t)
	}
	return tests, nil
}

func goOutput(ctx context.Context, args ...string) (string, error) {
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// requireTools checks the host commands the runner uses and returns qemu's
// path; a miss names the Debian package to install.
func requireTools() (string, error) {
	var qemu string
	for _, t := range []struct{ cmd, pkg string }{
		{"qemu-system-x86_64", "qemu-system-x86"},
		{"apt-get", "apt"},
		{"apt-cache", "apt"},
		{"dpkg-deb", "dpkg"},
		{"go", "golang (go.mod's version)"},
	} {
		p, err := exec.LookPath(t.cmd)
		if err != nil {
			return "", fmt.Errorf("finding %s (install %s): %w", t.cmd, t.pkg, err)
		}
		if t.cmd == "qemu-system-x86_64" {
			qemu = p
		}
	}
	return qemu, nil
}

// kvmProbeDeadline is how long a first boot under KVM may take to reach
// init (a working KVM needs 1-2 s) before the runner falls back to TCG. A
// slow but working KVM that misses it only costs speed, never a result.
const kvmProbeDeadline = 6 * time.Second

// kvmUsable reports why qemu cannot use KVM here; nil means it may (a probe
// boot still decides, since a nested KVM can open yet hang stock kernels).
func kvmUsable() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/kvm: %w", err)
	}
	return f.Close()
}
