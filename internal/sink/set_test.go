package sink

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/sink/sinktest"
	"github.com/vigil-sensor/vigil/rules"
)

// Each sink gets the alerts its minimum priority lets through, in its own
// format; event records go where events are on.
func TestSetFanOut(t *testing.T) {
	dir := t.TempDir()
	rec := &sinktest.Intake{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	stdout := &syncBuffer{}
	ocsf := filepath.Join(dir, "ocsf.json")
	events := filepath.Join(dir, "events.json")
	s := newSet(t, stdout, fmt.Sprintf(`
  - type: stdout
  - type: file
    path: %s
    format: ocsf
    min_priority: warning
  - type: http
    url: %s/
    format: ecs
    min_priority: error
  - type: file
    name: events
    path: %s
    events: true
    min_priority: critical
`, ocsf, srv.URL, events))
	for i, p := range []rules.Priority{rules.PriorityNotice, rules.PriorityWarning, rules.PriorityError} {
		if d := s.Alert(testAlert(i, p), p); d != 0 {
			t.Fatalf("%d sinks dropped an alert", d)
		}
	}
	if d := s.Event(testEvent(9)); d != 0 {
		t.Fatalf("%d sinks dropped an event", d)
	}
	sinktest.WaitFor(t, 5*time.Second, "every record delivered", func() bool {
		return strings.Count(stdout.String(), "\n") == 4 && fileLines(ocsf) == 2 && len(rec.Requests()) == 1 && fileLines(events) == 1
	})
	for _, line := range strings.Split(readFile(t, ocsf), "\n")[:2] {
		var f struct {
			ClassUID int `json:"class_uid"`
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil || f.ClassUID != 2004 {
			t.Errorf("ocsf line %q", line)
		}
	}
	var doc struct {
		Event struct{ Kind string }
		Log   struct{ Level string }
	}
	if err := json.Unmarshal(rec.Requests()[0].Body, &doc); err != nil || doc.Event.Kind != "alert" || doc.Log.Level != "error" {
		t.Errorf("ecs body %s", rec.Requests()[0].Body)
	}
	if !strings.Contains(readFile(t, events), `"event":"openat"`) {
		t.Errorf("events file %q", readFile(t, events))
	}
	// A record is counted once its destination took it, which the
	// receiving end may see first.
	sinktest.WaitFor(t, 5*time.Second, "8 records counted", func() bool { return s.Stats().Written == 8 })
	if st := s.Stats(); st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("totals %+v, want nothing lost", st)
	}
}

// Internal records go, ahead of alerts, to the sinks of Falco's format
// whose minimum their priority meets, with the severity of their priority
// in syslog's header.
func TestSetInternalRecords(t *testing.T) {
	c := sinktest.ListenPacket(t, "udp", "127.0.0.1:0")
	addr := c.Addr
	stdout := &syncBuffer{}
	dir := t.TempDir()
	s := newSet(t, stdout, fmt.Sprintf(`
  - type: stdout
  - type: syslog
    address: %s
  - type: file
    path: %s
    format: ecs
  - type: file
    name: critical
    path: %s
    min_priority: critical
`, addr, filepath.Join(dir, "ecs.json"), filepath.Join(dir, "critical.json")))
	enc := output.NewEncoder("host-1")
	rec := enc.AppendInternal(s.Buffer(), 1_700_000_000_000_000_000, "vigil internal: output drop", "Notice", "Records dropped",
		[]output.Count{{Name: "total", Value: 3}})
	if !s.SubmitUrgent(rec) {
		t.Fatal("internal record dropped")
	}
	sinktest.WaitFor(t, 5*time.Second, "the record on stdout and syslog", func() bool {
		return strings.Count(stdout.String(), "\n") == 1 && len(c.Messages(t)) == 1
	})
	if stdout.String() != string(rec) {
		t.Errorf("stdout %q, want %q", stdout.String(), rec)
	}
	m := c.Messages(t)[0]
	if m.Pri != 1*8+5 || m.MsgID != "internal" || m.Msg != strings.TrimSuffix(string(rec), "\n") {
		t.Errorf("syslog message %+v", m)
	}
	if fileLines(filepath.Join(dir, "ecs.json")) != 0 || fileLines(filepath.Join(dir, "critical.json")) != 0 {
		t.Error("an internal record reached an ECS sink or one above its priority")
	}
}

// A reload keeps the sinks that did not change (their counters go on),
// keeps the queue of one whose format changed, starts new ones and lets
// removed ones finish; the totals never go backwards. A sink that cannot
// start leaves the running ones alone.
func TestSetUpdate(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	stdout := &syncBuffer{}
	s := newSet(t, stdout, fmt.Sprintf("  - type: stdout\n  - type: file\n    path: %s\n", a))
	s.Alert(testAlert(1, rules.PriorityWarning), rules.PriorityWarning)
	sinktest.WaitFor(t, 5*time.Second, "the first alert", func() bool { return fileLines(a) == 1 && s.Stats().Written == 2 })
	before := s.Sinks()

	if _, err := s.Prepare(parseOutputs(t, "  - type: file\n    path: /nonexistent/x\n")); err == nil {
		t.Fatal("a file that cannot be opened was accepted")
	}
	c, err := s.Prepare(parseOutputs(t, fmt.Sprintf("  - type: stdout\n    format: ecs\n  - type: file\n    name: b\n    path: %s\n", b)))
	if err != nil {
		t.Fatal(err)
	}
	c.Commit()
	s.Alert(testAlert(2, rules.PriorityWarning), rules.PriorityWarning)
	sinktest.WaitFor(t, 5*time.Second, "the second alert", func() bool { return fileLines(b) == 1 && strings.Count(stdout.String(), "\n") == 2 })
	after := s.Sinks()
	if len(after) != 2 || after[0].Format != output.FormatECS || after[0].Written != before[0].Written+1 || after[1].Name != "b" {
		t.Errorf("sinks after the reload: %+v", after)
	}
	if !strings.Contains(strings.Split(stdout.String(), "\n")[1], `"@timestamp"`) {
		t.Errorf("stdout after the reload is not ECS: %q", stdout.String())
	}
	sinktest.WaitFor(t, 5*time.Second, "totals", func() bool { return s.Stats().Written == 4 })
	if fileLines(a) != 1 {
		t.Errorf("the removed file sink got %d lines", fileLines(a))
	}
}

// countingWriter counts the lines written to it.
type countingWriter struct{ lines atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines.Add(int64(strings.Count(string(p), "\n")))
	return len(p), nil
}

// stdoutRate queues alerts as fast as one goroutine can for d and returns
// the lines stdout took per second meanwhile.
func stdoutRate(s *Set, w *countingWriter, d time.Duration) float64 {
	a := testAlert(1, rules.PriorityWarning)
	start := time.Now()
	before := w.lines.Load()
	for time.Since(start) < d {
		for range 100 {
			s.Alert(a, rules.PriorityWarning)
		}
	}
	return float64(w.lines.Load()-before) / time.Since(start).Seconds()
}

// A stalled HTTP server and a dead syslog collector cost their own sinks
// drops and failures; stdout keeps the pace it has alone.
func TestSlowSinksDoNotSlowStdout(t *testing.T) {
	srv := sinktest.Stalled(t)
	dead := sinktest.Refused(t)

	alone := &countingWriter{}
	s1 := newSet(t, alone, "  - type: stdout\n")
	withSlow := &countingWriter{}
	s2 := newSet(t, withSlow, fmt.Sprintf(`
  - type: stdout
  - type: http
    url: %s/
    timeout: 100ms
  - type: syslog
    network: tcp
    address: %s
    backoff: 10ms
`, srv.URL, dead))
	// Alternate the two, so that the machine's noise falls on both.
	var base, slow float64
	for range 3 {
		base += stdoutRate(s1, alone, 150*time.Millisecond)
		slow += stdoutRate(s2, withSlow, 150*time.Millisecond)
	}
	t.Logf("stdout lines/s: alone %.0f, with a stalled HTTP server and a dead syslog %.0f", base/3, slow/3)
	if slow < 0.5*base {
		t.Errorf("stdout took %.0f lines/s beside slow sinks, %.0f alone", slow/3, base/3)
	}
	sinks := s2.Sinks()
	if h := sinks[1]; h.Dropped == 0 {
		t.Errorf("stalled HTTP sink: %+v, want drops counted", h.Stats)
	}
	if sl := sinks[2]; sl.Dropped == 0 || sl.Written != 0 {
		t.Errorf("dead syslog sink: %+v, want drops counted and nothing sent", sl.Stats)
	}
	sinktest.WaitFor(t, 5*time.Second, "the dead collector's failures counted", func() bool {
		st := s2.Sinks()[2]
		return st.Failed > 0 && st.LastErr != nil && strings.Contains(st.LastErr.Error(), "connection refused")
	})
}

// An internal record is not sent to an output whose latest delivery
// failed: it would fail there and be reported again, forever.
func TestSetInternalSkipsFailingSink(t *testing.T) {
	stdout := &syncBuffer{}
	s := newSet(t, stdout, fmt.Sprintf("  - type: stdout\n  - type: http\n    url: http://%s/\n    retries: 0\n", sinktest.Refused(t)))
	s.Alert(testAlert(1, rules.PriorityWarning), rules.PriorityWarning)
	sinktest.WaitFor(t, 5*time.Second, "the failed delivery", func() bool { return s.Sinks()[1].Failed == 1 })
	rec := output.NewEncoder("host-1").AppendInternal(s.Buffer(), 1, "vigil internal: output drop", "Warning", "lost",
		[]output.Count{{Name: "http.failed", Value: 1}})
	if !s.SubmitUrgent(rec) {
		t.Fatal("internal record dropped")
	}
	sinktest.WaitFor(t, 5*time.Second, "the record on stdout", func() bool { return strings.Count(stdout.String(), "\n") == 2 })
	if st := s.Sinks()[1]; st.Failed != 1 || st.Queued != 0 {
		t.Errorf("the failing output was given the record: %+v", st.Stats)
	}
}
