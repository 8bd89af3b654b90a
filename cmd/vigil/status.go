package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/metrics"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/sensor"
)

// Names of the internal records (source "internal").
const (
	ruleEventDrop     = "vigil internal: event drop"
	ruleDecodeFailure = "vigil internal: decode failure"
	ruleOutputDrop    = "vigil internal: output drop"
	ruleEnrichFailure = "vigil internal: enrichment failure"
	ruleTampering     = "vigil internal: tampering"
	ruleUncleanStop   = "vigil internal: unclean stop"
	ruleGroupEviction = "vigil internal: rule state eviction"
)

// enrichReportInterval spaces enrichment failure records: containerd being
// away loses no event (events keep the container id), and while it stays
// away every reconnection attempt fails again.
const enrichReportInterval = time.Minute

// sensorStats and enricherStats are what status reads of the sensor and the
// enricher.
type (
	sensorStats   interface{ Stats() sensor.Stats }
	enricherStats interface{ Stats() enrich.Stats }
)

// recordWriter is what status needs of the outputs: where internal
// records go, and the counters of every output added up.
type recordWriter interface {
	Buffer() []byte
	SubmitUrgent(b []byte) bool
	Stats() output.Stats
	Err() error
}

// verifier is a sensor that checks its kernel state against its own copy
// (sensor.Sensor.Verify).
type verifier interface{ Verify() []sensor.Tampering }

// sinkStats gives each output's own counters.
type sinkStats interface{ Sinks() []sink.Stats }

// status turns the counters of every stage into internal records (when
// something was lost) and metrics.
type status struct {
	sensor   sensorStats
	enricher enricherStats
	writer   recordWriter
	// sinks, when set, breaks the output counters down by output.
	sinks    sinkStats
	pipeline *pipeline
	enc      *output.Encoder
	logger   *slog.Logger
	runErr   atomic.Pointer[error]
	reloads  struct{ ok, failed atomic.Uint64 }
	// tampered counts the differences Verify found in the kernel state.
	tampered atomic.Uint64

	mu   sync.Mutex // guards last and lastEnrich, against report and the final flush
	last lossCounts
	// lastEnrich is when the last enrichment failure record was emitted.
	lastEnrich time.Time
}

// lossCounts are the counters that must be reported when they grow.
type lossCounts struct {
	kernel       [event.NumKinds]uint64
	decode       [sensor.NumDecodeReasons]uint64
	decodeKind   [event.NumKinds]uint64
	output       uint64
	outputKind   [event.NumKinds]uint64
	outputAlerts uint64
	enrich       uint64
	enrichQueue  uint64
	sinks        []sinkCounts
	// groupsRule and groupsTotal are threshold and sequence groups
	// evicted by the per-rule and the total cap.
	groupsRule, groupsTotal uint64
}

// sinkCounts are one output's counters.
type sinkCounts struct {
	name                  string
	sent, dropped, failed uint64
	queued                int
	lastErr               error
}

// find returns the counters of the output named name, zero when there was
// none (a reload added it).
func find(cs []sinkCounts, name string) sinkCounts {
	for _, c := range cs {
		if c.name == name {
			return c
		}
	}
	return sinkCounts{}
}

func (st *status) current() lossCounts {
	ss := st.sensor.Stats()
	es := st.enricher.Stats()
	var c lossCounts
	for k := range ss.Kinds {
		c.kernel[k] = ss.Kinds[k].Dropped
		c.decodeKind[k] = ss.Kinds[k].Failed
		c.outputKind[k] = st.pipeline.eventDrops[k].Load()
	}
	c.decode = ss.DecodeErrors
	c.output = st.writer.Stats().Dropped
	c.outputAlerts = st.pipeline.alertDrops.Load()
	c.enrich = es.Failures
	c.enrichQueue = es.Dropped
	if gs := st.pipeline.ruleset.Load().GroupStats(); gs != nil {
		c.groupsRule, c.groupsTotal = gs.RuleCap.Load(), gs.TotalCap.Load()
	}
	if st.sinks != nil {
		for _, k := range st.sinks.Sinks() {
			c.sinks = append(c.sinks, sinkCounts{name: k.Name, sent: k.Written, dropped: k.Dropped, failed: k.Failed,
				queued: k.Queued, lastErr: k.LastErr})
		}
	}
	return c
}

// report checks for new losses every interval until ctx is done, emitting
// at most one record of each kind per interval.
func (st *status) report(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st.flush(false)
		}
	}
}

// since is the growth of a counter; a counter never goes backwards, and if
// one did the record would rather say nothing than a wrapped number.
func since(cur, prev uint64) uint64 {
	if cur < prev {
		return 0
	}
	return cur - prev
}

// kindCounts builds the output_fields of a record: every kind whose counter
// grew, by name, then extra named counts, then "total". It returns nil when
// nothing grew.
func kindCounts(cur, prev *[event.NumKinds]uint64, extra ...output.Count) []output.Count {
	var out []output.Count
	var total uint64
	for k := range cur {
		if d := since(cur[k], prev[k]); d > 0 {
			out = append(out, output.Count{Name: event.Kind(k).String(), Value: d})
			total += d
		}
	}
	for _, c := range extra {
		if c.Value > 0 {
			out = append(out, c)
			total += c.Value
		}
	}
	if total == 0 {
		return nil
	}
	return append(out, output.Count{Name: "total", Value: total})
}

// flush emits internal records for whatever was lost since the last call;
// final flushes enrichment failures whatever the time since the last.
func (st *status) flush(final bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	wall := time.Now()
	now := wall.UnixNano()
	if !final {
		st.verify(now)
	}
	cur := st.current()
	last := &st.last

	if c := kindCounts(&cur.kernel, &last.kernel); c != nil {
		st.emit(now, ruleEventDrop, "Warning", "Kernel events dropped: ring buffer full", c)
		st.logger.Warn("kernel events dropped", "count", c[len(c)-1].Value)
	}

	var reasons []output.Count
	for r := 1; r < len(cur.decode); r++ {
		if d := since(cur.decode[r], last.decode[r]); d > 0 {
			reasons = append(reasons, output.Count{Name: sensor.DecodeReason(r).String(), Value: d})
		}
	}
	if len(reasons) > 0 {
		// The per-kind counts (the record type the header named; "unknown"
		// when it named none) add up to the total, as do the reasons.
		c := append(reasons, kindCounts(&cur.decodeKind, &last.decodeKind)...)
		st.emit(now, ruleDecodeFailure, "Warning", "Kernel records that could not be decoded", c)
		st.logger.Warn("kernel records could not be decoded", "count", c[len(c)-1].Value)
	}

	total := since(cur.output, last.output)
	bySink, failed := st.sinkLosses(cur.sinks, last.sinks)
	if total > 0 || failed > 0 {
		alerts := since(cur.outputAlerts, last.outputAlerts)
		var events uint64
		for k := range cur.outputKind {
			events += since(cur.outputKind[k], last.outputKind[k])
		}
		// What is neither an event nor an alert is an internal record
		// refused by its own, small queue.
		other := since(total, events+alerts)
		c := kindCounts(&cur.outputKind, &last.outputKind,
			output.Count{Name: "alert", Value: alerts}, output.Count{Name: "internal", Value: other})
		st.emit(now, ruleOutputDrop, "Warning", "Records lost: an output did not keep up or failed", append(c, bySink...))
		if total > 0 {
			st.logger.Warn("output records dropped", "count", total)
		}
	}

	if perRule, total := since(cur.groupsRule, last.groupsRule), since(cur.groupsTotal, last.groupsTotal); perRule+total > 0 {
		st.emit(now, ruleGroupEviction, "Warning",
			"Threshold or sequence state evicted while its window was open: a rule or all rules held as many groups as they may (rule_groups_per_rule, rule_groups)",
			[]output.Count{{Name: "rule_cap", Value: perRule}, {Name: "total_cap", Value: total}, {Name: "total", Value: perRule + total}})
		st.logger.Warn("threshold or sequence groups evicted", "count", perRule+total)
	}

	failures, queue := since(cur.enrich, last.enrich), since(cur.enrichQueue, last.enrichQueue)
	if (failures > 0 || queue > 0) && (final || st.lastEnrich.IsZero() || wall.Sub(st.lastEnrich) >= enrichReportInterval) {
		connected := uint64(0)
		if st.enricher.Stats().Connected {
			connected = 1
		}
		st.emit(now, ruleEnrichFailure, "Notice",
			"Container metadata lookups failed (containerd unreachable or cgroup unresolved); events still carry the container id",
			[]output.Count{{Name: "failures", Value: failures}, {Name: "queue_full", Value: queue}, {Name: "containerd_connected", Value: connected}})
		st.lastEnrich = wall
	} else {
		// Not reported yet: keep counting from the last record.
		cur.enrich, cur.enrichQueue = last.enrich, last.enrichQueue
	}
	st.last = cur
}

// sinkLosses breaks an output drop record down by output: for each that
// dropped or failed records since the last report, its records sent,
// dropped and failed since then and its queue now (named
// "<output>.sent", ...). It logs why an output fails, and returns the
// failures of all outputs.
func (st *status) sinkLosses(cur, last []sinkCounts) ([]output.Count, uint64) {
	var out []output.Count
	var failures uint64
	for _, c := range cur {
		prev := find(last, c.name)
		dropped, failed := since(c.dropped, prev.dropped), since(c.failed, prev.failed)
		if dropped == 0 && failed == 0 {
			continue
		}
		failures += failed
		out = append(out,
			output.Count{Name: c.name + ".sent", Value: since(c.sent, prev.sent)},
			output.Count{Name: c.name + ".dropped", Value: dropped},
			output.Count{Name: c.name + ".failed", Value: failed},
			output.Count{Name: c.name + ".queue_depth", Value: uint64(c.queued)})
		if failed > 0 {
			st.logger.Warn("output failing", "output", c.name, "failed", failed, "err", c.lastErr)
		}
	}
	return out, failures
}

// verify checks the sensor's kernel state, which the sensor restores, and
// reports every difference at once: another root process wrote vigil's
// maps (switched a kind off, emptied a filter) or its counters (hid drops).
func (st *status) verify(now int64) {
	v, ok := st.sensor.(verifier)
	if !ok {
		return
	}
	found := v.Verify()
	if len(found) == 0 {
		return
	}
	st.tampered.Add(uint64(len(found)))
	counts := make([]output.Count, 0, len(found))
	for _, t := range found {
		counts = append(counts, output.Count{Name: t.What + "." + t.Kind.String(), Value: t.Got})
		st.logger.Error("vigil's kernel state was changed by another process", "state", t.What, "kind", t.Kind.String(),
			"want", t.Want, "got", t.Got, "restored", t.Restored)
	}
	st.emit(now, ruleTampering, "Critical",
		"vigil's kernel state (event switches, filters or loss counters) was changed by another process; vigil restored it", counts)
}

func (st *status) emit(ns int64, rule, priority, msg string, counts []output.Count) {
	st.writer.SubmitUrgent(st.enc.AppendInternal(st.writer.Buffer(), ns, rule, priority, msg, counts))
}

// logTotals logs every stage's final counters, per kind: for each kind,
// emitted + dropped is what the kernel sent on (filtered counts the opens
// the rules' open filter left in the kernel); emitted = delivered + skipped
// + undecodable once the ring is drained; delivered events either reached
// the output or were counted in output_dropped (with --events).
func (st *status) logTotals() {
	ss := st.sensor.Stats()
	ws := st.writer.Stats()
	var attrs []any
	for k := 1; k < event.NumKinds; k++ {
		ks := ss.Kinds[k]
		attrs = append(attrs, slog.Group(event.Kind(k).String(),
			"emitted", ks.Emitted, "dropped", ks.Dropped, "filtered", ks.Filtered, "delivered", ks.Delivered, "skipped", ks.Skipped,
			"undecodable", ks.Failed, "output_dropped", st.pipeline.eventDrops[k].Load()))
	}
	attrs = append(attrs, "undecodable", ss.Kinds[event.KindUnknown].Failed,
		"records_written", ws.Written, "records_dropped", ws.Dropped, "records_failed", ws.Failed,
		"alerts_dropped", st.pipeline.alertDrops.Load())
	if st.sinks != nil {
		for _, k := range st.sinks.Sinks() {
			attrs = append(attrs, slog.Group("output_"+k.Name, "sent", k.Written, "dropped", k.Dropped, "failed", k.Failed))
		}
	}
	st.logger.Info("final counts", attrs...)
}

// healthy reports an error once events no longer flow.
func (st *status) healthy() error {
	if p := st.runErr.Load(); p != nil {
		if *p != nil {
			return *p
		}
		return errors.New("sensor stopped")
	}
	if err := st.writer.Err(); err != nil {
		return err
	}
	return nil
}

// collect snapshots every stage's counters as metric families.
func (st *status) collect() []metrics.Family {
	ss := st.sensor.Stats()
	es := st.enricher.Stats()
	ws := st.writer.Stats()
	kindFamily := func(name, help string, v func(sensor.KindStats) uint64) metrics.Family {
		f := metrics.Family{Name: name, Help: help, Kind: "counter"}
		for k := 1; k < event.NumKinds; k++ {
			f.Samples = append(f.Samples, metrics.Sample{
				Labels: []metrics.Label{{Name: "kind", Value: event.Kind(k).String()}}, Value: float64(v(ss.Kinds[k]))})
		}
		return f
	}
	decode := metrics.Family{Name: "vigil_decode_errors_total", Help: "Kernel records that could not be decoded, by reason.", Kind: "counter"}
	for r := 1; r < len(ss.DecodeErrors); r++ {
		decode.Samples = append(decode.Samples, metrics.Sample{
			Labels: []metrics.Label{{Name: "reason", Value: sensor.DecodeReason(r).String()}}, Value: float64(ss.DecodeErrors[r])})
	}
	outputKinds := metrics.Family{Name: "vigil_output_event_drops_total", Help: "Event records (--events) dropped because an output did not keep up, by kind.", Kind: "counter"}
	for k := 1; k < event.NumKinds; k++ {
		outputKinds.Samples = append(outputKinds.Samples, metrics.Sample{
			Labels: []metrics.Label{{Name: "kind", Value: event.Kind(k).String()}}, Value: float64(st.pipeline.eventDrops[k].Load())})
	}
	reloads := metrics.Family{Name: "vigil_rule_reloads_total", Help: "Rule reloads on SIGHUP, by result.", Kind: "counter", Samples: []metrics.Sample{
		{Labels: []metrics.Label{{Name: "result", Value: "ok"}}, Value: float64(st.reloads.ok.Load())},
		{Labels: []metrics.Label{{Name: "result", Value: "error"}}, Value: float64(st.reloads.failed.Load())},
	}}
	matches := metrics.Family{Name: "vigil_rule_matches_total", Help: "Alerts raised, by rule.", Kind: "counter"}
	for name, n := range st.pipeline.matches.snapshot() {
		matches.Samples = append(matches.Samples, metrics.Sample{Labels: []metrics.Label{{Name: "rule", Value: name}}, Value: float64(n)})
	}
	groupEvictions := metrics.Family{Name: "vigil_rule_group_evictions_total", Help: "Threshold groups and sequences evicted while their window was open, by the cap that was full.", Kind: "counter"}
	if gs := st.pipeline.ruleset.Load().GroupStats(); gs != nil {
		groupEvictions.Samples = []metrics.Sample{
			{Labels: []metrics.Label{{Name: "cap", Value: "rule"}}, Value: float64(gs.RuleCap.Load())},
			{Labels: []metrics.Label{{Name: "cap", Value: "total"}}, Value: float64(gs.TotalCap.Load())},
		}
	}
	gauge := func(name, help string, v float64) metrics.Family {
		return metrics.Family{Name: name, Help: help, Kind: "gauge", Samples: []metrics.Sample{{Value: v}}}
	}
	counter := func(name, help string, v uint64) metrics.Family {
		return metrics.Family{Name: name, Help: help, Kind: "counter", Samples: []metrics.Sample{{Value: float64(v)}}}
	}
	connected := 0.0
	if es.Connected {
		connected = 1
	}
	fams := append(st.sinkFamilies(), st.pipeline.responseFamilies()...)
	return append(fams, []metrics.Family{
		kindFamily("vigil_kernel_events_total", "Records the kernel wrote to the ring buffer, by kind.", func(k sensor.KindStats) uint64 { return k.Emitted }),
		kindFamily("vigil_kernel_drops_total", "Records the kernel lost because the ring buffer was full, by kind.", func(k sensor.KindStats) uint64 { return k.Dropped }),
		kindFamily("vigil_kernel_filtered_total", "Events the kernel left out because no loaded rule can match them (the open filter), by kind.", func(k sensor.KindStats) uint64 { return k.Filtered }),
		kindFamily("vigil_events_total", "Events delivered to rules and output, by kind.", func(k sensor.KindStats) uint64 { return k.Delivered }),
		kindFamily("vigil_events_skipped_total", "Records read for the process table only: no rule or output needs their kind.", func(k sensor.KindStats) uint64 { return k.Skipped }),
		kindFamily("vigil_events_undecodable_total", "Kernel records that could not be decoded, by the kind their header named.", func(k sensor.KindStats) uint64 { return k.Failed }),
		outputKinds, decode, matches,
		gauge("vigil_process_table_size", "Processes in the process table.", float64(ss.Processes)),
		counter("vigil_process_table_evictions_total", "Live processes evicted because the table was full.", ss.ProcessesEvicted),
		counter("vigil_tampering_total", "Differences found between vigil's kernel state and its own copy (each restored and reported).", st.tampered.Load()),
		counter("vigil_process_table_misses_total", "Events from processes the table did not know.", ss.ProcessMisses),
		gauge("vigil_output_queue_depth", "Records waiting in the outputs' queues.", float64(ws.Queued)),
		gauge("vigil_output_queue_bytes", "Bytes of records waiting in the outputs' queues.", float64(ws.QueuedBytes)),
		counter("vigil_output_records_total", "Records delivered, all outputs together.", ws.Written),
		counter("vigil_output_drops_total", "Records dropped because an output's queue was full (or stdout failed), all outputs together.", ws.Dropped),
		counter("vigil_output_failures_total", "Records an output could not deliver (after its retries), all outputs together.", ws.Failed),
		counter("vigil_output_alert_drops_total", "Alerts dropped because an output did not keep up, once per output.", st.pipeline.alertDrops.Load()),
		gauge("vigil_rules_active", "Rules in the running rule set.", float64(len(st.pipeline.ruleset.Load().Active()))),
		gauge("vigil_rule_groups", "Threshold groups and sequences in progress that the rules keep.", float64(st.pipeline.ruleset.Load().Groups())),
		groupEvictions,
		reloads,
		counter("vigil_enrich_cache_hits_total", "Container lookups answered from the cache.", es.Hits),
		counter("vigil_enrich_cache_misses_total", "Container lookups for cgroups not yet resolved.", es.Misses),
		counter("vigil_enrich_failures_total", "Container resolution and containerd failures.", es.Failures),
		counter("vigil_enrich_queue_drops_total", "Container lookups not queued for resolution because the queue was full.", es.Dropped),
		gauge("vigil_enrich_containers", "Containers known from containerd.", float64(es.Containers)),
		gauge("vigil_containerd_connected", "1 while the containerd session is up.", connected),
	}...)
}

// sinkFamilies are each output's counters, labelled by its name and type.
func (st *status) sinkFamilies() []metrics.Family {
	if st.sinks == nil {
		return nil
	}
	fams := []struct {
		name, help, kind string
		v                func(sink.Stats) float64
	}{
		{"vigil_sink_records_total", "Records an output delivered.", "counter", func(k sink.Stats) float64 { return float64(k.Written) }},
		{"vigil_sink_drops_total", "Records an output's queue refused because it was full.", "counter", func(k sink.Stats) float64 { return float64(k.Dropped) }},
		{"vigil_sink_failures_total", "Records an output could not deliver, after its retries.", "counter", func(k sink.Stats) float64 { return float64(k.Failed) }},
		{"vigil_sink_queue_depth", "Records waiting in an output's queue.", "gauge", func(k sink.Stats) float64 { return float64(k.Queued) }},
		{"vigil_sink_queue_bytes", "Bytes of records waiting in an output's queue.", "gauge", func(k sink.Stats) float64 { return float64(k.QueuedBytes) }},
		{"vigil_sink_restarts_total", "Reconnections (syslog), program restarts and file reopenings of an output.", "counter", func(k sink.Stats) float64 { return float64(k.Restarts) }},
	}
	sinks := st.sinks.Sinks()
	out := make([]metrics.Family, len(fams))
	for i, f := range fams {
		out[i] = metrics.Family{Name: f.name, Help: f.help, Kind: f.kind}
		for _, k := range sinks {
			out[i].Samples = append(out[i].Samples, metrics.Sample{
				Labels: []metrics.Label{{Name: "sink", Value: k.Name}, {Name: "type", Value: k.Type}}, Value: f.v(k)})
		}
	}
	return out
}
