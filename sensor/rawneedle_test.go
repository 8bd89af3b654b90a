package sensor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// TestOpenFilterRawNeedle checks the kernel's word-at-a-time search of a
// raw path for a needle (filter_raw_admitted): the needle is found at every
// offset within a word and at the last position a path allows, whatever
// bytes equal to its first one come before it, and paths with only parts of
// it (its first byte alone, its first bytes, the needle cut short by the
// path's end) stay in the kernel. Relative paths from a directory of the
// test make the raw path short and its offsets exact.
func TestOpenFilterRawNeedle(t *testing.T) {
	h := startHarness(t)
	fh, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20})
	if err != nil {
		t.Fatalf("starting a second sensor: %v", err)
	}
	defer fh.close()
	const needle = "%n!"
	f := &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.AllResults, AnyPath: true,
		RawContains: needle,
	}}}
	if err := fh.s.SetFilter(event.KindOpen, f); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	dir := realTempDir(t)
	type op struct {
		name  string
		admit bool
	}
	var ops []op
	// The needle at offsets 0 to 19 (every place in a word, and across
	// words), after letters, after its own first byte, and ending the path.
	for i := range 20 {
		ops = append(ops,
			op{strings.Repeat("a", i) + needle + "z", true},
			op{strings.Repeat("%", i) + needle, true},
			op{strings.Repeat("a", i) + needle, true})
	}
	// Near misses: the first byte everywhere, the first two bytes, the
	// last two, and the needle with a byte changed.
	for i := range 12 {
		ops = append(ops,
			op{strings.Repeat("%", i+1) + "z", false},
			op{strings.Repeat("a", i) + "%n", false},
			op{strings.Repeat("a", i) + "n!" + strings.Repeat("%", i%3), false},
			op{strings.Repeat("a", i) + "%n?" + strings.Repeat("b", i), false})
	}
	args := make([]string, 0, len(ops)+1)
	for _, o := range ops {
		if err := os.WriteFile(filepath.Join(dir, o.name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "openat:"+o.name)
	}
	// Admitted: once it arrives, so have the admitted opens before it.
	sentinel := "sentinel" + needle
	if err := os.WriteFile(filepath.Join(dir, sentinel), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args = append(args, "openat:"+sentinel)
	c := h.spawn(t, dir, "open", args...)
	if len(c.results) != len(args) {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	for i, r := range c.results {
		if r < 0 {
			t.Fatalf("%s: open failed: %d", args[i], r)
		}
	}
	isOpen := func(raw string) func(*captured) bool {
		return func(e *captured) bool {
			return e.PID == c.pid && e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == raw
		}
	}
	fh.wait(t, c.pid, "sentinel open", isOpen(sentinel))
	got := map[string]bool{}
	for _, e := range fh.all(c.pid) {
		if e.Type.Kind() == event.KindOpen {
			got[string(e.Open.Raw)] = true
		}
	}
	for _, o := range ops {
		// The unfiltered sensor saw it: the open happened as written.
		h.wait(t, c.pid, "unfiltered open of "+o.name, isOpen(o.name))
		if got[o.name] != o.admit {
			t.Errorf("%q: delivered %v, want %v", o.name, got[o.name], o.admit)
		}
	}
}
