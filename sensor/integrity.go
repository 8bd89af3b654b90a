package sensor

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// Tampering is one difference between what the kernel side reads or counts
// and what the sensor wrote or saw, found by Verify. Any root process with
// the bpf syscall can rewrite vigil's maps: switch a kind off, point a
// filter at an empty generation, or zero the counters that report losses.
type Tampering struct {
	// What names the state: "kinds", "filter_gen", "filter", "filter_prefix",
	// "filter_name", "counters" or "delivered".
	What string
	Kind event.Kind
	// Want and Got are the values that differed (for "counters", the
	// emitted count before and after; for "delivered", emitted and
	// delivered).
	Want, Got uint64
	// Restored says whether the sensor wrote its value back.
	Restored bool
}

func (t Tampering) String() string {
	return fmt.Sprintf("%s of %s: want %d, got %d (restored %v)", t.What, t.Kind, t.Want, t.Got, t.Restored)
}

// Verify compares what the kernel side reads (the kinds switch, each filter's
// generation, the filter and its prefix and name entries) with what the
// sensor last wrote, and writes back every difference. It also checks that
// the kernel's counters never went backwards and that no kind delivered more
// records than the kernel counted: when they did, later Stats add what was
// lost, so counts stay monotonic. Called every status interval, it bounds how
// long a blinding write goes unnoticed and unrepaired. It returns nil when
// all is as written.
func (s *Sensor) Verify() []Tampering {
	s.mu.Lock()
	var found []Tampering
	if !s.closed {
		found = s.verifyKinds(found)
		found = s.verifyFilters(found)
	}
	s.mu.Unlock()
	return s.verifyCounters(found)
}

// verifyKinds checks the kinds switch; s.mu is held.
func (s *Sensor) verifyKinds(found []Tampering) []Tampering {
	deliver := s.deliver.Load()
	for k := range event.NumKinds {
		want := kernelKind(deliver, event.Kind(k))
		var got uint32
		if err := s.kindsMap.Lookup(uint32(k), &got); err != nil || got != want {
			t := Tampering{What: "kinds", Kind: event.Kind(k), Want: uint64(want), Got: uint64(got)}
			t.Restored = s.kindsMap.Update(uint32(k), want, ebpf.UpdateAny) == nil
			found = append(found, t)
		}
	}
	return found
}

// verifyFilters checks every filter's generation and its active entries;
// s.mu is held.
func (s *Sensor) verifyFilters(found []Tampering) []Tampering {
	genMap := s.coll.Maps[bpf.VigilMapFilterGen]
	filters := s.coll.Maps[bpf.VigilMapFilters]
	prefixes := s.coll.Maps[bpf.VigilMapFilterPrefixes]
	names := s.coll.Maps[bpf.VigilMapFilterNames]
	for k := range s.filters {
		st := &s.filters[k]
		kind := event.Kind(k)
		var gen uint32
		if err := genMap.Lookup(uint32(k), &gen); err != nil || gen != st.gen {
			t := Tampering{What: "filter_gen", Kind: kind, Want: uint64(st.gen), Got: uint64(gen)}
			t.Restored = genMap.Update(uint32(k), st.gen, ebpf.UpdateAny) == nil
			found = append(found, t)
		}
		a := st.active
		if st.gen == 0 || a == nil {
			continue
		}
		var f bpf.VigilKindFilter
		slot := uint32(k)*2 + st.gen&1
		if err := filters.Lookup(slot, &f); err != nil || f != a.filter {
			t := Tampering{What: "filter", Kind: kind, Want: uint64(st.gen), Got: uint64(st.gen)}
			t.Restored = filters.Update(slot, &a.filter, ebpf.UpdateAny) == nil
			found = append(found, t)
		}
		found = verifyEntries(found, "filter_prefix", kind, prefixes, a.prefixes, a.prefixMasks)
		found = verifyEntries(found, "filter_name", kind, names, a.names, a.nameMasks)
		found = verifyEntries(found, "filter_ident", kind, s.coll.Maps[bpf.VigilMapFilterIdents], a.idents, a.identMasks)
	}
	return found
}

// verifyEntries checks that each key of keys maps to its mask in m.
func verifyEntries[K any](found []Tampering, what string, kind event.Kind, m *ebpf.Map, keys []K, masks []uint32) []Tampering {
	for i := range keys {
		var got uint32
		if err := m.Lookup(&keys[i], &got); err != nil || got != masks[i] {
			t := Tampering{What: what, Kind: kind, Want: uint64(masks[i]), Got: uint64(got)}
			t.Restored = m.Update(&keys[i], masks[i], ebpf.UpdateAny) == nil
			found = append(found, t)
		}
	}
	return found
}

// verifyCounters checks that delivery never passed emission, and returns
// with found what observeCounters saw since the last call: counters that
// went backwards. What was lost either way is made up in s.lost.
func (s *Sensor) verifyCounters(found []Tampering) []Tampering {
	s.kmu.Lock()
	defer s.kmu.Unlock()
	if s.final != nil || s.counters == nil {
		return found
	}
	// Delivered first: whatever was delivered had been counted as
	// emitted before the counters are read below.
	var delivered [event.NumKinds]uint64
	for k := range delivered {
		delivered[k] = s.delivered[k].Load() + s.skipped[k].Load() + s.failed[k].Load()
	}
	cur := s.observeCounters()
	for k := range cur {
		// Unknown records are counted under no kind the kernel emits.
		if k != int(event.KindUnknown) && delivered[k] > cur[k].emitted {
			s.tampered = append(s.tampered, Tampering{What: "delivered", Kind: event.Kind(k), Want: cur[k].emitted, Got: delivered[k]})
			s.lost[k].emitted += delivered[k] - cur[k].emitted
		}
	}
	found = append(found, s.tampered...)
	s.tampered = s.tampered[:0]
	return slices.Clip(found)
}

// observeCounters reads the kernel counters and returns them plus what was
// lost to tampering. A counter below what it was at the last reading was
// changed by another process: the difference is added to s.lost, so that
// the counts reported never go backwards, and the event is kept for the next
// Verify. s.kmu is held.
func (s *Sensor) observeCounters() []kernelCounts {
	cur := s.readKernelCounts()
	if s.lastKernel == nil {
		s.lastKernel = make([]kernelCounts, len(cur))
	}
	for k := range cur {
		last, c := s.lastKernel[k], cur[k]
		if c.emitted < last.emitted || c.dropped < last.dropped || c.filtered < last.filtered {
			s.tampered = append(s.tampered, Tampering{What: "counters", Kind: event.Kind(k), Want: last.emitted, Got: c.emitted})
			s.lost[k].emitted += last.emitted - min(last.emitted, c.emitted)
			s.lost[k].dropped += last.dropped - min(last.dropped, c.dropped)
			s.lost[k].filtered += last.filtered - min(last.filtered, c.filtered)
		}
		s.lastKernel[k] = c
		cur[k] = kernelCounts{c.emitted + s.lost[k].emitted, c.dropped + s.lost[k].dropped, c.filtered + s.lost[k].filtered}
	}
	return cur
}
