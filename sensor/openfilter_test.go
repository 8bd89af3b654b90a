package sensor

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// TestOpenFilter runs a sensor with an open filter beside the shared,
// unfiltered one: for each open, the filtered sensor must deliver it
// exactly when the expected verdict says so, and that verdict must be
// kernelAdmits's on the event as the unfiltered sensor saw it (the kernel
// and the Go reference agree). Then it switches filters, and
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
	read := uint64(event.OpenReadAccess)
	first := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.TypeSetOf(event.TypeOpenat), Classes: read, Results: event.ResultSucceeded,
		Prefixes: []string{dir + "/keep/"}, Names: []string{"secret.key", "a-long-file-name-for-vigil.conf"}, Resolved: true,
	}, {
		Types: event.KindOpen.Types(), Classes: 1 << event.OpenWriteOnly, Results: event.ResultFailed,
	}, {
		// Suffixes: the kernel compares the last 8 bytes (".key.bak"),
		// and a one-byte suffix.
		Types: event.TypeSetOf(event.TypeOpenat), Classes: read, Results: event.ResultSucceeded,
		Suffixes: []string{"/secret.key.bak", "2"}, Resolved: true,
	}}}
	second := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.ResultSucceeded,
		Prefixes: []string{dir + "/other/", dir + "/keep/sentinel"}, Resolved: true,
	}}}
	// The third bounds raw paths: any open through "../", and reads
	// under keep/ whose raw path holds "sentinel".
	third := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.AllResults, AnyPath: true,
		RawContains: "../",
	}, {
		Types: event.TypeSetOf(event.TypeOpenat), Classes: read, Results: event.ResultSucceeded,
		Prefixes: []string{dir + "/keep/"}, RawContains: "sentinel-of-the-test", // cut to "sentinel"
		Resolved: true,
	}}}
	// The fourth bounds the caller's name (fd.name), which the kernel
	// judges only on an absolute, clean raw path that is the walked
	// path; any other successful read passes.
	fourth := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.KindOpen.Types(), Classes: read, Results: event.ResultSucceeded, Prefixes: []string{dir + "/keep/"},
	}}}
	if err := os.Symlink("../keep/a", filepath.Join(dir, "other/link")); err != nil {
		t.Fatal(err)
	}
	type op struct {
		op     string
		admit1 bool // by first
		admit2 bool // by second
		admit3 bool // by third
		admit4 bool // by fourth
	}
	// Longer than the kernel searches, without "../": admitted.
	long := "other/" + strings.Repeat("./", rawScan/2) + "b"
	ops := []op{
		{"openat:keep/a", true, false, false, true},
		{"openat:keepx/a", false, false, false, false},
		{"openat:other/b", false, true, false, false},
		{"openat:other/secret.key", true, true, false, false},
		{"openat:other/secret.key.bak", true, true, false, false},
		{"openat:other/xsecret.key", false, true, false, false},
		{"openat:other/a-long-file-name-for-vigil.conf", true, true, false, false},
		{"openat:other/a-long-file-name-for-vigil.conf2", true, true, false, false},
		{"openat:keep/missing", false, false, false, false},               // failed read
		{"openat-creat:keep/new", false, false, false, false},             // successful write
		{"openat-creat:" + dir + "/nodir/new", true, false, false, false}, // failed write
		{"openat2:keep", false, false, false, false},                      // the prefix's directory itself
		{"openat:other/../keep/a", true, false, true, true},
		{"openat:keep/../nodir/x", false, false, true, false}, // failed read
		{"openat:keep/./sentinel", true, true, true, true},
		{"openat:" + long, false, true, true, true},
		{"openat:../" + filepath.Base(dir) + "/other/b", false, true, true, true}, // "../" at the very start
		{"openat:other/b/..", false, false, false, false},                         // ".." without the slash: not a directory, fails
		// Absolute: the caller's name is judged where it is the walked
		// path, and only there.
		{"openat:" + dir + "/keep/c", true, false, false, true},
		{"openat:" + dir + "/other/b", false, true, false, false},
		{"openat:" + dir + "/other/link", true, false, false, true}, // a symlink to keep/a
		{"openat:" + dir + "//other/b", false, true, false, true},   // not the walked string
		// Relative: judged where its names climbed from the file lead
		// to the directory it was relative to.
		{"openat:other/link", true, false, false, true},
		{"dirfd:" + dir + "/keep:c", true, false, false, true},
		{"dirfd:" + dir + "/other:b", false, true, false, false},
		{"dirfd:" + dir + "/other:link", true, false, false, true},
	}
	if haveLegacyOpen {
		// Not an openat: the first filter's read clause does not apply.
		ops = append(ops, op{"open:keep/c", false, false, false, true})
	}
	run := func(t *testing.T, f *event.OpenFilter, admitted func(op) bool) {
		t.Helper()
		if err := fh.s.SetFilter(event.KindOpen, f); err != nil {
			t.Fatalf("SetFilter: %v", err)
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
			raw := opRaw(o.op)
			ref := h.wait(t, c.pid, "unfiltered open of "+raw, isOpen(raw))
			want := admitted(o)
			if f != nil && kernelAdmits(f, &ref.Event) != want {
				t.Errorf("%s: kernelAdmits says %v, want %v (%s)", o.op, !want, want, ref.String())
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
	t.Run("fourth", func(t *testing.T) { run(t, fourth, func(o op) bool { return o.admit4 }) })
	t.Run("off", func(t *testing.T) { run(t, nil, func(op) bool { return true }) })
	// And on again, past the generation that reuses the first's slot.
	t.Run("first again", func(t *testing.T) { run(t, first, func(o op) bool { return o.admit1 }) })
}

// opRaw is the raw path of a helperOpen operation ("kind:path" or
// "dirfd:dir:path").
func opRaw(op string) string {
	kind, raw, _ := strings.Cut(op, ":")
	if kind == "dirfd" {
		_, raw, _ = strings.Cut(raw, ":")
	}
	return raw
}

// kernelAdmits is the Go reference of the kernel's evaluation of f: the
// needles and suffixes cut to what it compares, and a raw path longer than
// it searches, or relative with more names than it climbs, taken as unknown
// (admitted).
func kernelAdmits(f *event.Filter, e *event.Event) bool {
	k := &event.Filter{All: f.All, Clauses: slices.Clone(f.Clauses)}
	for i := range k.Clauses {
		c := &k.Clauses[i]
		c.RawContains, c.Contains = kernelNeedle(c.RawContains), kernelNeedle(c.Contains)
		c.Suffixes = slices.Clone(c.Suffixes)
		for j, sfx := range c.Suffixes {
			c.Suffixes[j] = kernelSuffix(sfx)
		}
	}
	v := *e
	if raw := v.Open.Raw; len(raw) > rawScan || len(raw) > 0 && raw[0] != '/' && bytes.Count(raw, []byte("/")) >= upMax {
		v.Open.Raw = nil
	}
	return k.Admits(&v)
}

// TestCompileOpenNeedles checks the kernel's needle tables: bytes little
// endian, cut to 8, shared by clauses, and a needle past the fourth left
// out (its clause then needs none, which admits more).
func TestCompileOpenNeedles(t *testing.T) {
	clause := func(raw string) event.OpenClause {
		return event.OpenClause{Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.AllResults, AnyPath: true, RawContains: raw}
	}
	f := &event.OpenFilter{Clauses: []event.OpenClause{
		clause("../"), clause("id_rsa.pub-and-more"), clause("../"), clause(""), clause("a"), clause("bb"), clause("ccc"),
	}}
	k := compileFilter(event.KindOpen, openKeyClass, f, 1, nil).filter
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

// TestFilterKernelBounds keeps the Go side of the filters in step with the
// C: the bounds of bpf/events.h against the generated layouts and the
// object's maps, and every key an open can have against the classes.
func TestFilterKernelBounds(t *testing.T) {
	var f bpf.VigilKindFilter
	var pk bpf.VigilFilterPrefixKey
	checks := []struct {
		what      string
		got, want int
	}{
		{"clause mask bits", int(unsafe.Sizeof(f.PathAny)) * 8, maxClauses},
		{"syscall ids", len(f.Syscalls), int(bpf.VigilFilterBoundsVIGIL_FILTER_SYSCALLS)},
		{"key values", len(f.Keys), maxFilterKeys},
		{"needle bytes", int(unsafe.Sizeof(f.Needle[0])), needleMax},
		{"needles", len(f.Needle), maxNeedles},
		{"name length bits", len(f.NameLens) * 32, nameMax + 1},
		{"prefix key bytes", len(pk.Data), 2 + maxPrefix},
		{"kinds", int(bpf.VigilEventKindVIGIL_NUM_KINDS), event.NumKinds},
		{"fs path bytes judged", event.FSFilterPathMax, rawScan},
		{"result classes", len(f.Results), int(bpf.VigilFilterResultVIGIL_FILTER_RESULTS)},
		{"result classes given a bit", len(filterResults), len(f.Results)},
		{"greatest low result", event.LowResult, int(bpf.VigilFilterResultVIGIL_FILTER_LOW_RESULT)},
	}
	if numSyscalls > len(f.Syscalls) {
		t.Errorf("%d syscall ids, the filter tells %d apart", numSyscalls, len(f.Syscalls))
	}
	spec, err := bpf.LoadVigil()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{
		bpf.VigilMapFilterPrefixes: 2 * maxEntries, bpf.VigilMapFilterNames: 2 * maxEntries, bpf.VigilMapFilterIdents: 2 * maxIdents,
		bpf.VigilMapFilters: 2 * event.NumKinds, bpf.VigilMapFilterGen: event.NumKinds,
	} {
		checks = append(checks, struct {
			what      string
			got, want int
		}{"entries of map " + name, int(spec.Maps[name].MaxEntries), want})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	// Each key value the kernel computes for an open (bpf/kinds/open.h)
	// has the class of the flags it stands for.
	for _, flags := range []uint32{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR, 3, unix.O_PATH, unix.O_WRONLY | unix.O_PATH,
		unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC, unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC} {
		key := flags & unix.O_ACCMODE
		if flags&unix.O_PATH != 0 {
			key |= uint32(bpf.VigilOpenFilterKeyVIGIL_OPEN_KEY_PATH)
		}
		if got, want := openKeyClass(key), event.OpenAccessOf(flags); got != want {
			t.Errorf("flags %#o: key %d has class %d, want %d", flags, key, got, want)
		}
	}
	// Each result has the class of the kernel's (bpf/lib/filter.h,
	// filter_result): its class's bit, one bit per class.
	var bits uint8
	for _, b := range filterResults {
		bits |= b
	}
	if bits != event.AllResults {
		t.Errorf("result classes' bits %#b, want every result's (%#b)", bits, event.AllResults)
	}
	for res, class := range map[int64]bpf.VigilFilterResult{
		-4095: bpf.VigilFilterResultVIGIL_FILTER_RESULT_FAILED, -1: bpf.VigilFilterResultVIGIL_FILTER_RESULT_FAILED,
		0: bpf.VigilFilterResultVIGIL_FILTER_RESULT_LOW, 2: bpf.VigilFilterResultVIGIL_FILTER_RESULT_LOW,
		3: bpf.VigilFilterResultVIGIL_FILTER_RESULT_HIGH, 1 << 40: bpf.VigilFilterResultVIGIL_FILTER_RESULT_HIGH,
	} {
		if got, want := event.ResultOf(res), filterResults[class]; got != want {
			t.Errorf("result %d: class bit %#b, want the kernel class %d's %#b", res, got, class, want)
		}
	}
	if filterKeyClass(event.KindConnect) != nil {
		t.Errorf("connect has a filter key, but its kernel side consults no filter")
	}
}
