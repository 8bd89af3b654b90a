package sensor

import (
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// TestSyscallTable checks what the Go side reads of bpf/syscall_table.h:
// every row has its tracepoint pair in the object, an id, and an event type
// named like it; exec keeps its tracepoints beside the raw program.
func TestSyscallTable(t *testing.T) {
	spec, err := bpf.LoadVigil()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := syscallRows(spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != numSyscalls-1 {
		t.Errorf("%d rows, %d syscall ids", len(rows), numSyscalls-1)
	}
	for i, r := range rows {
		for _, p := range []string{"sys_enter_" + r.name, "sys_exit_" + r.name} {
			if ps := spec.Programs[p]; ps == nil || ps.SectionName != "tracepoint/syscalls/"+p {
				t.Errorf("row %s: no program %s on its tracepoint", r.name, p)
			}
		}
		// Rows and ids are in the same order.
		typ := syscallTypes[i+1]
		if typ == event.TypeUnknown || typ.String() != r.name {
			t.Errorf("row %s: syscall id %d has event type %s", r.name, i+1, typ)
		}
		if typ.Kind() == event.KindExec && r.raw {
			t.Errorf("row %s is hooked raw: exec must keep its tracepoints (bpf/syscall_table.h)", r.name)
		}
	}
}

// TestSyscallPrograms checks which tracepoint pairs each mode attaches,
// and that only a row that goes raw may lack its tracepoints.
func TestSyscallPrograms(t *testing.T) {
	rows := []syscallRow{{name: "execve"}, {name: "open", raw: true}, {name: "openat", raw: true}}
	all := func(string, string) bool { return true }
	names := func(ps []program) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.name)
		}
		return out
	}
	log := slog.New(slog.DiscardHandler)
	tp, err := syscallPrograms(rows, false, all, log)
	if want := []string{"sys_enter_execve", "sys_exit_execve", "sys_enter_open", "sys_exit_open", "sys_enter_openat", "sys_exit_openat"}; err != nil || !slices.Equal(names(tp), want) {
		t.Errorf("tracepoints: %v %v, want %v", names(tp), err, want)
	}
	raw, err := syscallPrograms(rows, true, all, log)
	if want := []string{"sys_enter_execve", "sys_exit_execve"}; err != nil || !slices.Equal(names(raw), want) {
		t.Errorf("raw: %v %v, want %v", names(raw), err, want)
	}
	noOpen := func(_, event string) bool { return event != "sys_enter_open" && event != "sys_exit_open" }
	arm, err := syscallPrograms(rows, false, noOpen, log)
	if want := []string{"sys_enter_execve", "sys_exit_execve", "sys_enter_openat", "sys_exit_openat"}; err != nil || !slices.Equal(names(arm), want) {
		t.Errorf("without open: %v %v, want %v", names(arm), err, want)
	}
	none := func(string, string) bool { return false }
	if _, err := syscallPrograms(rows, true, none, log); !errors.Is(err, ErrNoHook) {
		t.Errorf("without syscall tracepoints: %v, want ErrNoHook", err)
	}
}
