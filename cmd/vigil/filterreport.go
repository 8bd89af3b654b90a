package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules"
	"github.com/vigil-sensor/vigil/sensor"
)

// The kernel filter report of vigil validate: per event kind, whether the
// kernel emits its events, filters them by what the rules constrain, and
// which rules keep every event of the kind (or of some of its syscalls)
// flowing to userspace, where each costs a ring-buffer record, a decode
// and a rules pass. It reads the rules' own derivation (rules.Rule
// Unbounded), so it says what vigil run would load into the kernel.

// Kernel states of a kind in the report.
const (
	// kernelOff: no active rule applies to the kind and the process table
	// does not need it: the kernel emits none of its events.
	kernelOff = "off"
	// kernelFiltered: the kernel emits only the events some rule can match.
	kernelFiltered = "filtered"
	// kernelWhole: the kernel emits every event of the kind, because the
	// kernel does not filter it or the process table needs it.
	kernelWhole = "unfiltered"
)

// kindFilterReport is one kind's line of the report.
type kindFilterReport struct {
	Kind string `json:"kind"`
	// Kernel is kernelOff, kernelFiltered or kernelWhole.
	Kernel string `json:"kernel"`
	// ProcessTable is set for the kinds the kernel emits whatever the
	// rules, for the process table (exec, fork, exit, cred).
	ProcessTable bool `json:"process_table"`
	// Rules counts the active rules that apply to the kind.
	Rules int `json:"rules"`
	// Unbounded lists the rules that keep every event of some of the
	// kind's types flowing: nothing in their condition bounds them in the
	// kernel. For an unfiltered kind that is every rule that applies.
	Unbounded []unboundedRule `json:"unbounded"`
}

// unboundedRule is a rule and the event types it leaves unbounded.
type unboundedRule struct {
	Rule  string   `json:"rule"`
	Types []string `json:"types"`
}

// kernelFilterReport reports every kind but the unknown one, in kind order.
func kernelFilterReport(rs *rules.Ruleset) []kindFilterReport {
	var out []kindFilterReport
	for k := event.Kind(1); int(k) < event.NumKinds; k++ {
		r := kindFilterReport{Kind: k.String(), ProcessTable: sensor.AlwaysTraced(k), Unbounded: []unboundedRule{}}
		for _, rule := range rs.Active() {
			if !rule.AppliesTo(k) {
				continue
			}
			r.Rules++
			if ts := rule.Unbounded(k); !ts.Empty() {
				u := unboundedRule{Rule: rule.Name}
				for _, t := range ts.Types() {
					u.Types = append(u.Types, t.String())
				}
				r.Unbounded = append(r.Unbounded, u)
			}
		}
		switch {
		case r.ProcessTable || (r.Rules > 0 && !rules.KernelFiltered(k)):
			r.Kernel = kernelWhole
		case r.Rules == 0:
			r.Kernel = kernelOff
		default:
			r.Kernel = kernelFiltered
		}
		out = append(out, r)
	}
	return out
}

// printFilterReport writes the report as text, one line per kind.
func printFilterReport(w io.Writer, rep []kindFilterReport) {
	fmt.Fprintln(w, "kernel filter: per event kind, what the kernel sends vigil, and the rules that keep every event of it (or of the syscalls named) flowing")
	for _, r := range rep {
		var b strings.Builder
		fmt.Fprintf(&b, "  %s: ", r.Kind)
		switch r.Kernel {
		case kernelOff:
			b.WriteString("off (no rule applies: the kernel emits none)")
		case kernelFiltered:
			fmt.Fprintf(&b, "filtered in the kernel; %s", countRules(r.Rules))
		default:
			b.WriteString("not filtered in the kernel")
			if r.ProcessTable {
				b.WriteString(" (the process table needs every one)")
			}
			b.WriteString("; " + countRules(r.Rules))
		}
		switch {
		case r.Kernel == kernelFiltered && len(r.Unbounded) == 0:
			b.WriteString("; every rule bounds it")
		case r.Kernel == kernelFiltered:
			fmt.Fprintf(&b, "; %d leave it unbounded:", len(r.Unbounded))
			for _, u := range r.Unbounded {
				fmt.Fprintf(&b, "\n    %q (%s)", u.Rule, strings.Join(u.Types, ", "))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func countRules(n int) string {
	if n == 1 {
		return "1 rule"
	}
	return strconv.Itoa(n) + " rules"
}
