package main

import (
	"slices"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

// sample is one round of one configuration.
type sample struct {
	res loadgen.Result
	// traced is false for the no-tracer configuration.
	traced bool
	// tracerCPU is the tracer's user+system time over the loadgen's run.
	tracerCPU time.Duration
	// tracerHWM is the tracer's peak resident set (VmHWM) in bytes.
	tracerHWM uint64
	// attach, settle and detach are how long the tracer took to report
	// ready, to catch up after the load, and to exit once interrupted.
	attach, settle, detach time.Duration
	obs                    observed
	// tainted marks a round during which another process had BPF tracing
	// programs loaded.
	tainted bool
}

// observed is what a tracer's output said about the run.
type observed struct {
	// delivered counts events of the loop's operations attributed to the
	// loadgen; valid when counted.
	delivered uint64
	counted   bool
	// drops counts events the tracer reported lost before reaching it
	// (ring buffer full); valid when dropsKnown.
	drops      uint64
	dropsKnown bool
	// outputDrops counts records vigil lost writing its output.
	outputDrops uint64
	// alerts counts alert lines (vigil).
	alerts uint64
	// anomalies are reports the harness left out of the counts, such as
	// a drop counter that went backwards.
	anomalies []string
	// kernel are vigil's per-kind kernel counters over its run (nil for
	// other tracers).
	kernel kernelCounts
}

// summary condenses the rounds of one loop and configuration.
type summary struct {
	loop   loadgen.Loop
	config string
	// rounds counts the rounds the figures come from, of total: tainted
	// rounds are left out when the row has clean ones.
	rounds, total int
	// nsPerOp is the median over rounds; spread is (max-min)/median.
	nsPerOp, spread float64
	// ratio is nsPerOp over the no-tracer median of the same loop (0 when
	// there is none).
	ratio float64
	// opCPU is the median loadgen CPU time per operation, its children's
	// included, and cpuRatio its ratio to no tracer: unlike wall time it
	// leaves out the time the loop was preempted by other work.
	opCPU, cpuRatio float64
	// cpuShare is the median tracer CPU time per wall second of the run;
	// tracerPerOp the median tracer CPU nanoseconds per operation.
	cpuShare, tracerPerOp float64
	traced                bool
	peakRSS               uint64
	issued, delivered     uint64
	counted               bool
	drops, outputDrops    uint64
	dropsKnown            bool
	// anomalous is set when a round's output had anomalies.
	anomalous bool
	alerts    uint64
	// failure is the first error of a failed round; the row shows it.
	failure string
	// kernel sums the rounds' per-kind kernel counters (vigil).
	kernel kernelCounts
}

// median returns the median of xs (0 for none), leaving xs unchanged.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread returns (max-min)/median of xs: how far apart the rounds were.
func spread(xs []float64) float64 {
	m := median(xs)
	if m == 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / m
}

// ratio returns traced/baseline, or 0 when there is no baseline.
func ratio(traced, baseline float64) float64 {
	if baseline <= 0 {
		return 0
	}
	return traced / baseline
}

// summarize condenses samples of one loop and configuration; failure is
// the error of any failed round. Rounds tainted by another tracer are left
// out unless every round was.
func summarize(l loadgen.Loop, config string, samples []sample, failure string) summary {
	total := len(samples)
	if clean := slices.DeleteFunc(slices.Clone(samples), func(x sample) bool { return x.tainted }); len(clean) > 0 {
		samples = clean
	}
	s := summary{loop: l, config: config, rounds: len(samples), total: total, failure: failure,
		counted: len(samples) > 0, dropsKnown: len(samples) > 0}
	var ns, opCPU, share, perOp []float64
	for _, x := range samples {
		ns = append(ns, x.res.NSPerOp)
		opCPU = append(opCPU, float64(x.res.CPUNS)/float64(x.res.Ops))
		s.traced = x.traced
		if x.traced {
			share = append(share, float64(x.tracerCPU)/float64(x.res.ElapsedNS))
			perOp = append(perOp, float64(x.tracerCPU)/float64(x.res.Ops))
		}
		s.peakRSS = max(s.peakRSS, x.tracerHWM)
		s.issued += x.res.Ops
		s.delivered += x.obs.delivered
		s.counted = s.counted && x.obs.counted
		s.drops += x.obs.drops
		s.outputDrops += x.obs.outputDrops
		s.dropsKnown = s.dropsKnown && x.obs.dropsKnown
		s.alerts += x.obs.alerts
		s.anomalous = s.anomalous || len(x.obs.anomalies) > 0
		if x.obs.kernel != nil {
			if s.kernel == nil {
				s.kernel = kernelCounts{}
			}
			s.kernel.add(x.obs.kernel)
		}
	}
	s.nsPerOp = median(ns)
	s.spread = spread(ns)
	s.opCPU = median(opCPU)
	s.cpuShare = median(share)
	s.tracerPerOp = median(perOp)
	return s
}

// setRatios fills each summary's ratios from the baseline configuration's
// summary of the same loop.
func setRatios(sums []summary, baseline string) {
	base := map[loadgen.Loop]summary{}
	for _, s := range sums {
		if s.config == baseline && s.failure == "" {
			base[s.loop] = s
		}
	}
	for i := range sums {
		b := base[sums[i].loop]
		sums[i].ratio = ratio(sums[i].nsPerOp, b.nsPerOp)
		sums[i].cpuRatio = ratio(sums[i].opCPU, b.opCPU)
	}
}
