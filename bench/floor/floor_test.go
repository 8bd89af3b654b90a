package floor

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

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
	if got := Hook(NumHooks).String(); got != "hook9" {
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

// operate issues n opens, n loopback connects and one fork+exec from this
// process, the operations the floor's hooks see.
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
	}
	cmd := exec.Command(path, "true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, mode Mode, n int) Report {
	t.Helper()
	testutil.RequireRoot(t)
	f, err := Open(mode)
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
	const n = 200
	r := run(t, ModeRingbuf, n)
	if r.Mode != ModeRingbuf || r.PID != uint32(os.Getpid()) {
		t.Errorf("report header = %q, %d", r.Mode, r.PID)
	}
	for _, h := range []Hook{HookOpenatExit, HookConnectExit} {
		s := r.Hooks[h.String()]
		// The Go runtime and net package may add a few of their own.
		if s.Matched < n || s.Matched > n+20 {
			t.Errorf("%s: %d records from this process, want %d", h, s.Matched, n)
		}
	}
	if s := r.Hooks[HookExec.String()]; s.Matched != 1 {
		t.Errorf("exec: %d records for this process's child, want 1", s.Matched)
	}
	// Fork and exit fire per thread too (the floor does not filter, unlike
	// the sensor), so the runtime's threads may add to the child's one.
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
	if s := r.Hooks[HookOpenatEnter.String()]; s.Hits < n || s.Records != 0 {
		t.Errorf("openat_enter: %d hits, %d records; want >= %d hits and no records", s.Hits, s.Records, n)
	}
}

func TestCounterCountsOnly(t *testing.T) {
	const n = 100
	r := run(t, ModeCounter, n)
	for _, h := range []Hook{HookOpenatEnter, HookOpenatExit, HookConnectEnter, HookConnectExit} {
		if s := r.Hooks[h.String()]; s.Hits < n {
			t.Errorf("%s: %d hits, want >= %d", h, s.Hits, n)
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
