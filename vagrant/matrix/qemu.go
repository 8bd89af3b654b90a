package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Accelerators qemu can run a guest with.
const (
	accelAuto = "auto" // KVM when a boot under it shows output in time, else TCG
	accelKVM  = "kvm"
	accelTCG  = "tcg"
)

// qboot is a minimal firmware that starts a -kernel boot seconds sooner than
// SeaBIOS under TCG; Debian ships it in qemu-system-data.
const qboot = "/usr/share/qemu/qboot.rom"

// boot is one qemu run of a kernel with its initramfs.
type boot struct {
	qemu      string
	image     string // kernel to boot: vmlinux (PVH) or vmlinuz
	initramfs string
	accel     string // accelKVM or accelTCG
	memory    string
	cpus      int
	cmdline   string
	logPath   string        // serial console copy
	timeout   time.Duration // for the whole run
	// initDeadline, when set, makes this a probing boot: a guest whose init
	// has not spoken by then is killed, and qemu ending before init spoke
	// is a failed probe too. That is how a KVM that hangs stock kernels, or
	// aborts at once (seen: "failed to set MSR 0x10a"), is detected.
	initDeadline time.Duration
}

// bootResult is what the serial console said.
type bootResult struct {
	output   []byte
	status   int           // value of VIGIL-TEST-EXIT, meaningful when exited
	exited   bool          // the marker was seen
	initTime time.Duration // from qemu start to init's first line; 0 if never
	total    time.Duration
}

// errProbe means a probing boot failed before the guest's init ran: qemu
// could not start, exited or was killed by a signal, or init printed
// nothing before the deadline.
var errProbe = errors.New("probe boot failed before the guest's init ran")

// errTimeout means the guest did not finish in time.
var errTimeout = errors.New("guest did not finish in time")

// args returns qemu's command line.
func (b boot) args() []string {
	accel := b.accel
	if accel == accelTCG {
		// One host thread runs every vCPU in turn. With multi-threaded TCG
		// a 6.12 guest oopsed on an int3 in syscall_trace_enter: the kernel
		// patches tracepoint jump labels with text_poke_bp while another
		// vCPU executes that code, and MTTCG does not always see the
		// modification in time. Serialising the vCPUs keeps SMP (per-CPU
		// maps still see two CPUs) without that race.
		accel = "tcg,thread=single"
	}
	args := []string{
		"-accel", accel,
		"-m", b.memory,
		"-smp", strconv.Itoa(b.cpus),
		"-nographic", "-no-reboot",
		"-nic", "none",
		"-kernel", b.image,
		"-initrd", b.initramfs,
		"-append", b.cmdline,
	}
	if b.accel == accelKVM {
		args = append(args, "-cpu", "host")
	}
	if _, err := os.Stat(qboot); err == nil {
		args = append(args, "-bios", qboot)
	}
	return args
}

// run boots the guest and waits for it to power off, time out or miss its
// init deadline. Only an error in running qemu itself, a timeout or a missed
// init deadline is returned as an error; the guest's verdict is in the result.
func (b boot) run(ctx context.Context) (bootResult, error) {
	logFile, err := os.Create(b.logPath)
	if err != nil {
		return bootResult{}, fmt.Errorf("creating serial log: %w", err)
	}
	defer logFile.Close()

	w := newSerialWatcher()
	var all bytes.Buffer
	out := io.MultiWriter(logFile, &all, w)
	cmd := exec.Command(b.qemu, b.args()...)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	probing := b.initDeadline > 0
	if err := cmd.Start(); err != nil {
		if probing {
			return bootResult{}, fmt.Errorf("%w: starting qemu: %w", errProbe, err)
		}
		return bootResult{}, fmt.Errorf("starting qemu: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var res bootResult
	finish := func() bootResult {
		res.total = time.Since(start)
		res.exited, res.status = w.exit()
		res.output = all.Bytes()
		return res
	}
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}

	var initDeadline <-chan time.Time
	if b.initDeadline > 0 {
		t := time.NewTimer(b.initDeadline)
		defer t.Stop()
		initDeadline = t.C
	}
	deadline := time.NewTimer(b.timeout)
	defer deadline.Stop()
	initSeen, exitSeen := w.initSeen, w.exitSeen
	for {
		select {
		case err := <-done:
			r := finish()
			// Output is all written before Wait returns, so this is final.
			if probing && !closed(w.initSeen) {
				return r, fmt.Errorf("%w: qemu ended (%v) after %s: %s", errProbe, err, r.total.Round(time.Millisecond), lastLine(r.output))
			}
			if !r.exited && err != nil {
				return r, fmt.Errorf("running qemu: %w", err)
			}
			return r, nil
		case <-initSeen:
			res.initTime = time.Since(start)
			initSeen, initDeadline = nil, nil
		case <-exitSeen:
			// The verdict is in; give poweroff a moment, then end it.
			exitSeen = nil
			deadline.Reset(15 * time.Second)
		case <-initDeadline:
			stop()
			return finish(), fmt.Errorf("%w: init printed nothing in %s", errProbe, b.initDeadline)
		case <-deadline.C:
			stop()
			r := finish()
			if r.exited {
				return r, nil
			}
			return r, fmt.Errorf("%w after %s", errTimeout, b.timeout)
		case <-ctx.Done():
			stop()
			return finish(), fmt.Errorf("waiting for the guest: %w", ctx.Err())
		}
	}
}

// serialWatcher watches the console line by line for init's first line and
// the exit marker.
type serialWatcher struct {
	mu       sync.Mutex
	partial  []byte
	initSeen chan struct{}
	exitSeen chan struct{}
	exited   bool
	status   int
}

func newSerialWatcher() *serialWatcher {
	return &serialWatcher{initSeen: make(chan struct{}), exitSeen: make(chan struct{})}
}

// Write implements io.Writer.
func (w *serialWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *serialWatcher) line(l string) {
	if strings.Contains(l, markerInit) {
		select {
		case <-w.initSeen:
		default:
			close(w.initSeen)
		}
	}
	i := strings.Index(l, markerExit)
	if i < 0 || w.exited {
		return
	}
	digits := strings.TrimRight(l[i+len(markerExit):], "\r")
	if n := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); n >= 0 {
		digits = digits[:n]
	}
	status, err := strconv.Atoi(digits)
	if err != nil {
		return
	}
	w.exited, w.status = true, status
	close(w.exitSeen)
}

// closed reports whether c is closed, without waiting.
func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (w *serialWatcher) exit() (bool, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.exited, w.status
}

// lastLine is the last non-empty line of out, to say why qemu ended.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "no output"
}
