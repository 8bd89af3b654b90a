package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeQemu writes a qemu stand-in that behaves like the one seen on a fresh
// machine: with -accel kvm it prints qemu's MSR error and aborts at once;
// under TCG it runs the guest's init and prints a passing exit marker.
func fakeQemu(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qemu-system-x86_64")
	script := `#!/bin/sh
case " $* " in
*" -accel kvm "*)
	echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2
	kill -ABRT $$ ;;
esac
echo "` + markerInit + ` release=fake"
echo "--- PASS: TestFake (0.00s)"
echo "PASS"
echo "` + markerExit + `0"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func fakeBoot(t *testing.T, qemu, accel string, probe bool) boot {
	b := boot{
		qemu: qemu, image: "vmlinuz", initramfs: "initrd", accel: accel, memory: "512M", cpus: 1,
		logPath: filepath.Join(t.TempDir(), "serial.log"), timeout: time.Minute,
	}
	if probe {
		b.initDeadline = kvmProbeDeadline
	}
	return b
}

// TestProbeBootQemuAborts: a qemu that dies before the guest's init is a
// failed probe at once, not a result and not a wait for the deadline.
func TestProbeBootQemuAborts(t *testing.T) {
	qemu := fakeQemu(t)
	res, err := fakeBoot(t, qemu, accelKVM, true).run(context.Background())
	if !errors.Is(err, errProbe) {
		t.Fatalf("probe boot under an aborting KVM: err = %v, want errProbe", err)
	}
	if !strings.Contains(err.Error(), "failed to set MSR") || !strings.Contains(err.Error(), "signal: aborted") {
		t.Errorf("error does not say why qemu ended: %v", err)
	}
	if res.total >= kvmProbeDeadline {
		t.Errorf("the probe took %s: it waited for the init deadline instead of seeing qemu end", res.total)
	}

	// Without probing, the same exit is the guest's result, as before.
	_, err = fakeBoot(t, qemu, accelKVM, false).run(context.Background())
	if err == nil || errors.Is(err, errProbe) {
		t.Errorf("non-probing boot: err = %v, want a qemu error that is not errProbe", err)
	}
}

// TestBootKernelsFallsBackToTCG runs the matrix loop with the aborting qemu:
// the first kernel's probe fails, it and the next kernel boot under TCG and
// pass, and the fallback is logged once.
func TestBootKernelsFallsBackToTCG(t *testing.T) {
	qemu := fakeQemu(t)
	var logs bytes.Buffer
	r := &runner{log: slog.New(slog.NewTextHandler(&logs, nil))}
	kernels := []kernel{{release: "6.1.0-fake"}, {release: "6.12.0-fake"}}
	var (
		mu     sync.Mutex
		accels []string
	)
	one := func(string) int { return 2 }
	results, err := r.bootKernels(context.Background(), kernels, accelKVM, true, one, func(k kernel, accel string, probe bool) (kernelResult, error) {
		mu.Lock()
		accels = append(accels, k.release+"/"+accel)
		mu.Unlock()
		res := kernelResult{kernel: k, accel: accel}
		var err error
		res.boot, err = fakeBoot(t, qemu, accel, probe).run(context.Background())
		if err != nil {
			return res, err
		}
		res.report = parseGuestOutput(res.boot.output)
		return res, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The probe boots first and alone; the TCG boots that follow run
	// together, in either order.
	want := []string{"6.1.0-fake/kvm", "6.1.0-fake/tcg", "6.12.0-fake/tcg"}
	if len(accels) == 3 {
		slices.Sort(accels[1:])
	}
	if strings.Join(accels, " ") != strings.Join(want, " ") {
		t.Errorf("boots = %v, want %v", accels, want)
	}
	if len(results) != 2 {
		t.Fatalf("got %d results, want 2", len(results))
	}
	for i, res := range results {
		if res.kernel.release != kernels[i].release {
			t.Errorf("result %d is of %s, want %s (the order of the kernels)", i, res.kernel.release, kernels[i].release)
		}
		if res.accel != accelTCG || !res.boot.exited || res.boot.status != 0 || res.report.passed != 1 {
			t.Errorf("%s: accel %s, exited %v, status %d, passed %d; want a TCG pass", res.kernel.release, res.accel, res.boot.exited, res.boot.status, res.report.passed)
		}
	}
	if n := strings.Count(logs.String(), "using TCG"); n != 1 {
		t.Errorf("the fallback was logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestBootKernelsInParallel boots three kernels two at a time: two guests
// run together, never three, and the results keep the kernels' order.
func TestBootKernelsInParallel(t *testing.T) {
	r := &runner{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	kernels := []kernel{{release: "a"}, {release: "b"}, {release: "c"}}
	var (
		mu               sync.Mutex
		running, highest int
		both             = make(chan struct{})
		closeBoth        sync.Once
	)
	results, err := r.bootKernels(context.Background(), kernels, accelTCG, false, func(string) int { return 2 }, func(k kernel, accel string, probe bool) (kernelResult, error) {
		mu.Lock()
		running++
		highest = max(highest, running)
		if running == 2 {
			// The third guest starts once one of the first two has
			// ended, and brings running back to two: close only once.
			closeBoth.Do(func() { close(both) })
		}
		mu.Unlock()
		select {
		case <-both:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		running--
		mu.Unlock()
		return kernelResult{kernel: k, accel: accel}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if highest != 2 {
		t.Errorf("at most %d guests ran at once, want 2", highest)
	}
	for i, res := range results {
		if res.kernel.release != kernels[i].release || res.accel != accelTCG {
			t.Errorf("result %d: %s/%s, want %s/tcg", i, res.kernel.release, res.accel, kernels[i].release)
		}
	}
}
