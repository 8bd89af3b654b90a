package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// What vigil's kernel side sent it, per event kind: the per-kind counters
// of the "final counts" line vigil logs on stderr when it stops. They are
// machine-wide and cover vigil's whole run (start-up and catch-up too), so
// the load is most of them only when the loop dominates the machine.

// kindCounts are one kind's kernel counters.
type kindCounts struct {
	// emitted: records the kernel wrote to the ring buffer; filtered:
	// events the kind's kernel filter left out (no loaded rule can match
	// them); dropped: records lost to a full ring buffer; outputDropped:
	// records of the kind the output queues refused (--events).
	emitted, filtered, dropped, outputDropped uint64
}

// kernelCounts are the counters by kind name.
type kernelCounts map[string]kindCounts

// add sums o into k.
func (k kernelCounts) add(o kernelCounts) {
	for kind, c := range o {
		s := k[kind]
		s.emitted += c.emitted
		s.filtered += c.filtered
		s.dropped += c.dropped
		s.outputDropped += c.outputDropped
		k[kind] = s
	}
}

// finalCountsRE matches one kind's counter in the "final counts" line
// (slog text: kind.counter=N); output_* groups are the sinks', not kinds.
var finalCountsRE = regexp.MustCompile(`(?:^| )(\w+)\.(emitted|filtered|dropped|output_dropped)=(\d+)`)

// parseFinalCounts reads the per-kind kernel counters of the last "final
// counts" line in vigil's stderr; nil when there is none (a build that
// does not log it).
func parseFinalCounts(stderr []byte) (kernelCounts, error) {
	var line []byte
	for l := range bytes.Lines(stderr) {
		if bytes.Contains(l, []byte(`msg="final counts"`)) {
			line = l
		}
	}
	if line == nil {
		return nil, nil
	}
	out := kernelCounts{}
	for _, m := range finalCountsRE.FindAllSubmatch(line, -1) {
		kind := string(m[1])
		if strings.HasPrefix(kind, "output_") {
			continue
		}
		n, err := strconv.ParseUint(string(m[3]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing final counts %s: %w", m[0], err)
		}
		c := out[kind]
		switch string(m[2]) {
		case "emitted":
			c.emitted = n
		case "filtered":
			c.filtered = n
		case "dropped":
			c.dropped = n
		case "output_dropped":
			c.outputDropped = n
		}
		out[kind] = c
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("final counts without per-kind counters: %s", bytes.TrimSpace(line))
	}
	return out, nil
}

// kernelLegend explains the kernel table.
const kernelLegend = `kernel: per event kind, what vigil's kernel side sent it (emitted) and kept back (filtered: no loaded rule can match),
  and lost (dropped: ring buffer full), summed over the rounds; machine-wide over vigil's whole run (start-up and
  catch-up too); per op: over the loop's operations. Which rules keep a kind flowing: vigil validate on the config's rules
`

// writeKernel prints, for every vigil configuration row that reported
// counters, one line per kind with events.
func writeKernel(w io.Writer, sums []summary) error {
	var rows []summary
	for _, s := range sums {
		if s.failure == "" && len(s.kernel) > 0 {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := io.WriteString(w, "\n"+kernelLegend); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "loop\tconfig\tkind\temitted\tfiltered\tdropped\temitted/op\tfiltered/op")
	for _, s := range rows {
		kinds := make([]string, 0, len(s.kernel))
		for k, c := range s.kernel {
			if c.emitted+c.filtered+c.dropped > 0 {
				kinds = append(kinds, k)
			}
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			c := s.kernel[k]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", s.loop, s.config, k, c.emitted, c.filtered, c.dropped,
				perOp(c.emitted, s.issued), perOp(c.filtered, s.issued))
		}
	}
	return tw.Flush()
}

// perOp is n per operation issued.
func perOp(n, ops uint64) string {
	if ops == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/float64(ops), 'f', 2, 64)
}

// filterKind is one kind of vigil validate's kernel filter report (the
// "kernel_filter" of its --json output).
type filterKind struct {
	Kind         string       `json:"kind"`
	Kernel       string       `json:"kernel"`
	ProcessTable bool         `json:"process_table"`
	Rules        int          `json:"rules"`
	Unbounded    []filterRule `json:"unbounded"`
	// AnyPath are rules that admit events whatever their path, bounded
	// only by access mode, class or result.
	AnyPath []filterRule `json:"any_path"`
}

// filterRule is a rule of the report and the event types it names.
type filterRule struct {
	Rule  string   `json:"rule"`
	Types []string `json:"types"`
}

// appendRules appends each rule and its types to b.
func appendRules(b *strings.Builder, rs []filterRule) {
	for _, u := range rs {
		fmt.Fprintf(b, " %q (%s)", u.Rule, strings.Join(u.Types, ", "))
	}
}

// filterReport runs vigil validate --json on the rules of vigil
// configuration t and returns its kernel filter report: nil, with no
// error, from a build that does not report one.
func (h *harness) filterReport(ctx context.Context, t *tracer) ([]filterKind, error) {
	bin, err := t.command(h.bins)
	if err != nil {
		return nil, err
	}
	args := []string{"validate", "--json"}
	files := t.rules.files(h.bins)
	if len(files) == 0 {
		// No rules file: a configuration without one loads the defaults.
		empty := filepath.Join(h.dir, "empty-config.yaml")
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			return nil, fmt.Errorf("writing an empty configuration: %w", err)
		}
		args = append(args, "--config", empty)
	}
	out, err := exec.CommandContext(ctx, bin, append(args, files...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("vigil validate of %s's rules: %w", t.name, err)
	}
	var rep struct {
		KernelFilter []filterKind `json:"kernel_filter"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("decoding vigil validate of %s's rules: %w", t.name, err)
	}
	return rep.KernelFilter, nil
}

// flowingShare is the events per operation of a kind, in some loop, from
// which the kind counts as flowing with the load in the rules report.
const flowingShare = 0.1

// writeFlowing prints, for each vigil configuration that ran (reports by
// name), the kernel filter of the kinds that reached it at flowingShare
// events per operation or more in some loop, and the rules that keep
// every event of them flowing.
func writeFlowing(w io.Writer, sums []summary, reports map[string][]filterKind) error {
	var b strings.Builder
	for _, s := range sums {
		rep, ok := reports[s.config]
		if !ok || s.failure != "" {
			continue
		}
		for _, fk := range rep {
			c := s.kernel[fk.Kind]
			if s.issued == 0 || float64(c.emitted)/float64(s.issued) < flowingShare {
				continue
			}
			fmt.Fprintf(&b, "%s %s: %s %.2f/op, kernel %s, %d rules", s.loop, s.config, fk.Kind,
				float64(c.emitted)/float64(s.issued), fk.Kernel, fk.Rules)
			switch {
			case fk.Kernel == "filtered" && len(fk.Unbounded) == 0 && len(fk.AnyPath) == 0:
				b.WriteString(", every one bounds it (the events passed its bounds)")
			case fk.Kernel == "filtered":
				if len(fk.Unbounded) > 0 {
					b.WriteString(", unbounded by:")
					appendRules(&b, fk.Unbounded)
				}
				if len(fk.AnyPath) > 0 {
					b.WriteString(", any path (access mode or result only) by:")
					appendRules(&b, fk.AnyPath)
				}
			case len(fk.Unbounded) > 0:
				fmt.Fprintf(&b, ", every event flows (%d rules need the kind)", len(fk.Unbounded))
			case fk.ProcessTable:
				b.WriteString(", every event flows (the process table needs it)")
			}
			b.WriteString("\n")
		}
	}
	if b.Len() == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "\nflowing: the kinds vigil received at %.1f events per operation or more, and the rules that keep every\n"+
		"  event of them (of the syscalls named) flowing to userspace, from vigil validate --json on the config's rules\n%s", flowingShare, b.String())
	return err
}
