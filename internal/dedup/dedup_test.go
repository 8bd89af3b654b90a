package dedup

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/config"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// records collects the internal records a Deduper submits.
type records struct {
	mu   sync.Mutex
	recs []map[string]any
}

func (r *records) SubmitUrgent(b []byte) bool {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(string(b))
	}
	r.mu.Lock()
	r.recs = append(r.recs, m)
	r.mu.Unlock()
	return true
}

func (r *records) take() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.recs
	r.recs = nil
	return out
}

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) add(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *fakeClock                   { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func dur(d time.Duration) *time.Duration     { return &d }
func suppressedOf(m map[string]any) uint64   { return uint64(fields(m)["suppressed"].(float64)) }
func fields(m map[string]any) map[string]any { return m["output_fields"].(map[string]any) }

const testRules = `
- rule: Shadow
  desc: d
  condition: evt.type = openat and fd.name startswith /etc/
  output: "read (file=%fd.name proc=%proc.name time=%evt.time num=%evt.num)"
  priority: WARNING
- rule: Other
  desc: d
  condition: evt.type = openat and fd.name startswith /tmp/
  output: "other (file=%fd.name proc=%proc.name)"
  priority: NOTICE
`

type harness struct {
	t     *testing.T
	rs    *rules.Ruleset
	d     *Deduper
	clock *fakeClock
	out   *records
	num   uint64
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	rs, _, err := rules.Load([]rules.Source{{Name: "test.yaml", Data: []byte(testRules)}}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, rs: rs, clock: newClock(), out: &records{}}
	h.d, err = New(cfg, Deps{Encoder: output.NewEncoder("host"), Out: h.out, Clock: h.clock.now})
	if err != nil || h.d == nil {
		t.Fatalf("New: %v %v", h.d, err)
	}
	return h
}

// alert runs the rule named rule on an open of path by proc and returns
// whether the alert is written.
func (h *harness) alert(rule, path, proc string) bool {
	h.t.Helper()
	h.num++
	e := &event.Event{Type: event.TypeOpenat, Num: h.num, Time: h.clock.t.UnixNano(), Proc: &event.Process{Name: proc}}
	e.Open.Name = []byte(path)
	r := h.rs.Rule(rule)
	return h.d.Admit(r, r.AppendOutputFields(nil, e), e)
}

func TestWindow(t *testing.T) {
	h := newHarness(t, Config{Window: 10 * time.Second})
	if !h.alert("Shadow", "/etc/shadow", "cat") {
		t.Fatal("the first alert was suppressed")
	}
	// evt.time and evt.num differ on every event and are not part of
	// the default key.
	for range 4 {
		h.clock.add(time.Second)
		if h.alert("Shadow", "/etc/shadow", "cat") {
			t.Fatal("an identical alert within the window was written")
		}
	}
	// Another value of a key field, another rule: their own groups.
	if !h.alert("Shadow", "/etc/shadow", "less") || !h.alert("Shadow", "/etc/passwd", "cat") {
		t.Fatal("a different alert was suppressed")
	}
	if st := h.d.Stats(); st.Written != 3 || st.Suppressed != 4 || st.Groups != 3 {
		t.Fatalf("stats %+v", st)
	}
	h.clock.add(5 * time.Second) // 9s after the first: still open
	h.d.Tick(h.clock.t)
	if recs := h.out.take(); len(recs) != 0 {
		t.Fatalf("records before the window closed: %v", recs)
	}
	h.clock.add(time.Second)
	h.d.Tick(h.clock.t)
	recs := h.out.take()
	if len(recs) != 1 {
		t.Fatalf("want one record (groups without suppressed alerts report nothing), got %v", recs)
	}
	r := recs[0]
	f := fields(r)
	if r["rule"] != RuleSuppressed || r["source"] != "internal" || r["priority"] != "Warning" ||
		f["rule"] != "Shadow" || suppressedOf(r) != 4 || f["reason"] != ReasonWindow || f["window"] != "10s" ||
		f["fd.name"] != "/etc/shadow" || f["proc.name"] != "cat" || f["evt.time"] != nil {
		t.Fatalf("record %v", r)
	}
	if first, last := f["first"], f["last"]; first != "2023-11-14T22:13:21.000000000Z" || last != "2023-11-14T22:13:24.000000000Z" {
		t.Errorf("first %v last %v", first, last)
	}
	if st := h.d.Stats(); st.Groups != 2 || st.Reported != 4 || st.Summaries != 1 {
		t.Fatalf("stats after the window %+v", st)
	}
	// The next identical alert starts a new window and is written.
	if !h.alert("Shadow", "/etc/shadow", "cat") {
		t.Fatal("the first alert of a new window was suppressed")
	}
}

// A window that ended is closed by the next identical alert even before a
// tick: its count is reported and the alert written.
func TestWindowClosedByNextAlert(t *testing.T) {
	h := newHarness(t, Config{Window: time.Second})
	h.alert("Shadow", "/etc/shadow", "cat")
	h.alert("Shadow", "/etc/shadow", "cat")
	h.clock.add(time.Second)
	if !h.alert("Shadow", "/etc/shadow", "cat") {
		t.Fatal("alert after the window suppressed")
	}
	recs := h.out.take()
	if len(recs) != 1 || suppressedOf(recs[0]) != 1 {
		t.Fatalf("records %v", recs)
	}
}

func TestPerRule(t *testing.T) {
	h := newHarness(t, Config{Window: time.Minute, Rules: map[string]RuleConfig{
		"Other":  {Window: dur(0)},
		"Shadow": {Fields: []string{"fd.name"}},
	}})
	for range 3 {
		if !h.alert("Other", "/tmp/x", "cat") {
			t.Fatal("a rule whose window is 0 was deduplicated")
		}
	}
	// Keyed on fd.name alone: another process reading the same file is
	// the same alert.
	if !h.alert("Shadow", "/etc/shadow", "cat") || h.alert("Shadow", "/etc/shadow", "less") {
		t.Fatal("fd.name key")
	}
	h.d.Flush()
	recs := h.out.take()
	if len(recs) != 1 || fields(recs[0])["reason"] != ReasonShutdown || fields(recs[0])["proc.name"] != nil ||
		fields(recs[0])["fd.name"] != "/etc/shadow" {
		t.Fatalf("records %v", recs)
	}
}

// Groups are bounded: the oldest is evicted and reports its count; every
// alert is either written or in a record's count.
func TestEviction(t *testing.T) {
	h := newHarness(t, Config{Window: time.Hour, MaxGroups: 2})
	total := 0
	for range 3 {
		for _, p := range []string{"/etc/a", "/etc/b", "/etc/c"} {
			h.alert("Shadow", p, "cat")
			h.alert("Shadow", p, "cat")
			total += 2
			h.clock.add(time.Millisecond)
		}
	}
	h.d.Flush()
	var written uint64 = h.d.Stats().Written
	var reported uint64
	evicted := 0
	for _, r := range h.out.take() {
		reported += suppressedOf(r)
		if fields(r)["reason"] == ReasonEvicted {
			evicted++
		}
	}
	st := h.d.Stats()
	if written+reported != uint64(total) || st.Suppressed != reported || st.Reported != reported {
		t.Fatalf("written %d + reported %d != %d alerts; stats %+v", written, reported, total, st)
	}
	if evicted == 0 || st.Evicted == 0 || st.Groups != 0 {
		t.Fatalf("evictions: %d records, stats %+v", evicted, st)
	}
}

// A suppressed alert allocates nothing.
func TestSuppressAllocs(t *testing.T) {
	h := newHarness(t, Config{Window: time.Hour})
	e := &event.Event{Type: event.TypeOpenat, Time: 1, Proc: &event.Process{Name: "cat"}}
	e.Open.Name = []byte("/etc/shadow")
	r := h.rs.Rule("Shadow")
	fv := r.AppendOutputFields(nil, e)
	h.d.Admit(r, fv, e)
	if n := testing.AllocsPerRun(100, func() { h.d.Admit(r, fv, e) }); n != 0 {
		t.Fatalf("%v allocations per suppressed alert", n)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"dedup:\n  window: -1s\n", "f.yaml:2:11: dedup.window: must not be negative"},
		{"dedup:\n  window: 1m\n  fields: [proc.name, proc.nme]\n", `f.yaml:3:23: dedup.fields[1]: unknown field "proc.nme"`},
		{"dedup:\n  fields: [\"proc.aname[x]\"]\n", `f.yaml:2:12: dedup.fields[0]: field "proc.aname" needs a non-negative index`},
		{"dedup:\n  fields: [container.label]\n", `f.yaml:2:12: dedup.fields[0]: field "container.label" needs an argument`},
		{"dedup:\n  max_groups: 0\n", "f.yaml:2:15: dedup.max_groups: must be positive"},
		{"dedup:\n  rules:\n    X:\n      window: 5\n", `f.yaml:4:15: dedup.rules.X.window: want a duration`},
		{"dedup:\n  rules:\n    X:\n      fields: [nope]\n", `f.yaml:4:16: dedup.rules.X.fields[0]: unknown field "nope"`},
		{"dedup:\n  rules:\n    X:\n      colour: red\n", `f.yaml:4:7: dedup.rules.X.colour: unknown key`},
	} {
		var c Config
		err := config.Decode("f.yaml", []byte(tt.yaml), []config.Key{{Name: "dedup", Dst: &c}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.yaml, err, tt.want)
		}
	}
	var c Config
	if err := config.Decode("f.yaml", []byte("dedup:\n  window: 30s\n  fields: [proc.name, \"proc.aname[2]\", \"container.label[app]\"]\n  rules:\n    X: {window: 0s}\n"),
		[]config.Key{{Name: "dedup", Dst: &c}}); err != nil || c.Window != 30*time.Second || *c.Rules["X"].Window != 0 {
		t.Fatalf("valid config: %v %+v", err, c)
	}
}

// compileField never panics, and what it accepts names a field vigil knows
// with the argument that field takes.
func FuzzCompileField(f *testing.F) {
	for _, s := range []string{"proc.name", "proc.aname[2]", "container.label[app]", "proc.aname[x]", "fd.name[1]", "x[", "[]", "container.label[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := compileField(s)
		if err != nil {
			return
		}
		if ref.field == nil || ref.name != s {
			t.Fatalf("%q: %+v", s, ref)
		}
		if ref.arg.Set && ref.field.Arg == event.ArgNone || !ref.arg.Set && ref.field.ArgRequired {
			t.Fatalf("%q: argument %+v for a field taking %v", s, ref.arg, ref.field.Arg)
		}
	})
}
