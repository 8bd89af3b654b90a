package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// writeTable prints one row per loop and configuration, then the errors
// of failed rows.
func writeTable(w io.Writer, sums []summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "loop\tconfig\trounds\tns/op\tspread\tratio\tcpu/op\tcpu ratio\ttracer cpu\ttracer ns/op\tpeak rss\tdelivered/issued\tdrops\talerts")
	var failures []string
	for _, s := range sums {
		if s.failure != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\tFAILED\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n", s.loop, s.config, formatRounds(s))
			failures = append(failures, fmt.Sprintf("FAILED %s/%s: %s\n", s.loop, s.config, s.failure))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.loop, s.config, formatRounds(s), formatNS(s.nsPerOp), 100*s.spread, formatRatio(s.ratio),
			formatNS(s.opCPU), formatRatio(s.cpuRatio),
			traced(s, fmt.Sprintf("%.1f%%", 100*s.cpuShare)), traced(s, formatNS(s.tracerPerOp)),
			traced(s, formatBytes(s.peakRSS)), formatDelivered(s), formatDrops(s), formatAlerts(s))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range failures {
		if _, err := io.WriteString(w, f); err != nil {
			return err
		}
	}
	return nil
}

// formatRounds is the number of rounds a row's figures come from, with the
// total when tainted rounds were left out ("5/7").
func formatRounds(s summary) string {
	if s.rounds < s.total {
		return fmt.Sprintf("%d/%d", s.rounds, s.total)
	}
	return strconv.Itoa(s.rounds)
}

// traced returns v for traced rows and "-" for the untraced baseline.
func traced(s summary, v string) string {
	if !s.traced {
		return "-"
	}
	return v
}

func formatNS(ns float64) string {
	if ns >= 100 {
		return strconv.FormatFloat(ns, 'f', 0, 64)
	}
	return strconv.FormatFloat(ns, 'f', 1, 64)
}

func formatRatio(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

func formatBytes(b uint64) string {
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}

func formatDelivered(s summary) string {
	if !s.traced || !s.counted || s.issued == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f (%d/%d)", float64(s.delivered)/float64(s.issued), s.delivered, s.issued)
}

func formatDrops(s summary) string {
	var d string
	switch {
	case !s.traced:
		return "-"
	case !s.dropsKnown:
		return "?"
	case s.outputDrops > 0:
		d = fmt.Sprintf("%d+%dout", s.drops, s.outputDrops)
	default:
		d = strconv.FormatUint(s.drops, 10)
	}
	if s.anomalous {
		d += "!"
	}
	return d
}

func formatAlerts(s summary) string {
	if s.alerts == 0 {
		return "-"
	}
	return strconv.FormatUint(s.alerts, 10)
}

// legend explains the table's columns.
const legend = `rounds: rounds measured; n/m: n of m, the others left out because another process's tracer was loaded
ns/op: median over rounds of the loadgen's busy (wall) time per operation; spread: (max-min)/median
ratio: ns/op over the no-tracer median of the loop; BPF programs run in the traced process, so their cost is here
cpu/op, cpu ratio: the same from the loadgen's CPU time (its exec children's included), which leaves out time it was
  preempted: the steadier figure on a busy machine
tracer cpu: tracer user+system time (/proc/<pid>/stat) per second of the run, 100% = one core; tracer ns/op: per operation
peak rss: tracer VmHWM, largest round; alerts: alert lines (vigil)
delivered/issued: events attributed to the loadgen (its pid; exec: its children) over operations issued, all rounds
drops: events the tracer reported lost (floor: failed reserves; vigil: "event drop" records, +Nout: "output drop" records;
  tools: "Lost N events"); ?: not reported; !: a report left out as impossible (see the log)
`

// writeLegend prints the legend.
func writeLegend(w io.Writer) error {
	_, err := io.WriteString(w, legend)
	return err
}
