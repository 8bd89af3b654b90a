package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
	"github.com/vigil-sensor/vigil/internal/dedup"
	"github.com/vigil-sensor/vigil/internal/response"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// triggerRule fires on the exec of `true <token>`, a token of the test's
// own: the agent sees every exec on the machine, and other tests' execs
// must neither match it nor spend its actions' rate limits.
const triggerRule = "vigil response trigger"

type trigger struct {
	token string
	rules string // the rules file
}

func newTrigger(t *testing.T) *trigger {
	t.Helper()
	tr := &trigger{token: "vigil-response-" + containerdtest.NewID()[:12]}
	tr.rules = filepath.Join(t.TempDir(), "trigger.yaml")
	// No pid in the output: repeated execs are identical alerts for the
	// default dedup key (the output fields without evt.time).
	text := fmt.Sprintf(`
- rule: %s
  desc: The exec of the test's token.
  condition: evt.type in (execve, execveat) and proc.name = true and proc.args = %s
  output: trigger (command=%%proc.cmdline container=%%container.id time=%%evt.time)
  priority: WARNING
  tags: [test]
`, triggerRule, tr.token)
	if err := os.WriteFile(tr.rules, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return tr
}

// fire execs the token on the host.
func (tr *trigger) fire(t *testing.T) { runCommand(t, "true", tr.token) }

// isAlert matches the trigger's alerts.
func (tr *trigger) isAlert(l agenttest.Line) bool {
	return l.Source == "syscall" && l.Rule == triggerRule && strings.Contains(fmt.Sprint(l.OutputFields["proc.cmdline"]), tr.token)
}

// isRecord matches internal records of rule about the trigger's rule.
func isRecord(rule string, ok func(f map[string]any) bool) func(agenttest.Line) bool {
	return func(l agenttest.Line) bool {
		return l.Source == "internal" && l.Rule == rule && l.OutputFields["rule"] == triggerRule && ok(l.OutputFields)
	}
}

// Identical alerts are written once per window; the suppressed-alerts
// records' counts and the alerts written add up exactly to the matches,
// whether the window closed or vigil stopped with it open.
func TestDedupEndToEnd(t *testing.T) {
	tr := newTrigger(t)
	// A window long enough for the first burst on a loaded machine.
	cfg := writeConfig(t, "no_containerd: true\ndedup:\n  window: 5s\n")
	a := startAgent(t, "--config", cfg, "--rules", tr.rules)
	const first, second = 15, 5
	for range first {
		tr.fire(t)
	}
	closed := a.Expect(t, "the record of the closed window", isRecord(dedup.RuleSuppressed, func(f map[string]any) bool {
		return f["reason"] == dedup.ReasonWindow && strings.Contains(fmt.Sprint(f["proc.cmdline"]), tr.token)
	}))
	if closed.Priority != "Warning" || closed.OutputFields["evt.time"] != nil {
		t.Errorf("record %s", closed.Raw)
	}
	for range second {
		tr.fire(t)
	}
	m := a.WaitMetric(t, "vigil_dedup_suppressed_total", 10*time.Second, func(v float64) bool { return v >= first+second-2 })
	if m != first+second-2 {
		t.Errorf("vigil_dedup_suppressed_total %v, want %d", m, first+second-2)
	}
	if e := a.Stop(t, syscall.SIGINT, agenttest.StopTimeout); e.Code != 0 {
		t.Fatalf("exit %d", e.Code)
	}
	a.Rest(t)
	var written, suppressed int64
	reasons := map[string]int{}
	for _, l := range a.Alerts() {
		switch {
		case tr.isAlert(l):
			written++
		case l.Source == "internal" && l.Rule == dedup.RuleSuppressed && strings.Contains(fmt.Sprint(l.OutputFields["proc.cmdline"]), tr.token):
			suppressed += agenttest.Int(l.OutputFields["suppressed"])
			reasons[fmt.Sprint(l.OutputFields["reason"])]++
		}
	}
	if written+suppressed != first+second || written != 2 {
		t.Errorf("%d alerts written + %d suppressed, want %d matches in 2 alerts", written, suppressed, first+second)
	}
	if reasons[dedup.ReasonWindow] != 1 || reasons[dedup.ReasonShutdown] != 1 {
		t.Errorf("records by reason %v, want one window and one shutdown", reasons)
	}
}

// A hung action is killed with its process group at its timeout, while
// alerts keep flowing; runs past the rate limit are skipped and counted.
func TestResponseTimeoutAndRateLimit(t *testing.T) {
	tr := newTrigger(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cfg := writeConfig(t, fmt.Sprintf(`
no_containerd: true
actions:
  - name: hang
    rules: [%q]
    command: [/bin/sh, -c, "sleep 300 & echo $! > %s; wait"]
    timeout: 2s
    rate_limit: {runs: 1, per: 1h}
`, triggerRule, pidFile))
	a := startAgent(t, "--config", cfg, "--rules", tr.rules)
	start := time.Now()
	for range 4 {
		tr.fire(t)
	}
	// The four alerts come while the first one's action hangs; the skip
	// records of the three rate-limited runs (one a second) within a
	// second or two.
	alerts := 0
	var skippedRuns int64
	var killed agenttest.Line
	isRun := isRecord(response.RuleRun, func(f map[string]any) bool { return f["action"] == "hang" })
	isSkip := isRecord(response.RuleSkipped, func(f map[string]any) bool { return f["action"] == "hang" })
	a.Expect(t, "the records of the killed action and the skipped runs", func(l agenttest.Line) bool {
		switch {
		case tr.isAlert(l):
			if killed.Rule == "" {
				alerts++
			}
		case isRun(l):
			killed = l
		case isSkip(l):
			if l.OutputFields["reason"] != response.ReasonRateLimited {
				t.Errorf("skip record %s", l.Raw)
			}
			skippedRuns += agenttest.Int(l.OutputFields["count"])
		}
		return killed.Rule != "" && skippedRuns >= 3
	})
	if alerts != 4 {
		t.Errorf("%d alerts before the action's record, want 4", alerts)
	}
	f := killed.OutputFields
	if f["outcome"] != response.OutcomeKilledTimeout || f["signal"] != "killed" || f["exit_code"] != nil ||
		agenttest.Int(f["duration_ms"]) < 2000 || agenttest.Int(f["duration_ms"]) > 6000 || f["container.id"] != "host" {
		t.Errorf("record %s", killed.Raw)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the action took %v to be killed", took)
	}
	if skippedRuns != 3 {
		t.Errorf("skip records count %d runs, want 3", skippedRuns)
	}
	m := a.Metrics(t)
	if m.Get(t, `vigil_response_runs_total{action="hang",outcome="killed_timeout"}`) != 1 ||
		m.Get(t, `vigil_response_skipped_total{action="hang",reason="rate_limited"}`) != 3 {
		t.Errorf("metrics: runs %v, skipped %v", m.Get(t, `vigil_response_runs_total{action="hang",outcome="killed_timeout"}`),
			m.Get(t, `vigil_response_skipped_total{action="hang",reason="rate_limited"}`))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(stat), ") Z") {
		t.Errorf("the action's child %d survived its timeout: %s", pid, stat)
	}
}

// --response=log records what would run and runs nothing, whatever the
// file says.
func TestResponseDryRun(t *testing.T) {
	tr := newTrigger(t)
	ran := filepath.Join(t.TempDir(), "ran")
	cfg := writeConfig(t, fmt.Sprintf(`
no_containerd: true
response: run
actions:
  - name: touch
    tags: [test]
    command: [/usr/bin/touch, %s]
`, ran))
	a := startAgent(t, "--config", cfg, "--rules", tr.rules, "--response=log")
	tr.fire(t)
	rec := a.Expect(t, "the dry run's record", isRecord(response.RuleRun, func(f map[string]any) bool { return f["action"] == "touch" }))
	if f := rec.OutputFields; f["outcome"] != response.OutcomeDryRun || f["mode"] != "log" || f["command"] != "/usr/bin/touch "+ran {
		t.Errorf("record %s", rec.Raw)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the action ran in dry-run mode")
	}
}

// The documented example pauses the container an alert is about, through
// containerd, on this machine.
func TestResponsePausesContainer(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc", "busybox"} {
		testutil.RequireCommand(t, c)
	}
	tr := newTrigger(t)
	d := startContainerd(t)
	script := filepath.Join(testutil.ModuleRoot(t), "scripts", "response", "pause-container.sh")
	cfg := writeConfig(t, fmt.Sprintf(`
containerd_socket: %s
actions:
  - name: pause
    rules: [%q]
    command: [/usr/bin/env, CONTAINERD_ADDRESS=%s, %s]
    timeout: 20s
`, d.Socket, triggerRule, d.Socket, script))
	a := startAgent(t, "--config", cfg, "--rules", tr.rules)
	c := d.MustRun(t, containerdtest.ContainerSpec{})
	t.Cleanup(func() {
		// Resumed before MustRun's cleanup removes it.
		d.Ctr(context.Background(), c.Namespace, "tasks", "resume", c.ID)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := c.Exec(ctx, "true", tr.token); err != nil {
		t.Fatalf("exec in the container: %v: %s", err, out)
	}
	alert := a.Expect(t, "the alert from the container", tr.isAlert)
	if alert.OutputFields["container.id"] != c.ID[:12] {
		t.Fatalf("alert %s", alert.Raw)
	}
	rec := a.Expect(t, "the pause action's record", isRecord(response.RuleRun, func(f map[string]any) bool { return f["action"] == "pause" }))
	if f := rec.OutputFields; f["outcome"] != response.OutcomeSuccess || f["container.id"] != c.ID ||
		!strings.Contains(fmt.Sprint(f["stderr_tail"]), "paused") {
		t.Fatalf("record %s", rec.Raw)
	}
	out, err := d.Ctr(ctx, c.Namespace, "tasks", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == c.ID {
			if f[2] != "PAUSED" {
				t.Fatalf("container %s is %s, want PAUSED", c.ID, f[2])
			}
			return
		}
	}
	t.Fatalf("container %s not in ctr tasks list:\n%s", c.ID, out)
}
