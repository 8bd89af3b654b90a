package dedup

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/metrics"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// RuleSuppressed names the internal record that reports suppressed alerts.
const RuleSuppressed = "vigil internal: suppressed alerts"

// Why a group's count is reported.
const (
	// ReasonWindow: the window after the group's first alert closed.
	ReasonWindow = "window"
	// ReasonEvicted: the group made room for a new one (max_groups).
	ReasonEvicted = "evicted"
	// ReasonShutdown: vigil stopped (or the configuration changed) while
	// the window was open.
	ReasonShutdown = "shutdown"
)

// Clock tells the time; tests pass a fake one.
type Clock func() time.Time

// Submitter takes internal records (Falco's JSON shape, a newline at the
// end) for the outputs without blocking: sink.Set.
type Submitter interface {
	SubmitUrgent(rec []byte) bool
}

// Deps are what a Deduper takes from the program around it.
type Deps struct {
	Encoder *output.Encoder
	Out     Submitter
	// Clock defaults to time.Now.
	Clock Clock
}

// settings are one rule's window and key fields.
type settings struct {
	window time.Duration
	// fields are the configured key fields; nil keys on the alert's
	// output fields (custom false).
	fields []fieldRef
	custom bool
}

// group is the alerts of one key within their window.
type group struct {
	key, rule, priority string
	start               time.Time
	window              time.Duration
	suppressed          uint64
	// first and last are the event times of the first and last suppressed
	// alert.
	first, last int64
	// values are the key fields as output_fields members (`"name":value`,
	// comma-separated), encoded once when the group starts.
	values     []byte
	prev, next *group
}

// Deduper decides which alerts are written. Admit is called from one
// goroutine (the sensor's reader); Tick, Flush, Stats and Families from
// any.
type Deduper struct {
	enc     *output.Encoder
	out     Submitter
	now     Clock
	global  settings
	perRule map[string]*settings
	max     int

	// key is Admit's scratch buffer.
	key []byte

	mu     sync.Mutex
	groups map[string]*group
	// head is the oldest group, tail the newest: eviction takes head.
	head, tail   *group
	suppressedBy map[string]uint64

	written, suppressed, reported, evicted, summaries, dropped atomic.Uint64
}

// New builds a Deduper from cfg, or returns nil when cfg deduplicates no
// rule.
func New(cfg Config, deps Deps) (*Deduper, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	d := &Deduper{enc: deps.Encoder, out: deps.Out, now: deps.Clock, max: cfg.MaxGroups,
		perRule: map[string]*settings{}, groups: map[string]*group{}, suppressedBy: map[string]uint64{}}
	if d.now == nil {
		d.now = time.Now
	}
	if d.max <= 0 {
		d.max = DefaultMaxGroups
	}
	var err error
	if d.global, err = compileSettings(cfg.Window, cfg.Fields); err != nil {
		return nil, err
	}
	for name, r := range cfg.Rules {
		window, fields := cfg.Window, cfg.Fields
		if r.Window != nil {
			window = *r.Window
		}
		if r.Fields != nil {
			fields = r.Fields
		}
		s, err := compileSettings(window, fields)
		if err != nil {
			return nil, fmt.Errorf("dedup rule %q: %w", name, err)
		}
		d.perRule[name] = &s
	}
	return d, nil
}

func compileSettings(window time.Duration, fields []string) (settings, error) {
	s := settings{window: window, custom: len(fields) > 0}
	for _, f := range fields {
		ref, err := compileField(f)
		if err != nil {
			return settings{}, err
		}
		s.fields = append(s.fields, ref)
	}
	return s, nil
}

func (d *Deduper) settingsFor(rule string) *settings {
	if s, ok := d.perRule[rule]; ok {
		return s
	}
	return &d.global
}

// skipByDefault reports whether an output field is left out of the
// default key: it differs on every event.
func skipByDefault(fv *rules.FieldValue) bool {
	return fv.Type == event.FieldAbsTime || fv.Type == event.FieldRelTime || fv.Name == "evt.num"
}

// Admit reports whether the alert of rule r for event e, whose output
// fields are fields, is to be written: the first of its key within the
// window is, the others are counted instead. A suppressed alert allocates
// nothing.
func (d *Deduper) Admit(r *rules.Rule, fields []rules.FieldValue, e *event.Event) bool {
	s := d.settingsFor(r.Name)
	if s.window <= 0 {
		d.written.Add(1)
		return true
	}
	k := append(d.key[:0], r.Name...)
	k = append(k, 0)
	if s.custom {
		for i := range s.fields {
			ref := &s.fields[i]
			str, num, ip, ok := extract(ref.field, e, ref.arg)
			k = appendKey(k, ref.field.Type, ok, str, num, ip)
		}
	} else {
		for i := range fields {
			fv := &fields[i]
			if skipByDefault(fv) {
				continue
			}
			k = appendKey(k, fv.Type, fv.OK, fv.Str, fv.Num, fv.IP)
		}
	}
	d.key = k
	now := d.now()

	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[string(k)]
	if g != nil && now.Sub(g.start) >= g.window {
		d.close(g, ReasonWindow, now)
		g = nil
	}
	if g != nil {
		if g.suppressed == 0 {
			g.first = e.Time
		}
		g.suppressed++
		g.last = e.Time
		d.suppressed.Add(1)
		d.suppressedBy[r.Name]++
		return false
	}
	if len(d.groups) >= d.max {
		d.evicted.Add(1)
		d.close(d.head, ReasonEvicted, now)
	}
	g = &group{key: string(k), rule: r.Name, priority: r.Priority.String(), start: now, window: s.window,
		values: groupValues(s, fields, e)}
	d.groups[g.key] = g
	g.prev = d.tail
	if d.tail != nil {
		d.tail.next = g
	} else {
		d.head = g
	}
	d.tail = g
	d.written.Add(1)
	return true
}

// groupValues encodes the key fields of a new group for its record.
func groupValues(s *settings, fields []rules.FieldValue, e *event.Event) []byte {
	var b []byte
	add := func(name string, t event.FieldType, ok bool, str string, num int64, ip netip.Addr) {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = output.AppendString(b, name)
		b = append(b, ':')
		b = output.AppendTyped(b, t, ok, str, num, ip)
	}
	if s.custom {
		for i := range s.fields {
			ref := &s.fields[i]
			str, num, ip, ok := extract(ref.field, e, ref.arg)
			add(ref.name, ref.field.Type, ok, str, num, ip)
		}
		return b
	}
	for i := range fields {
		fv := &fields[i]
		if !skipByDefault(fv) {
			add(fv.Name, fv.Type, fv.OK, fv.Str, fv.Num, fv.IP)
		}
	}
	return b
}

// appendKey appends one value to a key: its type, whether it is present,
// and its bytes (strings with their length, so that no two lists of values
// make the same key).
func appendKey(k []byte, t event.FieldType, ok bool, str string, num int64, ip netip.Addr) []byte {
	k = append(k, byte(t))
	if !ok {
		return append(k, 0)
	}
	k = append(k, 1)
	switch {
	case t == event.FieldString || t == 0:
		k = binary.AppendUvarint(k, uint64(len(str)))
		return append(k, str...)
	case t.Numeric():
		return binary.LittleEndian.AppendUint64(k, uint64(num))
	}
	a := ip.As16()
	return append(k, a[:]...)
}

// extract reads f's value for e.
func extract(f *event.Field, e *event.Event, a event.Arg) (str string, num int64, ip netip.Addr, ok bool) {
	switch {
	case f.Str != nil:
		str, ok = f.Str(e, a)
	case f.Num != nil:
		num, ok = f.Num(e, a)
	case f.IP != nil:
		ip, ok = f.IP(e, a)
	}
	return str, num, ip, ok
}

// close removes g and reports its suppressed count, if any. d.mu is held.
func (d *Deduper) close(g *group, reason string, now time.Time) {
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		d.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		d.tail = g.prev
	}
	g.prev, g.next = nil, nil
	delete(d.groups, g.key)
	if g.suppressed == 0 {
		return
	}
	d.summaries.Add(1)
	d.reported.Add(g.suppressed)
	if !d.out.SubmitUrgent(d.record(g, reason, now)) {
		d.dropped.Add(1)
	}
}

// record encodes g's internal record.
func (d *Deduper) record(g *group, reason string, now time.Time) []byte {
	window := g.window.String()
	text := fmt.Appendf(nil, "Identical alerts suppressed: rule=%s suppressed=%d window=%s reason=%s", g.rule, g.suppressed, window, reason)
	return d.enc.AppendAlert(make([]byte, 0, 512+len(g.values)), &output.Alert{
		Time: now.UnixNano(), Rule: RuleSuppressed, Priority: g.priority, Source: output.SourceInternal, Output: text,
		AppendFields: func(b []byte) []byte {
			b = append(b, `"rule":`...)
			b = output.AppendString(b, g.rule)
			b = append(b, `,"suppressed":`...)
			b = strconv.AppendUint(b, g.suppressed, 10)
			b = append(b, `,"window":`...)
			b = output.AppendString(b, window)
			b = append(b, `,"reason":`...)
			b = output.AppendString(b, reason)
			b = append(b, `,"first":`...)
			b = output.AppendTime(b, g.first)
			b = append(b, `,"last":`...)
			b = output.AppendTime(b, g.last)
			if len(g.values) > 0 {
				b = append(b, ',')
				b = append(b, g.values...)
			}
			return b
		},
	})
}

// Tick closes every window that has ended by now.
func (d *Deduper) Tick(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for g := d.head; g != nil; {
		next := g.next
		if now.Sub(g.start) >= g.window {
			d.close(g, ReasonWindow, now)
		}
		g = next
	}
}

// Flush closes every group, reporting what each holds: at shutdown, so
// that no count is lost.
func (d *Deduper) Flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for d.head != nil {
		d.close(d.head, ReasonShutdown, now)
	}
}

// TickInterval is how often Run closes windows: a quarter of the shortest
// window, between 100ms and 1s.
func (d *Deduper) TickInterval() time.Duration {
	shortest := d.global.window
	for _, s := range d.perRule {
		if s.window > 0 && (shortest <= 0 || s.window < shortest) {
			shortest = s.window
		}
	}
	return min(max(shortest/4, 100*time.Millisecond), time.Second)
}

// Run closes windows as they end until ctx is done.
func (d *Deduper) Run(ctx context.Context) {
	t := time.NewTicker(d.TickInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.Tick(d.now())
		}
	}
}

// Stats are a Deduper's counters. Written + Suppressed is every alert
// Admit saw; Reported is the part of Suppressed that records have
// reported, the rest is held by open groups.
type Stats struct {
	Written, Suppressed, Reported uint64
	// Groups are held now; Evicted were closed early to make room.
	Groups  int
	Evicted uint64
	// Summaries are the records emitted, Dropped those an output refused
	// (also counted as output drops).
	Summaries, Dropped uint64
}

// Stats returns the counters.
func (d *Deduper) Stats() Stats {
	d.mu.Lock()
	groups := len(d.groups)
	d.mu.Unlock()
	return Stats{Written: d.written.Load(), Suppressed: d.suppressed.Load(), Reported: d.reported.Load(),
		Groups: groups, Evicted: d.evicted.Load(), Summaries: d.summaries.Load(), Dropped: d.dropped.Load()}
}

// Families are the Deduper's metrics.
func (d *Deduper) Families() []metrics.Family {
	st := d.Stats()
	counter := func(name, help string, v uint64) metrics.Family {
		return metrics.Family{Name: name, Help: help, Kind: "counter", Samples: []metrics.Sample{{Value: float64(v)}}}
	}
	byRule := metrics.Family{Name: "vigil_dedup_suppressed_by_rule_total", Help: "Alerts held back as identical to one written within its window, by rule.", Kind: "counter"}
	d.mu.Lock()
	for name, n := range d.suppressedBy {
		byRule.Samples = append(byRule.Samples, metrics.Sample{Labels: []metrics.Label{{Name: "rule", Value: name}}, Value: float64(n)})
	}
	d.mu.Unlock()
	return []metrics.Family{
		counter("vigil_dedup_written_total", "Alerts that deduplication let through (the first of their key in a window, or of a rule without dedup).", st.Written),
		counter("vigil_dedup_suppressed_total", "Alerts held back as identical to one written within its window.", st.Suppressed),
		counter("vigil_dedup_reported_total", "Suppressed alerts that a suppressed-alerts record has reported.", st.Reported),
		counter("vigil_dedup_evictions_total", "Groups closed before their window ended to make room (max_groups); their counts were reported.", st.Evicted),
		counter("vigil_dedup_records_total", "Suppressed-alerts records emitted.", st.Summaries),
		counter("vigil_dedup_record_drops_total", "Suppressed-alerts records an output's queue refused.", st.Dropped),
		{Name: "vigil_dedup_groups", Help: "Distinct alerts whose window is open.", Kind: "gauge", Samples: []metrics.Sample{{Value: float64(st.Groups)}}},
		byRule,
	}
}
