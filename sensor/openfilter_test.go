package sensor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// TestOpenFilter runs a sensor with an open filter beside the shared,
// unfiltered one: for each open, the filtered sensor must deliver it
// exactly when the expected verdict says so, and that verdict must be
// event.OpenFilter.Admits's on the event as the unfiltered sensor saw it
// (the kernel and the Go reference agree). Then it switches filters, and
// turns the filter off. Both ways of tracing opens run it: the raw
// sys_exit program (direct loads) and the tracepoint pairs (helper reads).
func TestOpenFilter(t *testing.T) {
	for name, mode := range map[string]string{"auto": SyscallHooksAuto, "tracepoint": SyscallHooksTracepoint} {
		t.Run(name, func(t *testing.T) { testOpenFilter(t, mode) })
	}
}

func testOpenFilter(t *testing.T, hooks string) {
	h := startHarness(t)
	fh, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: hooks})
	if err != nil {
		t.Fatalf("starting a second sensor: %v", err)
	}
	defer fh.close()

	dir := realTempDir(t)
	files := []string{"keep/a", "keep/c", "keep/sentinel", "keepx/a", "other/b", "other/secret.key", "other/secret.key.bak",
		"other/xsecret.key", "other/a-long-file-name-for-vigil.conf", "other/a-long-file-name-for-vigil.conf2"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := uint8(1<<event.OpenReadOnly | 1<<event.OpenReadWrite)
	first := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: 1 << event.TypeOpenat, Access: read, Results: event.OpenSucceeded,
		Prefixes: []string{dir + "/keep/"}, Names: []string{"secret.key", "a-long-file-name-for-vigil.conf"},
	}, {
		Types: event.OpenAllTypes, Access: 1 << event.OpenWriteOnly, Results: event.OpenFailed,
	}}}
	second := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.OpenAllTypes, Access: event.OpenAllAccess, Results: event.OpenSucceeded,
		Prefixes: []string{dir + "/other/", dir + "/keep/sentinel"},
	}}}
	type op struct {
		op     string
		admit1 bool // by first
		admit2 bool // by second
	}
	ops := []op{
		{"openat:keep/a", true, false},
		{"openat:keepx/a", false, false},
		{"openat:other/b", false, true},
		{"openat:other/secret.key", true, true},
		{"openat:other/secret.key.bak", false, true},
		{"openat:other/xsecret.key", false, true},
		{"openat:other/a-long-file-name-for-vigil.conf", true, true},
		{"openat:other/a-long-file-name-for-vigil.conf2", false, true},
		{"openat:keep/missing", false, false},               // failed read
		{"openat-creat:keep/new", false, false},             // successful write
		{"openat-creat:" + dir + "/nodir/new", true, false}, // failed write
		{"openat2:keep", false, false},                      // the prefix's directory itself
	}
	if haveLegacyOpen {
		// Not an openat: the first filter's read clause does not apply.
		ops = append(ops, op{"open:keep/c", false, false})
	}
	run := func(t *testing.T, f *event.OpenFilter, admitted func(op) bool) {
		t.Helper()
		if err := fh.s.SetOpenFilter(f); err != nil {
			t.Fatalf("SetOpenFilter: %v", err)
		}
		args := make([]string, 0, len(ops)+1)
		for _, o := range ops {
			args = append(args, o.op)
		}
		// Admitted by every filter here: once it arrives, so have the
		// admitted opens before it.
		args = append(args, "openat:keep/sentinel")
		c := h.spawn(t, dir, "open", args...)
		if len(c.results) != len(args) {
			t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
		}
		isOpen := func(raw string) func(*captured) bool {
			return func(e *captured) bool {
				return e.PID == c.pid && e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == raw
			}
		}
		fh.wait(t, c.pid, "sentinel open", isOpen("keep/sentinel"))
		for _, o := range ops {
			_, raw, _ := strings.Cut(o.op, ":")
			ref := h.wait(t, c.pid, "unfiltered open of "+raw, isOpen(raw))
			want := admitted(o)
			if f != nil && f.Admits(&ref.Event) != want {
				t.Errorf("%s: event.OpenFilter.Admits says %v, want %v (%s)", o.op, !want, want, ref.String())
			}
			got := false
			for _, e := range fh.all(c.pid) {
				got = got || isOpen(raw)(&e)
			}
			if got != want {
				t.Errorf("%s: the filtered sensor delivered it: %v, want %v (%s)", o.op, got, want, ref.String())
			}
		}
	}
	before := fh.s.Stats().Kinds[event.KindOpen].Filtered
	t.Run("first", func(t *testing.T) { run(t, first, func(o op) bool { return o.admit1 }) })
	if fh.s.Stats().Kinds[event.KindOpen].Filtered == before {
		t.Errorf("the open filter left out opens but its counter did not move")
	}
	// A new generation: nothing of the first filter may linger.
	t.Run("second", func(t *testing.T) { run(t, second, func(o op) bool { return o.admit2 }) })
	t.Run("off", func(t *testing.T) { run(t, nil, func(op) bool { return true }) })
	// And on again, past the generation that reuses the first's slot.
	t.Run("first again", func(t *testing.T) { run(t, first, func(o op) bool { return o.admit1 }) })
}
