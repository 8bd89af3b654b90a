package rules

import (
	"slices"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// TestIOURingFilter checks the io_uring kind's filter: the default rules
// keep the path opcodes and drop reads, writes and ring setups in the
// kernel; opcode checks by name or number bound it, other checks do not.
func TestIOURingFilter(t *testing.T) {
	submit := func(op uint8) *event.Event {
		e := &event.Event{Type: event.TypeIOUringSubmit}
		e.IOUring.Op = op
		return e
	}
	setup := &event.Event{Type: event.TypeIOUringSetup, Res: 3}

	rs := mustLoad(t, Options{}, string(Default().Data))
	f := rs.Filters()[event.KindIOUring]
	if f == nil || f.All {
		t.Fatalf("no bounded io_uring filter from the default rules: %+v", f)
	}
	for _, tc := range []struct {
		e    *event.Event
		want bool
	}{
		{submit(18), true}, {submit(28), true}, {submit(35), true}, {submit(36), true}, {submit(37), true},
		{submit(38), true}, {submit(39), true},
		{submit(22), false}, {submit(23), false}, {submit(16), false}, {submit(0), false}, {setup, false},
	} {
		if got := f.Admits(tc.e); got != tc.want {
			t.Errorf("%s %s: admitted %v, want %v", tc.e.Type, event.IOURingOpName(tc.e.IOUring.Op), got, tc.want)
		}
	}

	for _, tc := range []struct {
		cond          string
		admit, reject []*event.Event
	}{
		{"evt.type = io_uring_submit and iouring.op = IORING_OP_CONNECT", []*event.Event{submit(16)}, []*event.Event{submit(18), setup}},
		{"evt.type = io_uring_submit and iouring.opcode in (16, 0x12)", []*event.Event{submit(16), submit(18)}, []*event.Event{submit(22)}},
		{"evt.type = io_uring_submit and iouring.op startswith IORING_OP_SEND", []*event.Event{submit(26), submit(9), submit(47)}, []*event.Event{submit(27)}},
		{"evt.type = io_uring_setup", []*event.Event{setup}, []*event.Event{submit(18)}},
		// Checks the kernel cannot judge bound nothing.
		{"evt.type = io_uring_submit and iouring.path startswith /etc", []*event.Event{submit(18), submit(22)}, nil},
		{"evt.type = io_uring_submit and not iouring.op = IORING_OP_READ", []*event.Event{submit(18), submit(22)}, nil},
	} {
		rs := mustLoad(t, Options{}, "- rule: r\n  desc: d\n  condition: "+tc.cond+"\n  output: o\n  priority: WARNING\n")
		f := rs.Filters()[event.KindIOUring]
		if f == nil {
			t.Errorf("%s: no io_uring filter", tc.cond)
			continue
		}
		for _, e := range tc.admit {
			if !f.Admits(e) {
				t.Errorf("%s: %s %s not admitted", tc.cond, e.Type, event.IOURingOpName(e.IOUring.Op))
			}
		}
		for _, e := range tc.reject {
			if f.Admits(e) {
				t.Errorf("%s: %s %s admitted", tc.cond, e.Type, event.IOURingOpName(e.IOUring.Op))
			}
		}
	}
}

// TestOpenByHandleAtFilter checks that open_by_handle_at passes the open
// kind's filter like the other opens: the default credential rule keeps a
// read of /etc/shadow by handle, not one of /etc/hostname.
func TestOpenByHandleAtFilter(t *testing.T) {
	rs := mustLoad(t, Options{}, string(Default().Data))
	f := rs.Filters()[event.KindOpen]
	if f == nil || f.All {
		t.Fatalf("no bounded open filter from the default rules: %+v", f)
	}
	byHandle := func(path string) *event.Event {
		e := openEvent(proc("x", "/tmp/x", "", nil), nil, path, 0, 3)
		e.Type, e.Open.Raw = event.TypeOpenByHandleAt, nil
		return e
	}
	if !f.Admits(byHandle("/etc/shadow")) {
		t.Error("open_by_handle_at of /etc/shadow filtered out")
	}
	if f.Admits(byHandle("/etc/hostname")) {
		t.Error("open_by_handle_at of /etc/hostname admitted")
	}
	if got := matches(rs, byHandle("/etc/shadow")); !slices.Contains(got, "Read Shadow or Sudoers File") {
		t.Errorf("open_by_handle_at of /etc/shadow matched %v", got)
	}
}
