package sensor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// waitTimeout bounds every wait for an event.
const waitTimeout = 10 * time.Second

// shared is the one sensor the privileged tests of this package use: it is
// started by the first of them and closed by TestMain after the last.
var shared struct {
	once sync.Once
	h    *harness
	err  error
}

// harness runs a sensor and keeps a copy of every event that comes from a
// descendant of the test process, for tests to wait on.
type harness struct {
	s    *Sensor
	self uint32
	bin  string // the test binary, re-executed for helpers

	mu     sync.Mutex
	events []captured
	wake   chan struct{} // closed and replaced on every append

	inspect chan func() // run on the Run goroutine, between events
	cancel  context.CancelFunc
	done    chan error
}

// captured is a delivered event, deep-copied.
type captured struct {
	event.Event
}

func (c *captured) String() string {
	s := fmt.Sprintf("%s pid=%d tid=%d res=%d", c.Type, c.PID, c.TID, c.Res)
	switch c.Type.Kind() {
	case event.KindOpen:
		s += fmt.Sprintf(" name=%q realpath=%q raw=%q flags=%#o mode=%#o dirfd=%d ftype=%#o hook=%v", c.Open.Name, c.Open.RealPath, c.Open.Raw,
			c.Open.Flags, c.Open.Mode, c.Open.DirFD, c.Open.FileType, c.Open.ViaHook)
	case event.KindConnect:
		s += fmt.Sprintf(" fam=%d type=%d proto=%d local=%v remote=%v unix=%q", c.Connect.Family, c.Connect.SockType, c.Connect.Proto, c.Connect.Local, c.Connect.Remote, c.Connect.UnixPath)
	case event.KindExec:
		s += fmt.Sprintf(" filename=%q", c.Exec.Filename)
	case event.KindIOUring:
		u := &c.IOUring
		s += fmt.Sprintf(" op=%s path1=%q path2=%q fd1=%d fd2=%d flags=%#x mode=%#o sq_thread=%v", event.IOURingOpName(u.Op), u.Path1, u.Path2, u.FD1, u.FD2, u.Flags, u.Mode, u.SQThread)
	}
	if p := c.Proc; p != nil {
		s += fmt.Sprintf(" proc={name=%q exe=%q exepath=%q args=%q ppid=%d}", p.Name, p.Exe, p.ExePath, p.Args, p.PPID)
	}
	return s
}

// startHarness returns the shared sensor, starting it on first use. It
// requires root; a sensor that fails to start fails every caller.
func startHarness(t *testing.T) *harness {
	t.Helper()
	testutil.RequireRoot(t)
	// A large ring absorbs the bursts of whatever else runs on the machine
	// (builds, benchmarks) while the tests wait for their own events.
	shared.once.Do(func() { shared.h, shared.err = newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20}) })
	if shared.err != nil {
		t.Fatalf("starting sensor: %v", shared.err)
	}
	return shared.h
}

// newHarness starts a sensor with cfg and a goroutine running it.
func newHarness(cfg Config) (*harness, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{
		s: s, self: uint32(os.Getpid()), bin: bin,
		wake: make(chan struct{}), inspect: make(chan func()),
		cancel: cancel, done: make(chan error, 1),
	}
	go func() { h.done <- s.Run(ctx, h.handle) }()
	return h, nil
}

// sharedRead is the second shared sensor, on the raw sys_exit program's
// variant with helper reads (rawSensors), started by the first test that
// needs it where the shared one loads fields directly; sharedTP is the
// compat tests' sensor on the syscalls tracepoints.
var sharedRead, sharedTP struct {
	once sync.Once
	h    *harness
	err  error
}

func closeHarness() {
	if shared.h != nil {
		shared.h.close()
	}
	if sharedRead.h != nil {
		sharedRead.h.close()
	}
	if sharedTP.h != nil {
		sharedTP.h.close()
	}
}

// close stops Run and closes the sensor.
func (h *harness) close() {
	h.cancel()
	if err := <-h.done; err != nil {
		fmt.Fprintln(os.Stderr, "sensor Run:", err)
	}
	if err := h.s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "sensor Close:", err)
	}
}

func (h *harness) handle(e *event.Event) {
	for {
		select {
		case f := <-h.inspect:
			f()
			continue
		default:
		}
		break
	}
	if !h.descendant(e.Proc) {
		return
	}
	c := captured{Event: *e}
	c.Open.Name = bytes.Clone(c.Open.Name)
	c.Open.RealPath = bytes.Clone(c.Open.RealPath)
	c.Open.Raw = bytes.Clone(c.Open.Raw)
	c.Connect.UnixPath = bytes.Clone(c.Connect.UnixPath)
	c.Exec.Filename = bytes.Clone(c.Exec.Filename)
	c.FS = event.FS{Path1: bytes.Clone(c.FS.Path1), Path2: bytes.Clone(c.FS.Path2), Raw1: bytes.Clone(c.FS.Raw1), Raw2: bytes.Clone(c.FS.Raw2),
		FD1: c.FS.FD1, FD2: c.FS.FD2, Flags: c.FS.Flags, Mode: c.FS.Mode, Truncated1: c.FS.Truncated1, Truncated2: c.FS.Truncated2}
	c.Dup.Name = bytes.Clone(c.Dup.Name)
	c.IOUring.Path1, c.IOUring.Path2 = bytes.Clone(c.IOUring.Path1), bytes.Clone(c.IOUring.Path2)
	h.mu.Lock()
	h.events = append(h.events, c)
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
}

// descendant reports whether p descends from the test process, as far as
// the process table's ancestry says.
func (h *harness) descendant(p *event.Process) bool {
	for i := 0; p != nil && i < event.MaxAncestors; i, p = i+1, p.Parent {
		if p.PPID == h.self {
			return true
		}
	}
	return false
}

// wait returns the first captured event that matches, failing the test
// after waitTimeout with the events of pid (if non-zero) for diagnosis.
func (h *harness) wait(t *testing.T, pid uint32, what string, match func(*captured) bool) captured {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	seen := 0
	for {
		h.mu.Lock()
		evs, wake := h.events, h.wake
		h.mu.Unlock()
		for ; seen < len(evs); seen++ {
			if match(&evs[seen]) {
				return evs[seen]
			}
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("no %s within %v; events of pid %d:\n%s", what, waitTimeout, pid, h.dump(pid))
		}
	}
}

// all returns the captured events of pid so far.
func (h *harness) all(pid uint32) []captured {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []captured
	for _, c := range h.events {
		if c.PID == pid {
			out = append(out, c)
		}
	}
	return out
}

func (h *harness) dump(pid uint32) string {
	var b strings.Builder
	for _, c := range h.all(pid) {
		b.WriteString("  " + c.String() + "\n")
	}
	return b.String()
}

// child is a finished helper process.
type child struct {
	pid     uint32
	results []int // the "res=N" lines it printed
	stderr  string
}

// spawn runs the test binary in helper mode in dir and waits for it.
func (h *harness) spawn(t testing.TB, dir, mode string, args ...string) child {
	t.Helper()
	return h.spawnArgv0(t, dir, h.bin, mode, args...)
}

func (h *harness) spawnArgv0(t testing.TB, dir, argv0, mode string, args ...string) child {
	t.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Args[0] = argv0
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper %s: %v", mode, err)
	}
	c := child{pid: uint32(cmd.Process.Pid)}
	err := cmd.Wait()
	c.stderr = stderr.String()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("waiting for helper %s: %v", mode, err)
	}
	for line := range strings.Lines(stdout.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "res="); ok {
			n, _ := strconv.Atoi(v)
			c.results = append(c.results, n)
		}
	}
	return c
}

// trigger starts a helper that exits at once, to make a few events.
func (h *harness) trigger() {
	cmd := exec.Command(h.bin)
	cmd.Env = append(os.Environ(), helperEnv+"=exit")
	_ = cmd.Run() // only its events matter
}

// onRunGoroutine runs f between two events on the Run goroutine, where the
// process table may be read, spawning children until one makes an event.
func (h *harness) onRunGoroutine(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	g := func() { f(); close(done) }
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		go h.trigger()
		select {
		case h.inspect <- g:
			<-done
			return
		case <-time.After(time.Second):
		}
	}
	t.Fatal("the Run goroutine took no inspection request")
}
