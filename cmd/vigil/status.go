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
	"github.com/vigil-sensor/vigil/sensor"
)

// Names of the internal records (source "internal").
const (
	ruleEventDrop     = "vigil internal: event drop"
	ruleDecodeFailure = "vigil internal: decode failure"
	ruleOutputDrop    = "vigil internal: output drop"
)

// status turns the counters of every stage into internal records (when
// something was lost) and metrics.
type status struct {
	sensor   *sensor.Sensor
	enricher *enrich.Enricher
	writer   *output.Writer
	pipeline *pipeline
	enc      *output.Encoder
	logger   *slog.Logger
	runErr   atomic.Pointer[error]

	mu   sync.Mutex // guards last, against report and the final flush
	last lossCounts
}

// lossCounts are the counters that must be reported when they grow.
type lossCounts struct {
	kernel [event.NumKinds]uint64
	decode []uint64
	output uint64
}

func (st *status) current() lossCounts {
	ss := st.sensor.Stats()
	var c lossCounts
	for k := range ss.Kinds {
		c.kernel[k] = ss.Kinds[k].Dropped
	}
	c.decode = append(c.decode, ss.DecodeErrors[:]...)
	c.output = st.writer.Stats().Dropped
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
			st.flush()
		}
	}
}

// flush emits internal records for whatever was lost since the last call.
func (st *status) flush() {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := time.Now().UnixNano()
	cur := st.current()
	var kernel []output.Count
	var total uint64
	for k := range cur.kernel {
		if d := cur.kernel[k] - st.last.kernel[k]; d > 0 {
			kernel = append(kernel, output.Count{Name: event.Kind(k).String(), Value: d})
			total += d
		}
	}
	if len(kernel) > 0 {
		kernel = append(kernel, output.Count{Name: "total", Value: total})
		st.emit(now, ruleEventDrop, "Kernel events dropped: ring buffer full", kernel)
		st.logger.Warn("kernel events dropped", "count", total)
	}
	var decode []output.Count
	for r := range cur.decode {
		var prev uint64
		if r < len(st.last.decode) {
			prev = st.last.decode[r]
		}
		if d := cur.decode[r] - prev; d > 0 {
			decode = append(decode, output.Count{Name: sensor.DecodeReason(r).String(), Value: d})
		}
	}
	if len(decode) > 0 {
		st.emit(now, ruleDecodeFailure, "Kernel records that could not be decoded", decode)
	}
	if d := cur.output - st.last.output; d > 0 {
		st.emit(now, ruleOutputDrop, "Records dropped: stdout is not keeping up",
			[]output.Count{{Name: "records", Value: d}})
		st.logger.Warn("output records dropped", "count", d)
	}
	st.last = cur
}

func (st *status) emit(ns int64, rule, msg string, counts []output.Count) {
	st.writer.Submit(st.enc.AppendInternal(st.writer.Buffer(), ns, rule, "Warning", msg, counts))
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
	matches := metrics.Family{Name: "vigil_rule_matches_total", Help: "Alerts raised, by rule.", Kind: "counter"}
	for name, n := range st.pipeline.matches.snapshot() {
		matches.Samples = append(matches.Samples, metrics.Sample{Labels: []metrics.Label{{Name: "rule", Value: name}}, Value: float64(n)})
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
	return []metrics.Family{
		kindFamily("vigil_kernel_events_total", "Records the kernel wrote to the ring buffer, by kind.", func(k sensor.KindStats) uint64 { return k.Emitted }),
		kindFamily("vigil_kernel_drops_total", "Records the kernel lost because the ring buffer was full, by kind.", func(k sensor.KindStats) uint64 { return k.Dropped }),
		kindFamily("vigil_events_total", "Events delivered to rules and output, by kind.", func(k sensor.KindStats) uint64 { return k.Delivered }),
		decode, matches,
		gauge("vigil_process_table_size", "Processes in the process table.", float64(ss.Processes)),
		counter("vigil_process_table_evictions_total", "Live processes evicted because the table was full.", ss.ProcessesEvicted),
		counter("vigil_process_table_misses_total", "Events from processes the table did not know.", ss.ProcessMisses),
		gauge("vigil_output_queue_depth", "Records waiting to be written to stdout.", float64(ws.Queued)),
		counter("vigil_output_records_total", "Records written to stdout.", ws.Written),
		counter("vigil_output_drops_total", "Records dropped because stdout did not keep up.", ws.Dropped),
		counter("vigil_enrich_cache_hits_total", "Container lookups answered from the cache.", es.Hits),
		counter("vigil_enrich_cache_misses_total", "Container lookups for cgroups not yet resolved.", es.Misses),
		counter("vigil_enrich_failures_total", "Container resolution and containerd failures.", es.Failures),
		gauge("vigil_enrich_containers", "Containers known from containerd.", float64(es.Containers)),
		gauge("vigil_containerd_connected", "1 while the containerd session is up.", connected),
	}
}
