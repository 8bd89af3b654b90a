package sensor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// TestOpenFilterBeforeWalk checks the open filter's judgements made before
// the path walk, on paths whose first name differs from the test
// directory's: a bound on the resolved path (fd.realpath) is judged on the
// file reached, whatever symlink led there, and a bound on the caller's name
// (fd.name) on the path as passed where that is its own fd.name (the raw
// program with direct loads), so that a symlink into the bound does not
// pass and the bound's own path does.
func TestOpenFilterBeforeWalk(t *testing.T) {
	for name, mode := range map[string]string{"auto": SyscallHooksAuto, "tracepoint": SyscallHooksTracepoint} {
		t.Run(name, func(t *testing.T) { testOpenFilterBeforeWalk(t, mode) })
	}
}

func testOpenFilterBeforeWalk(t *testing.T, hooks string) {
	h := startHarness(t)
	fh, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: hooks})
	if err != nil {
		t.Fatalf("starting a second sensor: %v", err)
	}
	defer fh.close()
	// Without the raw program's direct loads the caller's name is judged
	// only where it is the walked path: a symlink's passes.
	direct := fh.s.rawSyscalls && fh.s.rawDirect
	dir := realTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc", filepath.Join(dir, "proc")); err != nil {
		t.Fatal(err)
	}
	read := uint64(event.OpenReadAccess)
	clause := event.OpenClause{
		Types: event.KindOpen.Types(), Classes: read, Results: event.ResultSucceeded, Prefixes: []string{"/proc/"},
	}
	resolved, caller := clause, clause
	resolved.Resolved = true
	// /proc/self/status is /proc/<pid>/status: its caller's name and its
	// resolved path both start with /proc/, the link's only the latter.
	const status = "/proc/self/status"
	viaLink := filepath.Join(dir, status)
	plain := filepath.Join(dir, "plain")
	for _, tc := range []struct {
		name   string
		f      *event.OpenFilter
		admits map[string]bool // raw path -> delivered
	}{
		{"realpath", &event.OpenFilter{Clauses: []event.OpenClause{resolved}},
			map[string]bool{status: true, viaLink: true, plain: false}},
		{"name", &event.OpenFilter{Clauses: []event.OpenClause{caller}},
			map[string]bool{status: true, viaLink: !direct, plain: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := fh.s.SetFilter(event.KindOpen, tc.f); err != nil {
				t.Fatalf("SetFilter: %v", err)
			}
			// The status read last: admitted by both, it comes after
			// the others.
			args := []string{"openat:" + plain, "openat:" + viaLink, "openat:" + status}
			c := h.spawn(t, dir, "open", args...)
			if len(c.results) != len(args) {
				t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
			}
			for i, r := range c.results {
				if r < 0 {
					t.Fatalf("helper's %s: %d", args[i], r)
				}
			}
			isOpen := func(raw string) func(*captured) bool {
				return func(e *captured) bool {
					return e.PID == c.pid && e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == raw
				}
			}
			fh.wait(t, c.pid, "the filtered sensor's status read", isOpen(status))
			for raw, want := range tc.admits {
				h.wait(t, c.pid, "the unfiltered sensor's read of "+raw, isOpen(raw))
				got := false
				for _, e := range fh.all(c.pid) {
					got = got || isOpen(raw)(&e)
				}
				if got != want {
					t.Errorf("%s: delivered %v, want %v", raw, got, want)
				}
			}
		})
	}
}
