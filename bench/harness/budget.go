package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

// The per-loop budgets of DESIGN.md section 7 (open, exec, connect) and of
// issue 15 (fs, udp, tcp, dup2), judged on the cpu ratio: the loadgen's CPU
// time per operation traced over untraced, in the same run. It leaves out
// the time the loop was preempted, the steadier figure on a shared machine.

// loopBudget is one loop's budget.
type loopBudget struct {
	loop loadgen.Loop
	// vigil is the highest ratio for vigil with its default rules.
	vigil float64
	// floorMargin, when not 0, is how far vigil's ratio may be above the
	// ring-buffer floor's.
	floorMargin float64
	// falcoOver, when not 0, is how far the ratio with Falco's three
	// files may be above vigil's with its defaults.
	falcoOver float64
}

// falcoMax is the ratio every loop stays under with Falco's three files.
const falcoMax = 2.0

// falcoAllConfig is the configuration the Falco budgets judge.
const falcoAllConfig = "vigil-falco-all"

// budgets returns every loop's budget.
func budgets() []loopBudget {
	return []loopBudget{
		{loop: loadgen.LoopOpen, vigil: 1.4, floorMargin: 0.15, falcoOver: 0.1},
		{loop: loadgen.LoopExec, vigil: 1.1, falcoOver: 0.1},
		{loop: loadgen.LoopConnect, vigil: 1.3, falcoOver: 0.1},
		{loop: loadgen.LoopFS, vigil: 1.3},
		{loop: loadgen.LoopUDP, vigil: 1.2},
		{loop: loadgen.LoopTCP, vigil: 1.15},
		{loop: loadgen.LoopDup2, vigil: 1.2},
	}
}

// budgetCheck is one line of the budget table.
type budgetCheck struct {
	loop            loadgen.Loop
	check, measured string
	limit, floor    string
	// result is "ok" or "OVER".
	result string
}

// checkBudgets judges the rows of sums against the budgets of their loops.
func checkBudgets(sums []summary) []budgetCheck {
	row := func(l loadgen.Loop, config string) (summary, bool) {
		for _, s := range sums {
			if s.loop == l && s.config == config && s.failure == "" && s.cpuRatio > 0 {
				return s, true
			}
		}
		return summary{}, false
	}
	verdict := func(over bool) string {
		if over {
			return "OVER"
		}
		return "ok"
	}
	var out []budgetCheck
	for _, b := range budgets() {
		if _, ok := row(b.loop, "none"); !ok {
			continue // the loop did not run
		}
		floor := "-"
		fl, haveFloor := row(b.loop, "floor-ringbuf")
		if haveFloor {
			floor = formatRatio(fl.cpuRatio)
		}
		add := func(check, measured, limit string, over bool) {
			out = append(out, budgetCheck{loop: b.loop, check: check, measured: measured, limit: limit, floor: floor, result: verdict(over)})
		}
		// Checks whose configurations did not run are left out.
		v, haveVigil := row(b.loop, "vigil")
		if haveVigil {
			add("vigil, default rules", formatRatio(v.cpuRatio), "<= "+formatRatio(b.vigil), v.cpuRatio > b.vigil)
			if d := v.cpuRatio - fl.cpuRatio; b.floorMargin > 0 && haveFloor {
				add("vigil above floor-ringbuf", fmt.Sprintf("%+.2fx", d), fmt.Sprintf("<= %+.2fx", b.floorMargin), d > b.floorMargin)
			}
		}
		f, haveFalco := row(b.loop, falcoAllConfig)
		if !haveFalco {
			continue
		}
		if d := f.cpuRatio - v.cpuRatio; b.falcoOver > 0 && haveVigil {
			add(falcoAllConfig+" above vigil", fmt.Sprintf("%+.2fx", d), fmt.Sprintf("<= %+.2fx", b.falcoOver), d > b.falcoOver)
		}
		add(falcoAllConfig+", Falco's three files", formatRatio(f.cpuRatio), "< "+formatRatio(falcoMax), f.cpuRatio >= falcoMax)
	}
	return out
}

// writeBudgets prints the budget table.
func writeBudgets(w io.Writer, cs []budgetCheck) error {
	if len(cs) == 0 {
		return nil
	}
	if _, err := io.WriteString(w, "\nbudget: cpu ratio against no tracer in this run (floor: floor-ringbuf's, for comparison); OVER: above the budget\n"); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "loop\tcheck\tmeasured\tbudget\tfloor\tresult")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.loop, c.check, c.measured, c.limit, c.floor, c.result)
	}
	return tw.Flush()
}
