package response

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/config"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// records collects internal records and signals each one.
type records struct {
	mu   sync.Mutex
	recs []map[string]any
	c    chan struct{}
}

func newRecords() *records { return &records{c: make(chan struct{}, 1000)} }

func (r *records) SubmitUrgent(b []byte) bool {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(string(b))
	}
	r.mu.Lock()
	r.recs = append(r.recs, m)
	r.mu.Unlock()
	r.c <- struct{}{}
	return true
}

// wait returns the first n records, failing t if they do not come in 10s.
func (r *records) wait(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		got := append([]map[string]any(nil), r.recs...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.c:
		case <-deadline:
			t.Fatalf("want %d records, got %d: %v", n, len(got), got)
		}
	}
}

func fieldsOf(m map[string]any) map[string]any { return m["output_fields"].(map[string]any) }

const testRules = `
- rule: Shell in container
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: "shell (proc=%proc.name)"
  priority: WARNING
  tags: [container, shell]
- rule: Other
  desc: d
  condition: evt.type = execve and proc.name = ls
  output: "ls"
  priority: NOTICE
`

func loadRules(t *testing.T) *rules.Ruleset {
	t.Helper()
	rs, _, err := rules.Load([]rules.Source{{Name: "test.yaml", Data: []byte(testRules)}}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// fire raises rule's alert for an event of process 4242 in a container.
func fire(r *Responder, rule *rules.Rule) {
	e := &event.Event{Type: event.TypeExecve, PID: 4242, Time: 1_700_000_000_000_000_000,
		Proc:      &event.Process{Name: "sh"},
		Container: &event.Container{ID: "0123456789ab", FullID: "0123456789abcdef", Namespace: "k8s.io", Type: "containerd"}}
	out := []byte("shell (proc=sh)")
	al := &output.Alert{Time: e.Time, Rule: rule.Name, Priority: rule.Priority.String(), Source: output.SourceSyscall,
		Tags: rule.Tags, Output: out, Event: e,
		AppendFields: func(b []byte) []byte { return append(b, `"proc.name":"sh"`...) }}
	r.Fire(rule, al, e)
}

func newResponder(t *testing.T, cfg Config, clock func() time.Time) (*Responder, *records) {
	t.Helper()
	out := newRecords()
	r := New(cfg, Deps{Encoder: output.NewEncoder("host"), Out: out, Clock: clock})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r, out
}

func testAction(name string, timeout time.Duration, argv ...string) Action {
	return Action{Name: name, Tags: []string{"shell"}, Command: argv, Timeout: timeout, RateLimit: RateLimit{Runs: 100, Per: time.Second}}
}

// A run gets the alert on stdin and the container, pid and rule in its
// environment; its outcome, exit status and stderr are recorded.
func TestRun(t *testing.T) {
	rs := loadRules(t)
	dir := t.TempDir()
	script := fmt.Sprintf(`cat > %[1]s/stdin; env | grep ^VIGIL_ | sort > %[1]s/env; echo oops >&2; exit 3`, dir)
	r, out := newResponder(t, Config{Mode: ModeRun, Actions: []Action{testAction("probe", 10*time.Second, "/bin/sh", "-c", script)}}, nil)
	fire(r, rs.Rule("Other")) // no action for it
	fire(r, rs.Rule("Shell in container"))
	rec := out.wait(t, 1)[0]
	f := fieldsOf(rec)
	if rec["rule"] != RuleRun || rec["source"] != "internal" || rec["priority"] != "Warning" || f["action"] != "probe" ||
		f["rule"] != "Shell in container" || f["outcome"] != OutcomeFailed || f["exit_code"] != 3.0 ||
		f["stderr_tail"] != "oops\n" || f["container.id"] != "0123456789abcdef" || f["proc.pid"] != 4242.0 || f["signal"] != nil {
		t.Fatalf("record %v", rec)
	}
	stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	var alert map[string]any
	if err := json.Unmarshal(stdin, &alert); err != nil || alert["rule"] != "Shell in container" ||
		fieldsOf(alert)["proc.name"] != "sh" {
		t.Fatalf("stdin %q: %v", stdin, err)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	want := "VIGIL_ACTION=probe\nVIGIL_CONTAINER_ID=0123456789abcdef\nVIGIL_CONTAINER_NAMESPACE=k8s.io\nVIGIL_CONTAINER_TYPE=containerd\n" +
		"VIGIL_PID=4242\nVIGIL_PRIORITY=Warning\nVIGIL_RULE=Shell in container\nVIGIL_TIME=2023-11-14T22:13:20.000000000Z\n"
	if string(env) != want {
		t.Fatalf("environment:\n%s\nwant:\n%s", env, want)
	}
	if st := r.Stats(); st.Actions[0].Outcomes[OutcomeFailed] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A program that outlives its timeout is killed with everything in its
// process group.
func TestTimeoutKillsGroup(t *testing.T) {
	rs := loadRules(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := fmt.Sprintf(`sleep 300 & echo $! > %s; wait`, pidFile)
	r, out := newResponder(t, Config{Actions: []Action{testAction("hang", 300*time.Millisecond, "/bin/sh", "-c", script)}}, nil)
	start := time.Now()
	fire(r, rs.Rule("Shell in container"))
	f := fieldsOf(out.wait(t, 1)[0])
	if f["outcome"] != OutcomeKilledTimeout || f["signal"] != "killed" || f["exit_code"] != nil {
		t.Fatalf("record %v", f)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the kill took %v", took)
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("child pid %q", b)
	}
	// Killed, it may stay a zombie for a moment until init reaps it.
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the program's child %d survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a process that is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// Runs beyond the rate limit are skipped and counted, per rule; the limit
// refills with time.
func TestRateLimit(t *testing.T) {
	rs := loadRules(t)
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := testAction("limited", time.Second, "/bin/true")
	a.RateLimit = RateLimit{Runs: 2, Per: time.Minute}
	r, out := newResponder(t, Config{Mode: ModeLog, Actions: []Action{a}}, clock)
	rule := rs.Rule("Shell in container")
	for range 5 {
		fire(r, rule)
	}
	mu.Lock()
	now = now.Add(30 * time.Second) // one run's worth
	mu.Unlock()
	fire(r, rule)
	fire(r, rule)
	// 3 dry runs, and the 4 skips in one record or, across a tick, two.
	runs, skipped := 0, 0.0
	for n := 4; runs < 3 || skipped < 4; n++ {
		runs, skipped = 0, 0
		for _, rec := range out.wait(t, n) {
			switch rec["rule"] {
			case RuleRun:
				runs++
			case RuleSkipped:
				f := fieldsOf(rec)
				if f["reason"] != ReasonRateLimited || f["action"] != "limited" {
					t.Errorf("skip record %v", rec)
				}
				skipped += f["count"].(float64)
			}
		}
	}
	if runs != 3 || skipped != 4 {
		t.Fatalf("runs %d, skipped %v", runs, skipped)
	}
	if st := r.Stats().Actions[0]; st.Outcomes[OutcomeDryRun] != 3 || st.Skipped[ReasonRateLimited] != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// In mode log nothing runs; the record says what would have.
func TestDryRun(t *testing.T) {
	rs := loadRules(t)
	marker := filepath.Join(t.TempDir(), "ran")
	r, out := newResponder(t, Config{Mode: ModeLog, Actions: []Action{testAction("touch", time.Second, "/usr/bin/touch", marker)}}, nil)
	fire(r, rs.Rule("Shell in container"))
	f := fieldsOf(out.wait(t, 1)[0])
	if f["outcome"] != OutcomeDryRun || f["mode"] != ModeLog || f["command"] != "/usr/bin/touch "+marker || f["duration_ms"] != 0.0 {
		t.Fatalf("record %v", f)
	}
	r.Close(context.Background())
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the action ran in mode log")
	}
}

// Fire never blocks: with the workers busy and the queue full, runs are
// skipped and counted; at Close the queued ones are skipped too.
func TestQueueFull(t *testing.T) {
	rs := loadRules(t)
	r, out := newResponder(t, Config{Concurrency: 1, Queue: 2,
		Actions: []Action{testAction("slow", 200*time.Millisecond, "/bin/sleep", "10")}}, nil)
	rule := rs.Rule("Shell in container")
	fire(r, rule)
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Running == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first run did not start")
		}
		time.Sleep(time.Millisecond)
	}
	// One runs: two wait in the queue, seven find it full.
	start := time.Now()
	for range 9 {
		fire(r, rule)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Fire blocked for %v", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Close(ctx)
	st := r.Stats().Actions[0]
	var ran, skipped uint64
	for _, n := range st.Outcomes {
		ran += n
	}
	for _, n := range st.Skipped {
		skipped += n
	}
	if ran != 1 || st.Outcomes[OutcomeKilledTimeout] != 1 || st.Skipped[ReasonQueueFull] != 7 || st.Skipped[ReasonShutdown] != 2 {
		t.Fatalf("ran %d + skipped %d != 10: %+v", ran, skipped, st)
	}
	var recorded float64
	for _, rec := range out.wait(t, int(ran)+1) {
		if rec["rule"] == RuleSkipped {
			recorded += fieldsOf(rec)["count"].(float64)
		}
	}
	if recorded != float64(skipped) {
		t.Fatalf("skip records count %v, want %d", recorded, skipped)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"actions:\n  - command: [x]\n    rules: [R]\n", "f.yaml:2:5: actions[0]: name: an action needs a name"},
		{"actions:\n  - name: a\n    rules: [R]\n", "f.yaml:2:5: actions[0]: command: an action needs a command"},
		{"actions:\n  - name: a\n    command: [x]\n", "f.yaml:2:5: actions[0]: rules: an action needs rules (names) or tags"},
		{"actions:\n  - name: a\n    command: [x]\n    rules: [R]\n    timeout: 0s\n", "f.yaml:5:14: actions[0].timeout: must be positive"},
		{"actions:\n  - name: a\n    command: [x]\n    rules: [R]\n    timeout: soon\n", "f.yaml:5:14: actions[0].timeout: want a duration"},
		{"actions:\n  - name: a\n    command: [x]\n    rules: [R]\n    rate_limit: {runs: 0, per: 1m}\n", "f.yaml:5:24: actions[0].rate_limit.runs: must be positive"},
		{"actions:\n  - name: a\n    command: [x]\n    rules: [R]\n    rate_limit: {runs: 1, per: 1m, burst: 2}\n", "f.yaml:5:36: actions[0].rate_limit.burst: unknown key"},
		{"actions:\n  - name: a\n    command: [x]\n    rules: [R]\n  - name: a\n    command: [x]\n    rules: [R]\n", `f.yaml:5:11: actions[1].name: a second action named "a"`},
		{"actions:\n  - name: a b\n    command: [x]\n    rules: [R]\n", `f.yaml:2:11: actions[0].name: "a b": use letters`},
		{"actions:\n  - name: a\n    command: [x]\n    rules: [R, '']\n", `f.yaml:4:16: actions[0].rules[1]: empty`},
	} {
		var as Actions
		err := config.Decode("f.yaml", []byte(tt.yaml), []config.Key{{Name: "actions", Dst: &as}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.yaml, err, tt.want)
		}
	}
	var as Actions
	err := config.Decode("f.yaml", []byte("actions:\n  - name: pause\n    tags: [container]\n    command: [/bin/true]\n"),
		[]config.Key{{Name: "actions", Dst: &as}})
	if err != nil || len(as) != 1 || as[0].Timeout != DefaultTimeout || as[0].RateLimit != (RateLimit{DefaultRuns, DefaultPer}) {
		t.Fatalf("defaults: %v %+v", err, as)
	}
	if err := CheckMode("enforce"); err == nil {
		t.Error("mode enforce accepted")
	}
}
