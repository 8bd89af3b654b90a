package event

import "testing"

func TestIOURingOps(t *testing.T) {
	for op, want := range map[uint8]string{0: "IORING_OP_NOP", 18: "IORING_OP_OPENAT", 28: "IORING_OP_OPENAT2",
		39: "IORING_OP_LINKAT", 62: "IORING_OP_PIPE", 63: "63", 200: "200"} {
		if got := IOURingOpName(op); got != want {
			t.Errorf("IOURingOpName(%d) = %s, want %s", op, got, want)
		}
	}
	for op := range uint8(63) {
		if back, ok := IOURingOpByName(IOURingOpName(op)); !ok || back != op {
			t.Errorf("opcode %d: name %s maps back to %d %v", op, IOURingOpName(op), back, ok)
		}
	}
	if _, ok := IOURingOpByName("IORING_OP_BOGUS"); ok {
		t.Error("a bogus name maps to an opcode")
	}
}

func TestIOURingFields(t *testing.T) {
	setup := &Event{Type: TypeIOUringSetup, Res: 7, IOUring: IOUring{Flags: 2, SQEntries: 4}}
	submit := &Event{Type: TypeIOUringSubmit, IOUring: IOUring{Op: 18, FD1: -100, Path1: []byte("/etc/shadow"), Flags: 0o100000}}
	str := func(e *Event, name string) (string, bool) {
		f, _ := LookupField(name)
		return f.Str(e, Arg{})
	}
	num := func(e *Event, name string) (int64, bool) {
		f, _ := LookupField(name)
		return f.Num(e, Arg{})
	}
	if v, ok := str(submit, "iouring.op"); v != "IORING_OP_OPENAT" || !ok {
		t.Errorf("iouring.op = %q %v", v, ok)
	}
	if v, ok := str(submit, "iouring.path"); v != "/etc/shadow" || !ok {
		t.Errorf("iouring.path = %q %v", v, ok)
	}
	if _, ok := str(submit, "iouring.path2"); ok {
		t.Error("iouring.path2 has a value without a second path")
	}
	if _, ok := str(setup, "iouring.op"); ok {
		t.Error("a setup has an opcode")
	}
	if v, ok := num(setup, "iouring.fd"); v != 7 || !ok {
		t.Errorf("setup iouring.fd = %d %v", v, ok)
	}
	if v, ok := num(setup, "iouring.sq_thread"); v != 1 || !ok {
		t.Errorf("SQPOLL setup iouring.sq_thread = %d %v", v, ok)
	}
	if v, ok := num(submit, "iouring.fd"); v != -100 || !ok {
		t.Errorf("submit iouring.fd = %d %v", v, ok)
	}
	if IOURingKey(setup) != IOURingKeySetup || IOURingKey(submit) != 18 {
		t.Errorf("keys %d %d", IOURingKey(setup), IOURingKey(submit))
	}
	if TypeIOUringSubmit.Kind() != KindIOUring || TypeOpenByHandleAt.Kind() != KindOpen || KindIOUring.String() != "iouring" {
		t.Error("kinds")
	}
	if typ, ok := TypeByName("open_by_handle_at"); !ok || typ != TypeOpenByHandleAt {
		t.Error("open_by_handle_at is not an event type")
	}
}
