package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 3 || o.duration != 2*time.Second || !o.saturate || o.sat.duration != o.duration || o.processes != 10000 ||
		!slices.Equal(o.satConfigs, []string{"vigil"}) ||
		!slices.Equal(o.loops, loadgen.Loops()) || !slices.Equal(o.execArgv, []string{"/bin/busybox", "true"}) {
		t.Errorf("defaults = %+v", o)
	}
	o, err = parseOptions([]string{"-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 2 || o.duration != 250*time.Millisecond || o.saturate || o.configs != "quick" || o.processes != 200 {
		t.Errorf("-quick = rounds %d duration %v saturate %v configs %q processes %d", o.rounds, o.duration, o.saturate, o.configs, o.processes)
	}
	// Flags given with -quick win over its defaults.
	o, err = parseOptions([]string{"-quick", "-rounds", "4", "-saturate", "-loops", "exec", "-processes", "10000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 4 || !o.saturate || !slices.Equal(o.loops, []loadgen.Loop{loadgen.LoopExec}) || o.processes != 10000 {
		t.Errorf("-quick with flags = %+v", o)
	}
	// 0 turns the memory step off, with or without -quick.
	for _, args := range [][]string{{"-processes", "0"}, {"-quick", "-processes", "0"}} {
		o, err = parseOptions(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if o.processes != 0 {
			t.Errorf("%q: processes = %d, want 0", args, o.processes)
		}
	}
	for _, bad := range [][]string{
		{"-loops", "open,read"},
		{"-rounds", "0"},
		{"-duration", "-1s"},
		{"-exec", ""},
		{"-saturate-factor", "1"},
		{"-saturate-loop", "x"},
		{"-processes", "-1"},
		{"extra"},
	} {
		if _, err := parseOptions(bad, io.Discard); err == nil {
			t.Errorf("parseOptions(%q) succeeded", bad)
		}
	}
}

func names(ts []*tracer) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.name)
	}
	return out
}

func TestSelectTracers(t *testing.T) {
	p := &paths{}
	ts, err := selectTracers("floor-ringbuf,vigil", p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(ts), []string{"none", "floor-ringbuf", "vigil"}; !slices.Equal(got, want) {
		t.Errorf("selectTracers = %v, want %v (none first)", got, want)
	}
	ts, err = selectTracers("floor-counter,none", p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(ts), []string{"none", "floor-counter"}; !slices.Equal(got, want) {
		t.Errorf("selectTracers = %v, want %v", got, want)
	}
	if _, err := selectTracers("none,perf", p); err == nil {
		t.Error("unknown config accepted")
	}
	// The default always has vigil's configs, so a missing binary fails
	// loudly rather than silently shrinking the table.
	ts, err = selectTracers("default", p)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ts); !slices.Contains(got, "vigil") || !slices.Contains(got, "floor-counter") || got[0] != "none" {
		t.Errorf("default = %v", got)
	}
	if err := checkTracers(ts, p); err == nil {
		t.Error("checkTracers passed without a vigil binary")
	}
	ts, err = selectTracers("quick", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names(ts) {
		if !slices.Contains(quickConfigs(), name) {
			t.Errorf("quick selected %s", name)
		}
	}
}

func TestTracersApply(t *testing.T) {
	for _, tr := range tracers() {
		for _, l := range loadgen.Loops() {
			if !tr.appliesTo(l) {
				continue
			}
			if tr.argv == nil {
				continue
			}
			argv := tr.argv(&paths{floor: "floor", vigil: "vigil", baseline: "base", falcoRules: "rules.yaml"}, l, 42, time.Minute)
			if len(argv) == 0 || argv[0] == "" {
				t.Errorf("%s/%s: empty command", tr.name, l)
			}
			if tr.readyLine == "" && tr.match == nil {
				t.Errorf("%s: neither a ready line nor a probe matcher", tr.name)
			}
		}
	}
	byName := map[string]*tracer{}
	for _, tr := range tracers() {
		byName[tr.name] = tr
	}
	if byName["opensnoop"].appliesTo(loadgen.LoopExec) || !byName["execsnoop"].appliesTo(loadgen.LoopExec) {
		t.Error("snoop tools apply to the wrong loops")
	}
	p := &paths{vigil: "vigil", baseline: "old/vigil", falcoRules: "r.yaml"}
	argv := byName["vigil-falco-events"].argv(p, loadgen.LoopOpen, 1, time.Minute)
	if want := []string{"vigil", "run", "--duration", "1m0s", "--no-resolve-names", "--lock-file", "", "--rules", "r.yaml", "--events"}; !slices.Equal(argv, want) {
		t.Errorf("vigil-falco-events argv = %q, want %q", argv, want)
	}
	p.falcoAll = []string{"r.yaml", "i.yaml", "s.yaml"}
	argv = byName["vigil-falco-all"].argv(p, loadgen.LoopFS, 1, time.Minute)
	if want := []string{"vigil", "run", "--duration", "1m0s", "--no-resolve-names", "--lock-file", "", "--rules", "r.yaml", "--rules", "i.yaml", "--rules", "s.yaml"}; !slices.Equal(argv, want) {
		t.Errorf("vigil-falco-all argv = %q, want %q", argv, want)
	}
	// vigil's catch-up marker is an open where a build may not report the
	// loop's own events.
	for l, want := range map[loadgen.Loop]loadgen.Loop{loadgen.LoopExec: loadgen.LoopExec, loadgen.LoopConnect: loadgen.LoopConnect,
		loadgen.LoopFS: loadgen.LoopOpen, loadgen.LoopUDP: loadgen.LoopOpen, loadgen.LoopTCP: loadgen.LoopOpen, loadgen.LoopDup2: loadgen.LoopOpen} {
		if got := byName["vigil-events"].markerLoop(l); got != want {
			t.Errorf("vigil marker for %s = %s, want %s", l, got, want)
		}
		if got := byName["bpftrace"].markerLoop(l); got != l {
			t.Errorf("bpftrace marker for %s = %s, want the loop's own", l, got)
		}
	}
	argv = byName["base-falco-events"].argv(p, loadgen.LoopOpen, 1, time.Minute)
	if want := []string{"old/vigil", "run", "--duration", "1m0s", "--rules", "r.yaml", "--events"}; !slices.Equal(argv, want) {
		t.Errorf("base-falco-events argv = %q, want %q", argv, want)
	}
}

// TestBaselineSelection: the base-* configurations run only with -baseline;
// without it "default" leaves them out and naming one fails before any round.
func TestBaselineSelection(t *testing.T) {
	without := &paths{vigil: "vigil"}
	ts, err := selectTracers("default", without)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(names(ts), func(n string) bool { return strings.HasPrefix(n, "base") }) {
		t.Errorf("default without -baseline selected %v", names(ts))
	}
	ts, err = selectTracers("base", without)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTracers(ts, without); err == nil || !strings.Contains(err.Error(), "-baseline") {
		t.Errorf("checkTracers without -baseline: %v", err)
	}
	ts, err = selectTracers("default", &paths{vigil: "vigil", baseline: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(ts), "base") || !slices.Contains(names(ts), "base-events") {
		t.Errorf("default with -baseline selected %v", names(ts))
	}
}
