package output

import (
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// benchAlert is an alert shaped like one of Falco's stable rules fires:
// a rendered output with user data to escape and eight typed fields.
func benchAlert(tb testing.TB, e *event.Event) *Alert {
	tb.Helper()
	return fieldsAlert(tb, e, "Read sensitive file untrusted", "Warning",
		[]string{"maturity_stable", "host", "container", "filesystem", "mitre_credential_access", "T1555"},
		"Sensitive file opened for reading by non-trusted program (file=/tmp/x\ny\"\xff gparent=bash ggparent=sshd evt_type=openat user=root user_uid=0 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat x\ny terminal=34816 container_id=host container_name=host)",
		"evt.time", "evt.type", "proc.pid", "proc.name", "proc.cmdline", "proc.exepath", "fd.name", "fd.num")
}

// TestAppendAlertAllocs keeps alert encoding free of allocations, as the
// pipeline's buffers are reused.
func TestAppendAlertAllocs(t *testing.T) {
	enc := NewEncoder("host-1")
	e := openEvent()
	a := benchAlert(t, e)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = enc.AppendAlert(buf[:0], a) }); n != 0 {
		t.Errorf("AppendAlert: %v allocations per alert, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = enc.AppendEvent(buf[:0], e) }); n != 0 {
		t.Errorf("AppendEvent: %v allocations per event, want 0", n)
	}
}

// BenchmarkAppendAlert measures one alert line in Falco's JSON shape,
// into a reused buffer as the pipeline writes it.
func BenchmarkAppendAlert(b *testing.B) {
	enc := NewEncoder("host-1")
	a := benchAlert(b, openEvent())
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.AppendAlert(buf[:0], a)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAppendEvent measures one event record of --events mode: every
// field of an open that has a value.
func BenchmarkAppendEvent(b *testing.B) {
	enc := NewEncoder("host-1")
	e := openEvent()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.AppendEvent(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}
