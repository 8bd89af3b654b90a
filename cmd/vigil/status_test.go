package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/metrics"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
	"github.com/vigil-sensor/vigil/sensor"
)

type statusFakeSensor struct{ st sensor.Stats }

func (f *statusFakeSensor) Stats() sensor.Stats { return f.st }

type statusFakeEnricher struct{ st enrich.Stats }

func (f *statusFakeEnricher) Stats() enrich.Stats { return f.st }

// statusFakeWriter keeps urgent records and reports set counters.
type statusFakeWriter struct {
	records [][]byte
	st      output.Stats
}

func (w *statusFakeWriter) Buffer() []byte { return nil }
func (w *statusFakeWriter) SubmitUrgent(b []byte) bool {
	w.records = append(w.records, b)
	return true
}
func (w *statusFakeWriter) Stats() output.Stats { return w.st }
func (w *statusFakeWriter) Err() error          { return nil }

// take returns the records emitted since the last call, by rule.
func (w *statusFakeWriter) take(t *testing.T) map[string]map[string]uint64 {
	t.Helper()
	out := map[string]map[string]uint64{}
	for _, b := range w.records {
		var r struct {
			Rule, Source, Priority string
			OutputFields           map[string]uint64 `json:"output_fields"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("internal record is not JSON: %v: %s", err, b)
		}
		if r.Source != "internal" || out[r.Rule] != nil {
			t.Fatalf("record of source %q, or a second %q in one flush: %s", r.Source, r.Rule, b)
		}
		out[r.Rule] = r.OutputFields
	}
	w.records = nil
	return out
}

func newStatusForTest(t *testing.T) (*status, *statusFakeSensor, *statusFakeEnricher, *statusFakeWriter) {
	t.Helper()
	rs, _, err := rules.Load([]rules.Source{rules.Default()}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc := output.NewEncoder("host")
	p := newPipeline(nil, rs, true, enc, nil)
	fs, fe, fw := &statusFakeSensor{}, &statusFakeEnricher{}, &statusFakeWriter{}
	st := &status{sensor: fs, enricher: fe, writer: fw, pipeline: p, enc: enc, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return st, fs, fe, fw
}

func TestStatusRecords(t *testing.T) {
	st, fs, fe, fw := newStatusForTest(t)
	st.flush(false)
	if got := fw.take(t); len(got) != 0 {
		t.Fatalf("records without any loss: %v", got)
	}

	fs.st.Kinds[event.KindOpen].Dropped = 5
	fs.st.Kinds[event.KindExec].Dropped = 1
	fs.st.DecodeErrors[sensor.DecodeShort] = 2
	fs.st.Kinds[event.KindOpen].Failed = 1
	fs.st.Kinds[event.KindUnknown].Failed = 1
	fw.st.Dropped = 5
	st.pipeline.eventDrops[event.KindOpen].Add(3)
	st.pipeline.alertDrops.Add(1)
	fe.st.Failures = 2
	st.flush(false)
	want := map[string]map[string]uint64{
		ruleEventDrop:     {"exec": 1, "open": 5, "total": 6},
		ruleDecodeFailure: {"short": 2, "open": 1, "unknown": 1, "total": 2},
		ruleOutputDrop:    {"open": 3, "alert": 1, "internal": 1, "total": 5},
		ruleEnrichFailure: {"failures": 2, "queue_full": 0, "containerd_connected": 0},
	}
	if got := fw.take(t); !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("first losses:\n got %v\nwant %v", got, want)
	}

	// No growth, no record; a counter going backwards is no loss either.
	fs.st.Kinds[event.KindExec].Dropped = 0
	st.flush(false)
	if got := fw.take(t); len(got) != 0 {
		t.Errorf("records without new losses: %v", got)
	}

	// Deltas, not totals; enrichment failures wait for their interval,
	// then the final flush reports what accumulated.
	fs.st.Kinds[event.KindOpen].Dropped = 12
	fe.st.Failures = 3
	st.flush(false)
	if got := fw.take(t); !maps.EqualFunc(got, map[string]map[string]uint64{ruleEventDrop: {"open": 7, "total": 7}}, maps.Equal) {
		t.Errorf("second losses: %v", got)
	}
	fe.st.Failures = 4
	fe.st.Dropped = 1
	st.flush(true)
	if got := fw.take(t); !maps.EqualFunc(got, map[string]map[string]uint64{
		ruleEnrichFailure: {"failures": 2, "queue_full": 1, "containerd_connected": 0}}, maps.Equal) {
		t.Errorf("final flush: %v", got)
	}
}

func TestStatusMetrics(t *testing.T) {
	st, fs, fe, fw := newStatusForTest(t)
	fs.st.Kinds[event.KindOpen] = sensor.KindStats{Emitted: 10, Dropped: 2, Delivered: 9, Failed: 1}
	fs.st.Kinds[event.KindFork] = sensor.KindStats{Emitted: 4, Skipped: 4}
	fs.st.Processes = 77
	fw.st = output.Stats{Written: 8, Dropped: 1, Queued: 3, QueuedBytes: 300}
	fe.st = enrich.Stats{Hits: 5, Misses: 6, Connected: true}
	st.pipeline.eventDrops[event.KindOpen].Add(1)
	st.pipeline.matches.inc("Some rule")
	st.reloads.failed.Add(1)
	var b strings.Builder
	if err := metrics.Write(&b, st.collect()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`vigil_kernel_events_total{kind="open"} 10`, `vigil_kernel_drops_total{kind="open"} 2`,
		`vigil_events_total{kind="open"} 9`, `vigil_events_undecodable_total{kind="open"} 1`,
		`vigil_events_skipped_total{kind="fork"} 4`, `vigil_output_event_drops_total{kind="open"} 1`,
		`vigil_rule_matches_total{rule="Some rule"} 1`, "vigil_process_table_size 77",
		"vigil_output_queue_depth 3", "vigil_output_queue_bytes 300", "vigil_output_drops_total 1",
		"vigil_enrich_cache_hits_total 5", "vigil_enrich_cache_misses_total 6", "vigil_containerd_connected 1",
		`vigil_rule_reloads_total{result="error"} 1`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestStatusGroupEvictions checks the internal record and the metrics of
// threshold groups evicted by the caps.
func TestStatusGroupEvictions(t *testing.T) {
	st, _, _, fw := newStatusForTest(t)
	gs := st.pipeline.ruleset.Load().GroupStats()
	gs.RuleCap.Add(3)
	gs.TotalCap.Add(1)
	st.flush(false)
	want := map[string]map[string]uint64{ruleGroupEviction: {"rule_cap": 3, "total_cap": 1, "total": 4}}
	if got := fw.take(t); !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("records:\n got %v\nwant %v", got, want)
	}
	st.flush(false)
	if got := fw.take(t); len(got) != 0 {
		t.Errorf("records without new evictions: %v", got)
	}
	var b strings.Builder
	if err := metrics.Write(&b, st.collect()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`vigil_rule_group_evictions_total{cap="rule"} 3`, `vigil_rule_group_evictions_total{cap="total"} 1`, "vigil_rule_groups 0"} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}
