package sensor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules"
)

// TestOpenFilterDefaultRules loads the open filter vigil derives from its
// default rules into a sensor of its own and has a helper read and write
// a benign file many times, then read /etc/shadow: none of the helper's
// benign opens may leave the kernel, and its shadow read must. It counts
// the helper's own decoded events, so that whatever else the machine opens
// meanwhile cannot make it pass or fail. The rules package is imported by
// the test only, to derive the filter as vigil run does.
func TestOpenFilterDefaultRules(t *testing.T) {
	h := startHarness(t)
	rs, _, err := rules.Load([]rules.Source{rules.Default()}, rules.Options{})
	if err != nil {
		t.Fatalf("loading the default rules: %v", err)
	}
	f := rs.Filters()[event.KindOpen]
	if f == nil || f.All {
		t.Fatalf("the default rules give no open filter: %+v", f)
	}
	fh, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20})
	if err != nil {
		t.Fatalf("starting a second sensor: %v", err)
	}
	defer fh.close()
	if err := fh.s.SetFilter(event.KindOpen, f); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	benign := filepath.Join(realTempDir(t), "benign.txt")
	if err := os.WriteFile(benign, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	args := make([]string, 0, n+1)
	for i := range n {
		op := "openat:"
		if i%2 == 1 {
			op = "openat-creat:"
		}
		args = append(args, op+benign)
	}
	args = append(args, "openat:/etc/shadow")
	// The kernel matrix's guests boot a bare initramfs with no
	// /etc/shadow: give them one for the run, so the read succeeds there
	// as on a real host.
	if _, err := os.Stat("/etc/shadow"); os.IsNotExist(err) {
		if err := os.WriteFile("/etc/shadow", nil, 0o600); err != nil {
			t.Fatalf("creating /etc/shadow for the run: %v", err)
		}
		t.Cleanup(func() { os.Remove("/etc/shadow") })
	}
	before := fh.s.Stats().Kinds[event.KindOpen].Filtered
	c := h.spawn(t, "", "open", args...)
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
	// The shadow read comes last: once it is here, so is every open of
	// the helper's that passed the filter.
	fh.wait(t, c.pid, "the filtered sensor's shadow read", isOpen("/etc/shadow"))
	leaked := 0
	for _, e := range fh.all(c.pid) {
		if isOpen(benign)(&e) {
			leaked++
		}
	}
	if leaked > 0 {
		t.Errorf("%d of the helper's %d benign opens left the kernel", leaked, n)
	}
	// The unfiltered sensor saw them all: the helper did open the file.
	h.wait(t, c.pid, "the unfiltered sensor's shadow read", isOpen("/etc/shadow"))
	seen := 0
	for _, e := range h.all(c.pid) {
		if isOpen(benign)(&e) {
			seen++
		}
	}
	if seen != n {
		t.Errorf("the unfiltered sensor saw %d of the helper's %d benign opens", seen, n)
	}
	if got := fh.s.Stats().Kinds[event.KindOpen].Filtered - before; got < n {
		t.Errorf("%d opens filtered, want at least the helper's %d benign ones", got, n)
	}
}
