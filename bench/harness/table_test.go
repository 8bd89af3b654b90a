package main

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

func TestWriteTable(t *testing.T) {
	sums := []summary{
		{loop: loadgen.LoopOpen, config: "none", rounds: 3, total: 3, nsPerOp: 1156.8, spread: 0.021, ratio: 1, opCPU: 1250, cpuRatio: 1},
		{loop: loadgen.LoopOpen, config: "floor-ringbuf", rounds: 3, total: 5, nsPerOp: 1431.2, spread: 0.05, ratio: 1.2372,
			traced: true, cpuShare: 0.012, tracerPerOp: 9.6, opCPU: 1400, cpuRatio: 1.12, peakRSS: 18 << 20, issued: 3000000, delivered: 3000000,
			counted: true, dropsKnown: true},
		{loop: loadgen.LoopOpen, config: "vigil", rounds: 3, nsPerOp: 1500, ratio: 1.3, traced: true,
			cpuShare: 0.5, tracerPerOp: 310, opCPU: 1450, cpuRatio: 1.16, peakRSS: 40 << 20, issued: 10, dropsKnown: true, drops: 7, outputDrops: 2, alerts: 3},
		{loop: loadgen.LoopOpen, config: "bpftrace", rounds: 0, failure: "bpftrace exited (exit status 1): boom"},
		{loop: loadgen.LoopExec, config: "opensnoop", rounds: 2, nsPerOp: 55.25, traced: true, peakRSS: 1 << 20},
	}
	var b strings.Builder
	if err := writeTable(&b, sums); err != nil {
		t.Fatal(err)
	}
	want := `loop  config         rounds  ns/op   spread  ratio  cpu/op  cpu ratio  tracer cpu  tracer ns/op  peak rss  delivered/issued          drops   alerts
open  none           3       1157    2.1%    1.00x  1250    1.00x      -           -             -         -                         -       -
open  floor-ringbuf  3/5     1431    5.0%    1.24x  1400    1.12x      1.2%        9.6           18.0MiB   1.0000 (3000000/3000000)  0       -
open  vigil          3       1500    0.0%    1.30x  1450    1.16x      50.0%       310           40.0MiB   -                         7+2out  3
open  bpftrace       0       FAILED  -       -      -       -          -           -             -         -                         -       -
exec  opensnoop      2       55.2    0.0%    -      0.0     -          0.0%        0.0           1.0MiB    -                         ?       -
FAILED open/bpftrace: bpftrace exited (exit status 1): boom
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteSaturation(t *testing.T) {
	step := func(target, rate float64, drops uint64) satStep {
		r := res(uint64(rate), 2000)
		r.Rate = rate
		r.ElapsedNS = 1e9
		r.DurationNS = 1e9
		return satStep{target: target, s: sample{res: r, traced: true, obs: observed{drops: drops, dropsKnown: true}}}
	}
	r := satResult{
		steps:     []satStep{step(25000, 25000, 0), step(50000, 49900, 0), step(100000, 99000, 990), step(200000, 120000, 5)},
		best:      49900,
		firstDrop: 100000,
	}
	var b strings.Builder
	if err := writeSaturation(&b, "vigil", loadgen.LoopOpen, satOptions{duration: 1e9}, r, nil); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"saturation: vigil, open loop at fixed rates (open loop), 1 loadgen workers, 1s per step",
		"100000    99000       2000   0.0%        0s        -                 990    990",
		"200000    120000*     2000   0.0%        0s        -                 5      5",
		"highest rate without drops: 49900 ops/s; first drops at a target of 100000 ops/s (99000 achieved)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("saturation output lacks %q:\n%s", want, got)
		}
	}
	b.Reset()
	if err := writeSaturation(&b, "vigil", loadgen.LoopOpen, satOptions{duration: 1e9}, r, errors.New("vigil exited\nmore")); err != nil {
		t.Fatal(err)
	}
	if want := "FAILED: the search stopped: vigil exited\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("failed search ends %q, want %q", b.String(), want)
	}
}

// fakeTracer drops above capacity and the generator tops out at ceiling.
func fakeTracer(capacity, ceiling float64, ran *[]float64) func(float64) (sample, error) {
	return func(rate float64) (sample, error) {
		*ran = append(*ran, rate)
		achieved := min(rate, ceiling)
		r := res(uint64(achieved), 1000)
		r.Rate = achieved
		r.DurationNS = int64(time.Second)
		var drops uint64
		if achieved > capacity {
			drops = uint64(achieved - capacity)
		}
		return sample{res: r, traced: true, obs: observed{drops: drops, dropsKnown: true}}, nil
	}
}

func TestSearch(t *testing.T) {
	o := satOptions{start: 25000, factor: 2, max: 1e6, refine: 3, past: 2}
	var ran []float64
	r, err := search(o, fakeTracer(150000, 1e9, &ran))
	if err != nil {
		t.Fatal(err)
	}
	// Up: 25k, 50k, 100k, 200k (drops); bisect 150k (clean), 175k (drops),
	// 162.5k (drops); past: 325k, 650k.
	want := []float64{25000, 50000, 100000, 200000, 150000, 175000, 162500, 325000, 650000}
	if !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
	if r.best != 150000 || r.firstDrop != 162500 || r.cpuBound {
		t.Errorf("best %v, first drop %v, cpu bound %v", r.best, r.firstDrop, r.cpuBound)
	}
	if !slices.IsSortedFunc(r.steps, func(a, b satStep) int { return cmp.Compare(a.target, b.target) }) {
		t.Error("steps not sorted by rate")
	}

	// A generator that cannot offer the rate ends the search without drops.
	ran = nil
	r, err = search(o, fakeTracer(1e9, 80000, &ran))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []float64{25000, 50000, 100000}) || !r.cpuBound || r.best != 80000 || r.firstDrop != 0 {
		t.Errorf("cpu-bound search: ran %v, result %+v", ran, r)
	}
}

// A counted step that delivered fewer events than it issued lost some,
// whether or not the tracer reported the loss.
func TestSatStepDropped(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  observed
		want bool
	}{
		{"clean", observed{counted: true, delivered: 1000}, false},
		{"reported", observed{counted: true, delivered: 1000, outputDrops: 3}, true},
		{"unreported", observed{counted: true, delivered: 990}, true},
		{"not counted", observed{}, false},
	} {
		st := satStep{target: 500, s: sample{res: loadgen.Result{Ops: 1000}, obs: tc.obs}}
		if got := st.dropped(); got != tc.want {
			t.Errorf("%s: dropped() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
