package floor

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"

	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/sensor"
)

func TestParseHooks(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Hooks
		wantErr bool
	}{
		{"", HooksAuto, false},
		{"auto", HooksAuto, false},
		{"raw", HooksRaw, false},
		{"tracepoint", HooksTracepoint, false},
		{"kprobe", "", true},
	} {
		got, err := ParseHooks(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseHooks(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"counter", ModeCounter, false},
		{"ringbuf", ModeRingbuf, false},
		{"", "", true},
		{"perf", "", true},
	} {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestHookNames(t *testing.T) {
	seen := map[string]bool{}
	for h := range NumHooks {
		name := Hook(h).String()
		if name == "" || seen[name] {
			t.Errorf("hook %d: name %q empty or repeated", h, name)
		}
		seen[name] = true
	}
	if got, want := Hook(NumHooks).String(), fmt.Sprintf("hook%d", NumHooks); got != want {
		t.Errorf("out-of-range hook name = %q", got)
	}
}

func record(hook Hook, tgid, ptgid uint32) []byte {
	b := make([]byte, recordSize)
	binary.NativeEndian.PutUint32(b[0:], uint32(hook))
	binary.NativeEndian.PutUint32(b[4:], tgid)
	binary.NativeEndian.PutUint32(b[8:], ptgid)
	return b
}

func TestCountAttribution(t *testing.T) {
	const pid = 100
	var records, matched [NumHooks]uint64
	for _, raw := range [][]byte{
		record(HookOpenatExit, pid, 1),     // the loadgen's open
		record(HookOpenatExit, 7, pid),     // someone else's, whatever its parent
		record(HookConnectExit, pid, 0),    // the loadgen's connect
		record(HookFork, pid, 0),           // the loadgen forks
		record(HookExec, 101, pid),         // its child execs
		record(HookExec, pid, 1),           // the loadgen itself is not the parent
		record(HookExit, 101, pid),         // its child exits
		record(HookOpenatExit, pid, 0)[:8], // short: ignored
		record(Hook(NumHooks), pid, pid),   // unknown hook: ignored
	} {
		count(raw, pid, &records, &matched)
	}
	wantRecords := [NumHooks]uint64{HookOpenatExit: 2, HookConnectExit: 1, HookFork: 1, HookExec: 2, HookExit: 1}
	wantMatched := [NumHooks]uint64{HookOpenatExit: 1, HookConnectExit: 1, HookFork: 1, HookExec: 1, HookExit: 1}
	if records != wantRecords {
		t.Errorf("records = %v, want %v", records, wantRecords)
	}
	if matched != wantMatched {
		t.Errorf("matched = %v, want %v", matched, wantMatched)
	}
}

// syscallExits are the exit hooks of the syscalls operate issues n times.
func syscallExits() []Hook {
	hs := []Hook{HookOpenatExit, HookConnectExit, HookFchmodatExit, HookRenameatExit, HookUnlinkatExit,
		HookSendtoExit, HookRecvfromExit}
	if runtime.GOARCH == "amd64" {
		hs = append(hs, HookDup2Exit) // elsewhere the loop's "dup2" is dup3
	}
	return hs
}

// operate issues, n times each, the syscalls the floor hooks: an open and
// a connect, and the load generator's fs (openat, close, fchmodat,
// renameat, unlinkat), udp (sendto, recvfrom) and dup2 operations; then
// one fork+exec from this process.
func operate(t *testing.T, n int) {
	t.Helper()
	path := testutil.RequireCommand(t, "busybox")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var ops []func() error
	for _, l := range []loadgen.Loop{loadgen.LoopFS, loadgen.LoopUDP, loadgen.LoopDup2} {
		g, err := loadgen.New(loadgen.Config{Loop: l, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		ops = append(ops, g.Op())
	}
	for range n {
		f, err := os.Open("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		for _, op := range ops {
			if err := op(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command(path, "true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
}

// hookModes are the syscall hooks to test: both where the kernel has the
// raw sys_exit program's needs, else the tracepoints alone.
func hookModes(t *testing.T) []Hooks {
	if err := sensor.RawSyscallHooksAvailable(); err != nil {
		t.Logf("raw sys_exit hooks not tested: %v", err)
		return []Hooks{HooksTracepoint}
	}
	return []Hooks{HooksRaw, HooksTracepoint}
}

func run(t *testing.T, mode Mode, hooks Hooks, n int) Report {
	t.Helper()
	testutil.RequireRoot(t)
	// Before Open: a skip in operate would close the floor under Run.
	testutil.RequireCommand(t, "busybox")
	f, err := Open(mode, hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan Report, 1)
	errs := make(chan error, 1)
	go func() {
		r, err := f.Run(ctx, uint32(os.Getpid()))
		if err != nil {
			errs <- err
			return
		}
		reports <- r
	}()
	operate(t, n)
	// Run drains what is left in the ring after the cancel, so every
	// record of the operations above is read before it returns.
	cancel()
	select {
	case r := <-reports:
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		return r
	case err := <-errs:
		t.Fatal(err)
	}
	return Report{}
}

func TestRingbufRecordsEveryEvent(t *testing.T) {
	for _, hooks := range hookModes(t) {
		t.Run(string(hooks), func(t *testing.T) {
			const n = 200
			r := run(t, ModeRingbuf, hooks, n)
			if r.Mode != ModeRingbuf || r.SyscallHooks != hooks || r.PID != uint32(os.Getpid()) {
				t.Errorf("report header = %q, %q, %d", r.Mode, r.SyscallHooks, r.PID)
			}
			for _, h := range syscallExits() {
				s := r.Hooks[h.String()]
				want := uint64(n)
				if h == HookOpenatExit {
					want = 2 * n // the open, and the file created
				}
				// The Go runtime and net package may add a few of their own.
				if s.Matched < want || s.Matched > want+20 {
					t.Errorf("%s: %d records from this process, want %d", h, s.Matched, want)
				}
			}
			if s := r.Hooks[HookExec.String()]; s.Matched != 1 {
				t.Errorf("exec: %d records for this process's child, want 1", s.Matched)
			}
			// Fork and exit fire per thread too (the floor does not filter,
			// unlike the sensor), so the runtime's threads may add to the
			// child's one.
			for _, h := range []Hook{HookFork, HookExit} {
				if s := r.Hooks[h.String()]; s.Matched < 1 {
					t.Errorf("%s: no record for this process's child", h)
				}
			}
			for name, s := range r.Hooks {
				if s.Drops != 0 {
					t.Errorf("%s: %d drops", name, s.Drops)
				}
				if s.Records > s.Hits {
					t.Errorf("%s: %d records but %d program runs", name, s.Records, s.Hits)
				}
			}
			// Enter hooks count in the tracepoint pairs; the raw sys_exit
			// program replaces them.
			wantEnter := uint64(n)
			if hooks == HooksRaw {
				wantEnter = 0
			}
			if s := r.Hooks[HookOpenatEnter.String()]; (s.Hits < wantEnter) || (wantEnter == 0 && s.Hits != 0) || s.Records != 0 {
				t.Errorf("openat_enter: %d hits, %d records; want %d hits (at least) and no records", s.Hits, s.Records, wantEnter)
			}
		})
	}
}

func TestCounterCountsOnly(t *testing.T) {
	const n = 100
	r := run(t, ModeCounter, HooksTracepoint, n)
	for _, h := range syscallExits() {
		if s := r.Hooks[h.String()]; s.Hits < n {
			t.Errorf("%s: %d hits, want >= %d", h, s.Hits, n)
		}
		if s := r.Hooks[(h - 1).String()]; s.Hits < n {
			t.Errorf("%s: %d hits, want >= %d", h-1, s.Hits, n)
		}
	}
	for _, h := range []Hook{HookExecveEnter, HookExecveExit, HookFork, HookExec, HookExit} {
		if s := r.Hooks[h.String()]; s.Hits < 1 {
			t.Errorf("%s: no hits", h)
		}
	}
	for name, s := range r.Hooks {
		if s.Records != 0 || s.Matched != 0 || s.Drops != 0 {
			t.Errorf("%s: counter mode read %+v", name, s)
		}
	}
}

func TestAutoHooksAsTheSensor(t *testing.T) {
	r := run(t, ModeCounter, HooksAuto, 1)
	want := HooksTracepoint
	if sensor.RawSyscallHooksAvailable() == nil {
		want = HooksRaw
	}
	if r.SyscallHooks != want {
		t.Errorf("auto hooks = %q, want %q as the sensor would take", r.SyscallHooks, want)
	}
}
