package sensor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// TestVerify does to a running sensor's maps what a root attacker did with
// bpftool (the writes go through the bpf syscall, as another process's
// would): switch opens off, move the open filter to its unused generation,
// delete a prefix entry, overwrite the filter, and zero the counters. Each
// is found and restored by the next Verify, opens flow again, and the
// counters the sensor reports never go backwards.
func TestVerify(t *testing.T) {
	h := startHarness(t)
	fh, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 8 << 20})
	if err != nil {
		t.Fatalf("starting a second sensor: %v", err)
	}
	defer fh.close()
	s := fh.s
	dir := realTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &event.Filter{Clauses: []event.Clause{{
		Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.AllResults,
		Prefixes: []string{dir + "/"},
	}}}
	if err := s.SetFilter(event.KindOpen, f); err != nil {
		t.Fatal(err)
	}
	// opens runs a helper that opens dir/f and waits for its open.
	opens := func(t *testing.T) {
		t.Helper()
		c := h.spawn(t, dir, "open", "openat:f")
		fh.wait(t, c.pid, "open of f", func(e *captured) bool {
			return e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == "f"
		})
	}
	opens(t)
	if got := s.Verify(); len(got) != 0 {
		t.Fatalf("Verify of an untouched sensor: %v", got)
	}

	open := uint32(event.KindOpen)
	genMap, filters := s.coll.Maps[bpf.VigilMapFilterGen], s.coll.Maps[bpf.VigilMapFilters]
	gen := s.filters[event.KindOpen].gen
	keys := s.filters[event.KindOpen].keys[gen&1]
	if len(keys.prefixes) == 0 {
		t.Fatal("the filter wrote no prefix entry")
	}
	var empty bpf.VigilKindFilter
	for _, tc := range []struct {
		what   string
		tamper func() error
	}{
		{"kinds", func() error { return s.kindsMap.Update(open, uint32(0), ebpf.UpdateAny) }},
		{"filter_gen", func() error { return genMap.Update(open, gen%255+1, ebpf.UpdateAny) }},
		{"filter_prefix", func() error { return s.coll.Maps[bpf.VigilMapFilterPrefixes].Delete(&keys.prefixes[0]) }},
		{"filter", func() error { return filters.Update(open*2+gen&1, &empty, ebpf.UpdateAny) }},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if err := tc.tamper(); err != nil {
				t.Fatal(err)
			}
			got := s.Verify()
			if len(got) != 1 || got[0].What != tc.what || got[0].Kind != event.KindOpen || !got[0].Restored {
				t.Fatalf("Verify = %v, want one restored %s of open", got, tc.what)
			}
			if again := s.Verify(); len(again) != 0 {
				t.Errorf("Verify after the restore: %v", again)
			}
			opens(t)
		})
	}

	t.Run("counters", func(t *testing.T) {
		before := s.Stats().Kinds[event.KindOpen]
		if before.Emitted == 0 {
			t.Fatal("no open counted")
		}
		zero := make([]bpf.VigilKindCounters, ebpf.MustPossibleCPU())
		if err := s.counters.Update(open, zero, ebpf.UpdateAny); err != nil {
			t.Fatal(err)
		}
		got := s.Verify()
		found := map[string]bool{}
		for _, g := range got {
			if g.Kind == event.KindOpen {
				found[g.What] = true
			}
		}
		if !found["counters"] {
			t.Fatalf("Verify = %v, want the open counters going backwards", got)
		}
		after := s.Stats().Kinds[event.KindOpen]
		if after.Emitted < before.Emitted || after.Filtered < before.Filtered {
			t.Errorf("reported counters went backwards: %+v, then %+v", before, after)
		}
		opens(t)
		if again := s.Verify(); len(again) != 0 {
			t.Errorf("Verify after the counters were made up: %v", again)
		}
	})
}
