package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1, 1, 100}, 1},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("median reordered its input: %v", tc.in)
			}
		}
	}
}

func TestSpreadAndRatio(t *testing.T) {
	if got := spread([]float64{90, 100, 110}); math.Abs(got-0.2) > 1e-9 {
		t.Errorf("spread = %v, want 0.2", got)
	}
	if got := spread(nil); got != 0 {
		t.Errorf("spread(nil) = %v", got)
	}
	if got := ratio(1300, 1000); got != 1.3 {
		t.Errorf("ratio = %v, want 1.3", got)
	}
	if got := ratio(1300, 0); got != 0 {
		t.Errorf("ratio without baseline = %v, want 0", got)
	}
}

func res(ops uint64, nsPerOp float64) loadgen.Result {
	return loadgen.Result{Loop: loadgen.LoopOpen, PID: 1, Ops: ops, NSPerOp: nsPerOp,
		ElapsedNS: int64(float64(ops) * nsPerOp), BusyNS: int64(float64(ops) * nsPerOp),
		CPUNS: int64(float64(ops) * nsPerOp * 0.9)}
}

func TestSummarize(t *testing.T) {
	samples := []sample{
		{res: res(1000, 1200), traced: true, tracerCPU: 100 * time.Microsecond, tracerHWM: 10 << 20,
			obs: observed{delivered: 1000, counted: true, drops: 0, dropsKnown: true}},
		{res: res(900, 1300), traced: true, tracerCPU: 90 * time.Microsecond, tracerHWM: 12 << 20,
			obs: observed{delivered: 890, counted: true, drops: 10, dropsKnown: true, alerts: 2}},
		{res: res(1100, 1100), traced: true, tracerCPU: 0, tracerHWM: 11 << 20,
			obs: observed{delivered: 1100, counted: true, dropsKnown: true}},
	}
	s := summarize(loadgen.LoopOpen, "x", samples, "")
	if s.nsPerOp != 1200 || s.rounds != 3 {
		t.Errorf("nsPerOp, rounds = %v, %d; want 1200, 3", s.nsPerOp, s.rounds)
	}
	if math.Abs(s.spread-200.0/1200) > 1e-9 {
		t.Errorf("spread = %v", s.spread)
	}
	if s.peakRSS != 12<<20 || s.issued != 3000 || s.delivered != 2990 || s.drops != 10 || s.alerts != 2 {
		t.Errorf("totals = rss %d issued %d delivered %d drops %d alerts %d", s.peakRSS, s.issued, s.delivered, s.drops, s.alerts)
	}
	if !s.counted || !s.dropsKnown || !s.traced {
		t.Errorf("flags = counted %v dropsKnown %v traced %v", s.counted, s.dropsKnown, s.traced)
	}
	if math.Abs(s.opCPU-0.9*1200) > 1e-9 {
		t.Errorf("opCPU = %v, want %v", s.opCPU, 0.9*1200)
	}
	// CPU per op: 100ns, 100ns, 0ns -> median 100.
	if math.Abs(s.tracerPerOp-100) > 1e-9 {
		t.Errorf("tracerPerOp = %v, want 100", s.tracerPerOp)
	}

	// One round that could not count makes the total unknown.
	samples[1].obs.counted = false
	if s := summarize(loadgen.LoopOpen, "x", samples, ""); s.counted {
		t.Error("counted with an uncounted round")
	}
	if s := summarize(loadgen.LoopOpen, "x", nil, "boom"); s.counted || s.dropsKnown || s.failure != "boom" {
		t.Errorf("empty summary = %+v", s)
	}

	// Tainted rounds are left out while clean ones remain.
	samples = []sample{{res: res(10, 1000)}, {res: res(10, 5000), tainted: true}, {res: res(10, 1200)}}
	s = summarize(loadgen.LoopOpen, "none", samples, "")
	if s.rounds != 2 || s.total != 3 || s.nsPerOp != 1100 || s.issued != 20 || formatRounds(s) != "2/3" {
		t.Errorf("with a tainted round: rounds %d/%d ns/op %v issued %d", s.rounds, s.total, s.nsPerOp, s.issued)
	}
	for i := range samples {
		samples[i].tainted = true
	}
	s = summarize(loadgen.LoopOpen, "none", samples, "")
	if s.rounds != 3 || s.total != 3 || s.nsPerOp != 1200 || formatRounds(s) != "3" {
		t.Errorf("all tainted: rounds %d/%d ns/op %v", s.rounds, s.total, s.nsPerOp)
	}
}

func TestSetRatios(t *testing.T) {
	sums := []summary{
		{loop: loadgen.LoopOpen, config: "none", nsPerOp: 1000, opCPU: 800},
		{loop: loadgen.LoopOpen, config: "vigil", nsPerOp: 1300, opCPU: 1000},
		{loop: loadgen.LoopExec, config: "none", failure: "boom"},
		{loop: loadgen.LoopExec, config: "vigil", nsPerOp: 5000, opCPU: 4000},
	}
	setRatios(sums, "none")
	for i, want := range [][2]float64{{1, 1}, {1.3, 1.25}, {0, 0}, {0, 0}} {
		if sums[i].ratio != want[0] || sums[i].cpuRatio != want[1] {
			t.Errorf("%s/%s ratios = %v, %v; want %v", sums[i].loop, sums[i].config, sums[i].ratio, sums[i].cpuRatio, want)
		}
	}
}

func TestTaint(t *testing.T) {
	var tn taint
	tn.add(nil)
	if w := tn.warning(); w != "" {
		t.Errorf("clean run warns %q", w)
	}
	tn.add([]string{"sys_enter_openat", "sched_process_exec", "sys_enter_openat"})
	tn.add(nil)
	want := "WARNING: during 1 of 3 rounds BPF tracing programs of another process were loaded (sched_process_exec, sys_enter_openat):\n"
	if w := tn.warning(); !strings.HasPrefix(w, want) {
		t.Errorf("warning = %q, want prefix %q", w, want)
	}
}

// With no tracer of the harness running, whatever tracing programs are
// loaded belong to someone else; the listing itself must work as root.
func TestTracingPrograms(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := tracingPrograms(); err != nil {
		t.Fatal(err)
	}
}
