package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/dedup"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
)

// dedupPipeline is a pipeline of the default rules to a discarded stdout
// with cfg's dedup.
func dedupPipeline(t testing.TB, cfg dedup.Config) (*pipeline, *sink.Set) {
	t.Helper()
	enc := output.NewEncoder("t")
	set, err := sink.New(nil, sink.Deps{Encoder: enc, Stdout: io.Discard, Stderr: io.Discard,
		QueueDepth: 1024, QueueBytes: output.DefaultMaxQueueBytes, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Shutdown(context.Background()) })
	rs, _, err := rules.Load([]rules.Source{rules.Default()}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := newPipelineTo(nil, rs, false, set)
	if p.dedup, err = dedup.New(cfg, dedup.Deps{Encoder: enc, Out: set}); err != nil {
		t.Fatal(err)
	}
	return p, set
}

// An alert that dedup holds back costs no allocation, and every match is
// either written or counted.
func TestDedupPathAllocs(t *testing.T) {
	p, set := dedupPipeline(t, dedup.Config{Window: time.Hour})
	e := shadowEvent()
	p.handle(e)
	if n := testing.AllocsPerRun(100, func() { p.handle(e) }); n != 0 {
		t.Errorf("%v allocations per suppressed alert, want 0", n)
	}
	st := p.dedup.Stats()
	matches := p.matches.snapshot()["Read Shadow or Sudoers File"]
	if st.Written != 1 || st.Written+st.Suppressed != matches {
		t.Errorf("dedup %+v, %d matches", st, matches)
	}
	p.stopResponse(time.Second)
	if st := p.dedup.Stats(); st.Reported != st.Suppressed || st.Summaries != 1 || st.Groups != 0 {
		t.Errorf("after the final flush: %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for set.Stats().Written < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if w := set.Stats().Written; w != 2 {
		t.Errorf("%d records written, want the alert and the suppressed-alerts record", w)
	}
}

// BenchmarkAlertDeduplicated is the alert path of an alert dedup holds
// back: rules, output fields and the dedup key, no output. Compare with
// BenchmarkAlertStdout.
func BenchmarkAlertDeduplicated(b *testing.B) {
	p, _ := dedupPipeline(b, dedup.Config{Window: time.Hour})
	e := shadowEvent()
	p.handle(e)
	b.ReportAllocs()
	for b.Loop() {
		p.handle(e)
	}
}
