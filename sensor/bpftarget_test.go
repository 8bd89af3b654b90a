package sensor

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// helperBPFTarget opens the map with the id given by id, as bpftool does,
// writes its element 1 back with the value it has, and reads it through a
// file pinned nowhere: the commands whose target the kernel side reads.
func helperBPFTarget(args []string) int {
	id, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer m.Close()
	var v uint32
	if err := m.Lookup(uint32(event.KindExec), &v); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := m.Update(uint32(event.KindExec), v, ebpf.UpdateExist); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	// A map id no map has: the target is the id asked for.
	if _, err := ebpf.NewMapFromID(ebpf.MapID(1<<31 - 1)); err == nil {
		fmt.Fprintln(os.Stderr, "map id 2^31-1 exists")
		return 3
	}
	return 0
}

// TestBPFTarget: another process opens the sensor's kinds map by id and
// writes it. Both hook modes report the map and its id for the open (read
// from the descriptor the kernel returned), the write (from the descriptor
// the caller passed) and a failed open by id (the id asked for); only the
// sensor whose map it is marks the events as aimed at it.
func TestBPFTarget(t *testing.T) {
	h := startHarness(t)
	tp, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: SyscallHooksTracepoint})
	if err != nil {
		t.Fatalf("starting a sensor on the syscalls tracepoints: %v", err)
	}
	defer tp.close()
	info, err := h.s.kindsMap.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Skip("the kernel gives no map ids (Linux 4.13+)")
	}
	if maps, progs, _ := h.s.OwnObjectCounts(); maps == 0 || progs == 0 {
		t.Fatalf("the sensor knows %d maps and %d programs as its own", maps, progs)
	}
	c := h.spawn(t, "", "bpftarget", strconv.FormatUint(uint64(id), 10))
	if c.stderr != "" {
		t.Fatalf("helper: %s", c.stderr)
	}
	for _, tt := range []struct {
		what string
		args [3]int64
		ok   bool // the call succeeded
	}{
		{"BPF_MAP_GET_FD_BY_ID", [3]int64{unix.BPF_MAP_GET_FD_BY_ID, event.BPFObjMap, int64(id)}, true},
		{"BPF_MAP_UPDATE_ELEM", [3]int64{unix.BPF_MAP_UPDATE_ELEM, event.BPFObjMap, int64(id)}, true},
		{"failed BPF_MAP_GET_FD_BY_ID", [3]int64{unix.BPF_MAP_GET_FD_BY_ID, event.BPFObjMap, 1<<31 - 1}, false},
	} {
		t.Run(tt.what, func(t *testing.T) {
			match := func(e *captured) bool {
				return isType(c.pid, event.TypeBpf)(e) && e.Priv.Args == tt.args && (e.Res >= 0) == tt.ok
			}
			own := h.wait(t, c.pid, tt.what, match)
			other := tp.wait(t, c.pid, tt.what, match)
			if !own.Priv.TargetVigil && tt.ok {
				t.Errorf("%s of the sensor's own map not marked as aimed at it: %+v", tt.what, own.Priv)
			}
			if other.Priv.TargetVigil {
				t.Errorf("%s of another sensor's map marked as aimed at this one: %+v", tt.what, other.Priv)
			}
			kind, gotID, ok := own.BPFTarget()
			if !ok || kind != "map" || gotID != tt.args[2] {
				t.Errorf("BPFTarget() = %q, %d, %v", kind, gotID, ok)
			}
		})
	}
}
