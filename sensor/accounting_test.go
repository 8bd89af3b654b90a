package sensor

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// TestProcessBadRecords feeds the reader's hot path malformed records among
// good ones: every bad one is counted by reason and by the kind its header
// names, none reaches the handler or crashes, and the good ones still do.
func TestProcessBadRecords(t *testing.T) {
	s := &Sensor{table: newFakeProc(t).table(0)}
	s.deliver.Store(1<<event.KindOpen | 1<<event.KindExit)

	good := encode(t, bpf.VigilOpenRec{Hdr: hdr(recOpen), RawLen: 2, NameLen: 2}, []byte("ab"), []byte("cd"))
	overrun := bytes.Clone(good)
	binary.LittleEndian.PutUint16(overrun[unsafe.Offsetof(bpf.VigilOpenRec{}.NameLen):], 3)
	bad := [][]byte{
		nil,                          // short: no header
		good[:hdrSize-1],             // short: cut header
		good[:len(good)-1],           // size: header says more
		append(bytes.Clone(good), 0), // size: header says less
		overrun,                      // strings overrun the record
		encode(t, hdr(recConnect)),   // short: connect without its fixed part
		encode(t, bpf.VigilExitRec{Hdr: hdr(99)}), // unknown type
	}
	var delivered int
	handle := func(e *event.Event) {
		if e.Type != event.TypeOpenat && e.Type != event.TypeOpen {
			t.Errorf("handler got %v", e.Type)
		}
		delivered++
	}
	var r Record
	for i := range 3 {
		for _, raw := range bad {
			s.process(raw, &r, handle)
		}
		s.process(good, &r, handle)
		if delivered != i+1 {
			t.Fatalf("round %d: %d events delivered, want %d", i, delivered, i+1)
		}
	}
	// A fork record, of a kind not selected, is read but skipped.
	s.process(encode(t, bpf.VigilForkRec{Hdr: hdr(recFork), ParentTgid: 1, ParentTid: 1}), &r, handle)

	st := s.Stats()
	want := [NumDecodeReasons]uint64{DecodeShort: 9, DecodeSize: 6, DecodeStrings: 3, DecodeUnknownType: 3}
	if st.DecodeErrors != want {
		t.Errorf("decode errors %v, want %v", st.DecodeErrors, want)
	}
	if k := st.Kinds[event.KindOpen]; k.Failed != 9 || k.Delivered != 3 || k.Skipped != 0 {
		t.Errorf("open counters %+v, want 9 failed, 3 delivered", k)
	}
	if k := st.Kinds[event.KindConnect]; k.Failed != 3 {
		t.Errorf("connect counters %+v, want 3 failed", k)
	}
	if k := st.Kinds[event.KindUnknown]; k.Failed != 9 {
		t.Errorf("unattributed failures %+v, want 9 (6 headerless, 3 unknown type)", k)
	}
	if k := st.Kinds[event.KindFork]; k.Skipped != 1 || k.Delivered != 0 {
		t.Errorf("fork counters %+v, want 1 skipped", k)
	}
}

// TestProcessRandomRecords throws random bytes at the hot path (the decoder
// has its own fuzz target; this covers the process table and counting
// after it): nothing panics, and every record is either delivered, skipped
// or counted as failed.
func TestProcessRandomRecords(t *testing.T) {
	s := &Sensor{table: newFakeProc(t).table(64)}
	s.deliver.Store(^uint32(0))
	rng := rand.New(rand.NewPCG(1, 2))
	seeds := [][]byte{
		encode(t, bpf.VigilOpenRec{Hdr: hdr(recOpen), RawLen: 2, NameLen: 2}, []byte("ab"), []byte("cd")),
		encode(t, bpf.VigilForkRec{Hdr: hdr(recFork), ParentTgid: 1, ParentTid: 1}),
		encode(t, bpf.VigilExitRec{Hdr: hdr(recExit)}),
		encode(t, bpf.VigilConnectRec{Hdr: hdr(recConnect)}),
		encode(t, bpf.VigilExecRec{Hdr: hdr(recExec), ArgsLen: 3}, []byte("a\x00b")),
	}
	var r Record
	const n = 20000
	for range n {
		raw := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for range rng.IntN(4) {
			raw[rng.IntN(len(raw))] = byte(rng.Uint32())
		}
		if rng.IntN(8) == 0 {
			raw = raw[:rng.IntN(len(raw)+1)]
		}
		s.process(raw, &r, func(*event.Event) {})
	}
	var total uint64
	for _, k := range s.Stats().Kinds {
		total += k.Delivered + k.Skipped + k.Failed
	}
	if total != n {
		t.Errorf("%d records accounted for, want %d", total, n)
	}
	if s.table.Len() > 64 {
		t.Errorf("process table grew to %d past its bound", s.table.Len())
	}
}

func TestTableSweep(t *testing.T) {
	fp := newFakeProc(t)
	fp.add(fakeProcess{pid: 70, comm: "alive", argv: "alive\x00", exe: "/bin/alive", cwd: "/", cgroup: "/"})
	tab := fp.table(0)
	for _, pid := range []uint32{70, 71, 72} {
		tab.Apply(forkRecord(pid, 0))
	}
	if n := tab.Sweep(); n != 2 || tab.Len() != 1 || tab.Lookup(70) == nil {
		t.Fatalf("sweep removed %d, left %d entries (70 present: %v); want 2 removed, 70 kept",
			n, tab.Len(), tab.Lookup(70) != nil)
	}
	tab.Apply(forkRecord(73, 0))
	if tab.Lookup(73) == nil || tab.Len() != 2 {
		t.Errorf("table unusable after a sweep: len %d", tab.Len())
	}
}
