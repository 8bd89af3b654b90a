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
	// AnyPath lists, for a kind the kernel filters by path (some rule
	// bounds its paths), the other rules that admit events of some types
	// whatever their path, bounded only by class (for opens, the access
	// mode) or result: with them, every read (say) of any file flows.
	AnyPath []unboundedRule `json:"any_path"`
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
		r := kindFilterReport{Kind: k.String(), ProcessTable: sensor.AlwaysTraced(k), Unbounded: []unboundedRule{},
			AnyPath: []unboundedRule{}}
		byPath := false
		var anyPath []unboundedRule
		for _, rule := range rs.Active() {
			if !rule.AppliesTo(k) {
				continue
			}
			r.Rules++
			byPath = byPath || rule.BoundsPaths(k)
			unbounded := rule.Unbounded(k)
			if !unbounded.Empty() {
				r.Unbounded = append(r.Unbounded, unboundedRule{Rule: rule.Name, Types: typeNames(unbounded)})
			}
			if ts := rule.AnyPath(k).Minus(unbounded); !ts.Empty() {
				anyPath = append(anyPath, unboundedRule{Rule: rule.Name, Types: typeNames(ts)})
			}
		}
		if byPath && rules.KernelFiltered(k) {
			r.AnyPath = append(r.AnyPath, anyPath...)
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

// typeNames names the types of ts.
func typeNames(ts event.TypeSet) []string {
	var out []string
	for _, t := range ts.Types() {
		out = append(out, t.String())
	}
	return out
}

// printFilterReport writes the report as text, one line per kind and one
// per rule that keeps events of it flowing.
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
		if len(r.AnyPath) > 0 {
			fmt.Fprintf(&b, "\n  %s, any path (bounded only by access mode, class or result): %d rules:", r.Kind, len(r.AnyPath))
			for _, u := range r.AnyPath {
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
