package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

func writeRules(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// expectQuiet checks that no alert that match accepts comes before the
// marker's (markerRules).
func expectQuiet(t *testing.T, a *agenttest.Agent, what string, match func(agenttest.Line) bool) {
	t.Helper()
	pid := mark(t)
	a.ExpectNone(t, what, match, func(l agenttest.Line) bool {
		return l.Rule == markerRule && agenttest.Int(l.OutputFields["proc.pid"]) == int64(pid)
	})
}

// TestThresholdFiresAtCount opens a file N-1 times (no alert), then once
// more (one alert with the count, window and times), then more (no second
// alert in the window).
func TestThresholdFiresAtCount(t *testing.T) {
	const rule = "Temp file opened repeatedly"
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rules := writeRules(t, dir, fmt.Sprintf(`- rule: %s
  desc: the same file opened 5 times within a minute
  condition: evt.type in (open, openat, openat2) and fd.name = %s
  output: "%%fd.name opened again by %%proc.name"
  priority: NOTICE
  threshold: {count: 5, window: 1m, by: [fd.name, proc.name]}
`, rule, target)+markerRules)
	ours := func(l agenttest.Line) bool { return l.Rule == rule }
	a := startAgent(t, "--rules", rules, "--no-containerd")
	for range 4 {
		runCommand(t, "cat", target)
	}
	expectQuiet(t, a, "four opens of a threshold of five", ours)
	runCommand(t, "cat", target)
	l := a.Expect(t, "the fifth open", ours)
	f := l.OutputFields
	if agenttest.Int(f["vigil.threshold.count"]) != 5 || f["vigil.threshold.window"] != "1m" || f["fd.name"] != target || f["proc.name"] != "cat" {
		t.Errorf("alert fields %v", f)
	}
	first, last := agenttest.Int(f["vigil.threshold.first"]), agenttest.Int(f["vigil.threshold.last"])
	if first <= 0 || last <= first {
		t.Errorf("first %d, last %d: want 0 < first < last", first, last)
	}
	for range 3 {
		runCommand(t, "cat", target)
	}
	expectQuiet(t, a, "opens after the threshold fired, in the same window", ours)
}

// TestThresholdOnFalcoRule adds a threshold to one of Falco's upstream
// rules through override, without editing Falco's file: the rule fires on
// the third read of /etc/shadow by one executable, not before.
func TestThresholdOnFalcoRule(t *testing.T) {
	const rule = "Read sensitive file untrusted"
	dir := t.TempDir()
	// A cat of its own, so that reads by other processes on the machine
	// do not count towards the threshold.
	cat := filepath.Join(dir, "thrcat")
	data, err := os.ReadFile("/bin/cat")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cat, data, 0o755); err != nil {
		t.Fatal(err)
	}
	local := writeRules(t, dir, fmt.Sprintf(`- rule: %s
  threshold:
    count: 3
    window: 5m
    by: [proc.exepath]
  override:
    threshold: replace
`, rule)+markerRules)
	a := startAgent(t, "--rules", testutil.FalcoRulesPath(t, falcorules.Stable), "--rules", local, "--no-containerd")
	mine := func(l agenttest.Line) bool { return l.Rule == rule && l.OutputFields["proc.exepath"] == cat }
	runCommand(t, cat, "/etc/shadow")
	runCommand(t, cat, "/etc/shadow")
	expectQuiet(t, a, "two reads under a threshold of three", mine)
	runCommand(t, cat, "/etc/shadow")
	l := a.Expect(t, "the third read", mine)
	if agenttest.Int(l.OutputFields["vigil.threshold.count"]) != 3 || l.OutputFields["fd.name"] != "/etc/shadow" {
		t.Errorf("alert fields %v", l.OutputFields)
	}
}

// TestSequenceWriteThenExec writes an executable below a directory and runs
// it from the same shell: the sequence follows the two sibling processes
// through the process table and alerts once with both steps' fields.
func TestSequenceWriteThenExec(t *testing.T) {
	const rule = "Written below the test dir then run"
	dir := t.TempDir()
	rules := writeRules(t, dir, fmt.Sprintf(`- rule: %s
  desc: a file written below the directory, then executed
  output: "%%proc.exepath run after %%proc.name wrote %%fd.name"
  priority: WARNING
  sequence:
    by: proc.tree
    window: 1m
    steps:
      - evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.name startswith %s/
      - evt.type = execve and proc.exepath startswith %s/
`, rule, dir, dir))
	a := startAgent(t, "--rules", rules, "--no-containerd")
	bin := filepath.Join(dir, "dropped")
	runCommand(t, "sh", "-c", fmt.Sprintf("cp /bin/true %s && %s", bin, bin))
	l := a.Expect(t, "the dropped binary's run", func(l agenttest.Line) bool { return l.Rule == rule })
	f := l.OutputFields
	want := map[string]any{
		"vigil.sequence.by": "proc.tree", "vigil.sequence.window": "1m",
		"vigil.sequence.step1.proc.name": "cp", "vigil.sequence.step1.fd.name": bin,
		"vigil.sequence.step2.proc.exepath": bin, "proc.exepath": bin,
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %v, want %v", k, f[k], v)
		}
	}
	t1, t2 := agenttest.Int(f["vigil.sequence.step1.time"]), agenttest.Int(f["vigil.sequence.step2.time"])
	if t1 <= 0 || t2 < t1 || agenttest.Int(f["vigil.sequence.first"]) != t1 || agenttest.Int(f["vigil.sequence.last"]) != t2 {
		t.Errorf("step times %d, %d; first %v, last %v", t1, t2, f["vigil.sequence.first"], f["vigil.sequence.last"])
	}
	// Running the binary again is no new sequence (nothing was written):
	// the next alert is the next write and run's.
	runCommand(t, bin)
	runCommand(t, "sh", "-c", fmt.Sprintf("cp /bin/true %s/again && %s/again", dir, dir))
	next := a.Expect(t, "a second write and run", func(l agenttest.Line) bool { return l.Rule == rule })
	if next.OutputFields["proc.exepath"] != dir+"/again" {
		t.Errorf("the run of %s alerted again before the second sequence: %v", bin, next.OutputFields)
	}
}

// TestThresholdEvictionsReported fills a rule's group table with real
// opens of distinct files: the eviction comes out as an internal record
// and in /metrics.
func TestThresholdEvictionsReported(t *testing.T) {
	const rule = "Files opened repeatedly"
	dir := t.TempDir()
	rules := writeRules(t, dir, fmt.Sprintf(`- rule: %s
  desc: each file opened 10 times within a minute
  condition: evt.type in (open, openat, openat2) and fd.name startswith %s/f
  output: "%%fd.name opened again"
  priority: NOTICE
  threshold: {count: 10, window: 1m, by: [fd.name]}
`, rule, dir))
	a := startAgent(t, "--rules", rules, "--no-containerd", "--rule-groups-per-rule", "2")
	for _, name := range []string{"f1", "f2", "f3"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		runCommand(t, "cat", path)
	}
	l := a.Expect(t, "the eviction record", func(l agenttest.Line) bool { return l.Rule == ruleGroupEviction })
	if l.Source != "internal" || agenttest.Int(l.OutputFields["rule_cap"]) < 1 {
		t.Errorf("record %s", l.Raw)
	}
	a.WaitMetric(t, `vigil_rule_group_evictions_total{cap="rule"}`, 10*time.Second, func(v float64) bool { return v >= 1 })
	if v := a.Metrics(t).Get(t, "vigil_rule_groups"); v != 2 {
		t.Errorf("vigil_rule_groups = %v, want 2", v)
	}
}
