package sensor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/vigil-sensor/vigil/bpf"
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
	// The third bounds raw paths: any open through "../", and reads
	// under keep/ whose raw path holds "sentinel".
	third := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.OpenAllTypes, Access: event.OpenAllAccess, Results: event.OpenAllResults, AnyPath: true,
		RawContains: "../",
	}, {
		Types: 1 << event.TypeOpenat, Access: read, Results: event.OpenSucceeded,
		Prefixes: []string{dir + "/keep/"}, RawContains: "sentinel-of-the-test", // cut to "sentinel"
	}}}
	type op struct {
		op     string
		admit1 bool // by first
		admit2 bool // by second
		admit3 bool // by third
	}
	// Longer than the kernel searches, without "../": admitted.
	long := "other/" + strings.Repeat("./", event.OpenRawScan/2) + "b"
	ops := []op{
		{"openat:keep/a", true, false, false},
		{"openat:keepx/a", false, false, false},
		{"openat:other/b", false, true, false},
		{"openat:other/secret.key", true, true, false},
		{"openat:other/secret.key.bak", false, true, false},
		{"openat:other/xsecret.key", false, true, false},
		{"openat:other/a-long-file-name-for-vigil.conf", true, true, false},
		{"openat:other/a-long-file-name-for-vigil.conf2", false, true, false},
		{"openat:keep/missing", false, false, false},               // failed read
		{"openat-creat:keep/new", false, false, false},             // successful write
		{"openat-creat:" + dir + "/nodir/new", true, false, false}, // failed write
		{"openat2:keep", false, false, false},                      // the prefix's directory itself
		{"openat:other/../keep/a", true, false, true},
		{"openat:keep/../nodir/x", false, false, true}, // failed read
		{"openat:keep/./sentinel", true, true, true},
		{"openat:" + long, false, true, true},
		{"openat:../" + filepath.Base(dir) + "/other/b", false, true, true}, // "../" at the very start
		{"openat:other/b/..", false, false, false},                          // ".." without the slash: not a directory, fails
	}
	if haveLegacyOpen {
		// Not an openat: the first filter's read clause does not apply.
		ops = append(ops, op{"open:keep/c", false, false, false})
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
	t.Run("third", func(t *testing.T) { run(t, third, func(o op) bool { return o.admit3 }) })
	t.Run("off", func(t *testing.T) { run(t, nil, func(op) bool { return true }) })
	// And on again, past the generation that reuses the first's slot.
	t.Run("first again", func(t *testing.T) { run(t, first, func(o op) bool { return o.admit1 }) })
}

// TestOpenFilterKernelBounds keeps event's copy of the kernel's raw-path
// bounds in step with bpf/events.h.
func TestOpenFilterKernelBounds(t *testing.T) {
	if event.OpenRawScan != int(bpf.VigilOpenFilterBoundsVIGIL_OPEN_RAW_SCAN) {
		t.Errorf("event.OpenRawScan = %d, the kernel scans %d", event.OpenRawScan, bpf.VigilOpenFilterBoundsVIGIL_OPEN_RAW_SCAN)
	}
	var f bpf.VigilOpenFilter
	if event.OpenRawNeedle != int(unsafe.Sizeof(f.Needle[0])) {
		t.Errorf("event.OpenRawNeedle = %d, the kernel compares %d bytes", event.OpenRawNeedle, unsafe.Sizeof(f.Needle[0]))
	}
}

// TestCompileOpenNeedles checks the kernel's needle tables: bytes little
// endian, cut to 8, shared by clauses, and a needle past the fourth left
// out (its clause then needs none, which admits more).
func TestCompileOpenNeedles(t *testing.T) {
	clause := func(raw string) event.OpenClause {
		return event.OpenClause{Types: event.OpenAllTypes, Access: event.OpenAllAccess, Results: event.OpenAllResults, AnyPath: true, RawContains: raw}
	}
	f := &event.OpenFilter{Clauses: []event.OpenClause{
		clause("../"), clause("id_rsa.pub-and-more"), clause("../"), clause(""), clause("a"), clause("bb"), clause("ccc"),
	}}
	k := compileOpenFilter(f, 1).filter
	if want := uint32(0b0110111); k.RawNeed != want {
		t.Errorf("RawNeed = %#b, want %#b", k.RawNeed, want)
	}
	want := []struct {
		needle, mask uint64
		len, clauses uint32
	}{
		{0x2f2e2e, 0xffffff, 3, 0b101},            // "../"
		{0x702e6173725f6469, ^uint64(0), 8, 0b10}, // "id_rsa.p"
		{'a', 0xff, 1, 0b10000},
		{'b'<<8 | 'b', 0xffff, 2, 0b100000},
	}
	for i, w := range want {
		if k.Needle[i] != w.needle || k.NeedleMask[i] != w.mask || k.NeedleLen[i] != w.len || k.NeedleClauses[i] != w.clauses {
			t.Errorf("needle %d = %#x mask %#x len %d clauses %#b, want %#x %#x %d %#b", i,
				k.Needle[i], k.NeedleMask[i], k.NeedleLen[i], k.NeedleClauses[i], w.needle, w.mask, w.len, w.clauses)
		}
	}
}
