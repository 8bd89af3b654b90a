package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

// satOptions steer the saturation search.
type satOptions struct {
	start, factor, max float64
	// refine is the number of bisection steps between the last rate
	// without drops and the first with; past the number of rates shown
	// beyond the first with drops.
	refine, past int
	duration     time.Duration
	// workers is the loadgen's worker count in every step.
	workers int
}

// keptUp is the share of the target rate a step must reach to count as
// offered: below it the machine, not the tracer's buffers, is the limit.
const keptUp = 0.95

// satStep is one fixed-rate run.
type satStep struct {
	target float64
	s      sample
}

// dropped reports any loss: kernel ring buffer or output, reported or
// not: where the tracer's events are counted, fewer delivered than issued
// is a loss too.
func (st satStep) dropped() bool {
	o := st.s.obs
	return o.drops+o.outputDrops > 0 || (o.counted && o.delivered < uint64(st.s.res.Ops))
}

// short reports a step whose generator could not offer the target rate:
// it issued fewer operations than the rate asks for over the run time.
func (st satStep) short() bool {
	return float64(st.s.res.Ops) < keptUp*st.target*time.Duration(st.s.res.DurationNS).Seconds()
}

// satResult is the outcome of a search.
type satResult struct {
	steps []satStep
	// best is the highest achieved rate of a step without drops.
	best float64
	// firstDrop is the lowest target that dropped (0: none did).
	firstDrop float64
	// cpuBound is set when the generator could not offer a target even
	// though nothing dropped: the ceiling is CPU, not buffering.
	cpuBound bool
}

// saturate steps the fixed rate of loop l under t upward until drops
// appear, bisects toward the highest rate without drops, then runs a few
// rates past it to show how drops grow.
func (h *harness) saturate(ctx context.Context, t *tracer, l loadgen.Loop, o satOptions) (satResult, error) {
	return search(o, func(rate float64) (sample, error) {
		s, err := h.round(ctx, t, load{loop: l, duration: o.duration, rate: rate, workers: o.workers})
		if err != nil {
			return sample{}, fmt.Errorf("saturation step at %.0f/s: %w", rate, err)
		}
		h.log.Info("saturation step", "config", t.name, "loop", l, "target", rate, "achieved", int(s.res.Rate),
			"drops", s.obs.drops, "output_drops", s.obs.outputDrops, "ns_per_op", int(s.res.NSPerOp),
			"catch_up", s.settle.Round(time.Millisecond))
		return s, nil
	})
}

// search is the saturation search over run, which measures one rate: up by
// o.factor from o.start while nothing drops and the generator keeps up,
// o.refine bisections between the last clean rate and the first with
// drops, then o.past rates beyond that.
func search(o satOptions, run func(rate float64) (sample, error)) (satResult, error) {
	var res satResult
	// Steps run out of order once bisecting; the returned copy shares the
	// backing array this sorts, so it lists them by rate.
	defer func() {
		slices.SortFunc(res.steps, func(a, b satStep) int { return cmp.Compare(a.target, b.target) })
	}()
	step := func(rate float64) (satStep, error) {
		s, err := run(rate)
		if err != nil {
			return satStep{}, err
		}
		st := satStep{target: rate, s: s}
		res.steps = append(res.steps, st)
		if !st.dropped() {
			res.best = max(res.best, s.res.Rate)
		}
		return st, nil
	}
	good := 0.0
	for rate := o.start; rate <= o.max; rate *= o.factor {
		st, err := step(rate)
		if err != nil {
			return res, err
		}
		if st.dropped() {
			res.firstDrop = rate
			break
		}
		if st.short() {
			res.cpuBound = true
			break
		}
		good = rate
	}
	if res.firstDrop == 0 {
		return res, nil
	}
	lo, hi := good, res.firstDrop
	for range o.refine {
		mid := (lo + hi) / 2
		st, err := step(mid)
		if err != nil {
			return res, err
		}
		if st.dropped() {
			hi = mid
			res.firstDrop = mid
		} else {
			lo = mid
		}
	}
	rate := res.firstDrop
	for range o.past {
		rate *= o.factor
		if _, err := step(rate); err != nil {
			return res, err
		}
	}
	return res, nil
}

// writeSaturation prints the steps of a search and its conclusion, or the
// error that ended it.
func writeSaturation(w io.Writer, config string, l loadgen.Loop, o satOptions, r satResult, failure error) error {
	fmt.Fprintf(w, "\nsaturation: %s, %s loop at fixed rates (open loop), %d loadgen workers, %v per step\n", config, l, max(o.workers, 1), o.duration)
	fmt.Fprintln(w, "catch-up: time the tracer needed after the load to deliver its backlog (or fall quiet); drops: all the tracer lost,")
	fmt.Fprintln(w, "machine-wide; *: the loadgen could not offer the target (the CPUs, not the tracer's buffers, were the limit)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target/s\tachieved/s\tns/op\ttracer cpu\tcatch-up\tdelivered/issued\tdrops\tdrops/s")
	for _, st := range r.steps {
		s := summarize(l, config, []sample{st.s}, "")
		dropRate := "-"
		if s.dropsKnown && st.s.res.ElapsedNS > 0 {
			dropRate = fmt.Sprintf("%.0f", float64(s.drops+s.outputDrops)/time.Duration(st.s.res.ElapsedNS).Seconds())
		}
		achieved := formatRate(st.s.res.Rate)
		if st.short() {
			achieved += "*"
		}
		fmt.Fprintf(tw, "%.0f\t%s\t%s\t%.1f%%\t%v\t%s\t%s\t%s\n", st.target, achieved, formatNS(s.nsPerOp),
			100*s.cpuShare, st.s.settle.Round(time.Millisecond), formatDelivered(s), formatDrops(s), dropRate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case failure != nil:
		fmt.Fprintf(w, "FAILED: the search stopped: %s\n", firstLine(failure.Error()))
	case r.firstDrop > 0:
		var at float64
		for _, st := range r.steps {
			if st.target == r.firstDrop {
				at = st.s.res.Rate
			}
		}
		fmt.Fprintf(w, "highest rate without drops: %s ops/s; first drops at a target of %s ops/s (%s achieved)\n",
			formatRate(r.best), formatRate(r.firstDrop), formatRate(at))
	case r.cpuBound:
		fmt.Fprintf(w, "no drops: the machine topped out at %s ops/s before any buffer overflowed\n", formatRate(r.best))
	default:
		fmt.Fprintf(w, "no drops up to %s ops/s (raise -saturate-max)\n", formatRate(r.best))
	}
	return nil
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', 0, 64) }
