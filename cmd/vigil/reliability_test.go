package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/agenttest"
)

// relOpenLoop returns a shell command that opens path n times, as fast as a
// shell can (a redirection on the ':' builtin is one open in the shell
// itself, no fork).
func relOpenLoop(path string, n int) *exec.Cmd {
	return exec.Command("/bin/sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do : < "$0"; i=$((i+1)); done`, n), path)
}

// sampleRSS samples vigil's RSS until stop is closed and returns the peak.
func sampleRSS(t *testing.T, a *agenttest.Agent, stop <-chan struct{}) <-chan int64 {
	peak := make(chan int64, 1)
	go func() {
		var max int64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			v, err := rss(a.PID())
			if err != nil {
				t.Errorf("sampling vigil's RSS: %v", err)
				<-stop
				peak <- max
				return
			}
			if v > max {
				max = v
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	return peak
}

// TestReliabilityFloodAccounting floods a one-page ring buffer and a small
// output queue with opens, and checks that the accounting closes: for each
// kind, what the kernel saw is what was written, plus the kernel drops, the
// output drops and the undecodable records, each reported by internal
// records; and the flooding process's opens are all written or covered by
// a counted loss.
func TestReliabilityFloodAccounting(t *testing.T) {
	const n = 30000
	a := startAgent(t, "--events", "--no-containerd", "--ring-buffer-size", fmt.Sprint(os.Getpagesize()),
		"--output-queue", "256", "--status-interval", "200ms")
	baseline := a.Metrics(t).Get(t, "vigil_process_table_size")
	target := filepath.Join(t.TempDir(), "flood-target")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// Consume stdout while the flood runs, as a log shipper would.
	drained := a.Drain()

	stopRSS := make(chan struct{})
	peak := sampleRSS(t, a, stopRSS)
	child := relOpenLoop(target, n)
	// Short-lived processes alongside: their fork and exit records are
	// dropped too, and the process table must not keep the processes
	// whose exit it never saw.
	forks := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 1000 ]; do (:); i=$((i+1)); done`)
	start := time.Now()
	if err := forks.Start(); err != nil {
		t.Fatal(err)
	}
	if err := child.Run(); err != nil {
		t.Fatalf("flood: %v", err)
	}
	if err := forks.Wait(); err != nil {
		t.Fatalf("forks: %v", err)
	}
	elapsed := time.Since(start)
	close(stopRSS)
	childPID := int64(child.Process.Pid)
	a.WaitMetric(t, "vigil_process_table_size", 15*time.Second, func(v float64) bool { return v <= baseline+20 })
	// The table may shrink back through delivered exits before the sweep for
	// the lost ones runs (it waits for the reader to go idle): wait for it.
	if exitDrops := a.Metrics(t).Get(t, `vigil_kernel_drops_total{kind="exit"}`); exitDrops > 0 {
		a.WaitStderr(t, fmt.Sprintf("a sweep of the process table (%v exit records dropped)", exitDrops), 15*time.Second,
			func(s string) bool { return strings.Contains(s, "removed exited processes whose exit record was lost") })
	}

	stop := a.Stop(t, syscall.SIGTERM, 20*time.Second)
	records := drained(t)
	a.CheckJSON(t)
	if stop.Code != 0 {
		t.Fatalf("vigil exited %d after SIGTERM", stop.Code)
	}
	took := stop.Took
	totals := finalCounts(t, stop.Stderr)

	lines := map[string]uint64{}
	reportedKernel := map[string]uint64{}
	reportedOutput := map[string]uint64{}
	var childLines uint64
	for _, r := range records {
		switch {
		case r.Event != "":
			kind := kindOf(r.Event)
			lines[kind]++
			if kind == "open" && agenttest.Int(r.Fields["proc.pid"]) == childPID && r.Fields["fd.name"] == target {
				childLines++
			}
		case r.Source == "internal" && r.Rule == ruleEventDrop:
			for k, v := range r.OutputFields {
				reportedKernel[k] += uint64(agenttest.Int(v))
			}
		case r.Source == "internal" && r.Rule == ruleOutputDrop:
			for k, v := range r.OutputFields {
				reportedOutput[k] += uint64(agenttest.Int(v))
			}
		}
	}
	var lost uint64
	for k := 1; k < event.NumKinds; k++ {
		kind := event.Kind(k).String()
		c := totals[kind]
		// The sensor read every record the kernel wrote.
		if c["emitted"] != c["delivered"]+c["skipped"]+c["undecodable"] {
			t.Errorf("%s: emitted %d != delivered %d + skipped %d + undecodable %d", kind,
				c["emitted"], c["delivered"], c["skipped"], c["undecodable"])
		}
		// Every delivered event was written or counted as an output drop.
		if c["delivered"] != lines[kind]+c["output_dropped"] {
			t.Errorf("%s: delivered %d != written %d + output drops %d", kind, c["delivered"], lines[kind], c["output_dropped"])
		}
		// Every loss was reported on stdout.
		if reportedKernel[kind] != c["dropped"] || reportedOutput[kind] != c["output_dropped"] {
			t.Errorf("%s: reported kernel drops %d, output drops %d; counted %d, %d", kind,
				reportedKernel[kind], reportedOutput[kind], c["dropped"], c["output_dropped"])
		}
		lost += c["dropped"] + c["output_dropped"] + c["undecodable"]
	}
	// The child's opens: every one written, or covered by a loss (losses
	// are counted per kind, not per process: other processes' opens may be
	// among them).
	open := totals["open"]
	if childLines > n || childLines+open["dropped"]+open["output_dropped"]+open["undecodable"] < n {
		t.Errorf("child issued %d opens: %d written, open losses %d kernel + %d output + %d undecodable do not cover the rest",
			n, childLines, open["dropped"], open["output_dropped"], open["undecodable"])
	}
	if open["emitted"]+open["dropped"] < n {
		t.Errorf("the kernel saw %d opens, fewer than the child's %d", open["emitted"]+open["dropped"], n)
	}
	if lost == 0 {
		t.Errorf("a %d-byte ring and a 256-record queue lost nothing to %d opens in %v: the test did not flood", os.Getpagesize(), n, elapsed)
	}
	// One record per status interval at most, plus the final one.
	var dropRecords int
	for _, r := range records {
		if r.Rule == ruleEventDrop {
			dropRecords++
		}
	}
	if limit := int((elapsed+took)/(200*time.Millisecond)) + 3; dropRecords > limit {
		t.Errorf("%d event drop records in %v, more than one per 200ms interval", dropRecords, elapsed+took)
	}
	p := <-peak
	if p > 100<<20 {
		t.Errorf("peak RSS %d MiB during the flood, want under 100 MiB", p>>20)
	}
	t.Logf("%d opens and 1000 forks in %v: child lines %d; open: %v; exit: %v; peak RSS %d MiB; shutdown %v",
		n, elapsed, childLines, open, totals["exit"], p>>20, took)
}

// TestReliabilityStdoutBlocked floods vigil while nobody reads its stdout:
// the queue stays bounded, so does memory, drops are counted, and SIGTERM
// still ends vigil promptly (exit 1: queued records were lost).
func TestReliabilityStdoutBlocked(t *testing.T) {
	a := startAgentStdout(t, agenttest.BlockStdout, "--events", "--no-containerd",
		"--output-queue", "4096", "--output-queue-bytes", fmt.Sprint(4<<20), "--drain-timeout", "500ms")
	target := filepath.Join(t.TempDir(), "blocked-target")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stopRSS := make(chan struct{})
	peak := sampleRSS(t, a, stopRSS)
	for range 3 {
		if err := relOpenLoop(target, 10000).Run(); err != nil {
			t.Fatal(err)
		}
	}
	m := a.Metrics(t)
	close(stopRSS)
	if d := m.Get(t, "vigil_output_drops_total"); d == 0 {
		t.Error("no output drops counted with a blocked stdout")
	}
	if d := m.Get(t, `vigil_output_event_drops_total{kind="open"}`); d < 10000 {
		t.Errorf("open event drops %v, want most of 30000", d)
	}
	if q := m.Get(t, "vigil_output_queue_bytes"); q > 4<<20+64<<10 {
		t.Errorf("output queue holds %v bytes, over its 4 MiB bound", q)
	}
	if q := m.Get(t, "vigil_output_queue_depth"); q > 4096+64 {
		t.Errorf("output queue holds %v records, over its bound", q)
	}
	resp, err := http.Get("http://" + a.MetricsAddr() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz while stdout is blocked: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	p := <-peak
	if p > 100<<20 {
		t.Errorf("peak RSS %d MiB with a blocked stdout, want under 100 MiB", p>>20)
	}
	t.Logf("blocked stdout: peak RSS %d MiB, output drops %v, queue %v records / %v bytes", p>>20,
		m.Get(t, "vigil_output_drops_total"), m.Get(t, "vigil_output_queue_depth"), m.Get(t, "vigil_output_queue_bytes"))
	stop := a.Stop(t, syscall.SIGTERM, 10*time.Second)
	if stop.Code != 1 || stop.Took > 5*time.Second {
		t.Errorf("with stdout blocked, SIGTERM gave exit %d after %v; want 1 within the 500ms drain timeout", stop.Code, stop.Took)
	}
	if !strings.Contains(stop.Stderr, "stdout did not take the queued records within 500ms of shutdown") {
		t.Errorf("no clear error for the blocked stdout:\n%s", a.StderrTail(2000))
	}
}

// TestReliabilityStdoutClosed closes the reading end of stdout: vigil exits
// 1 promptly with a clear error, without a panic.
func TestReliabilityStdoutClosed(t *testing.T) {
	a := startAgentStdout(t, agenttest.CloseStdout, "--events", "--no-containerd")
	start := time.Now()
	runCommand(t, "true")
	exit := a.Wait(t, start, 10*time.Second)
	stderr := exit.Stderr
	if exit.Code != 1 || exit.Took > 5*time.Second {
		t.Errorf("exit %d after %v with stdout closed; want 1 within 5s", exit.Code, exit.Took)
	}
	if !strings.Contains(stderr, "vigil: writing output: stdout was closed by its reader") || !strings.Contains(stderr, "broken pipe") {
		t.Errorf("no clear error for the closed stdout:\n%s", a.StderrTail(2000))
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("vigil panicked:\n%s", stderr)
	}
}

// relRules writes a rules file with one rule that fires on opens of path.
func relRules(t *testing.T, file, rule, path string) {
	t.Helper()
	y := fmt.Sprintf(`- rule: %s
  desc: test rule for reloads
  condition: evt.type in (open, openat, openat2) and fd.name = "%s"
  output: %s fired (file=%%fd.name proc=%%proc.name pid=%%proc.pid)
  priority: WARNING
`, rule, path, rule)
	if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReliabilitySignals covers SIGHUP (reload, and a broken file on reload
// keeping the running rules), the single-instance lock, and SIGTERM writing
// what was read before it.
func TestReliabilitySignals(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	markA, markB := filepath.Join(dir, "marker-a"), filepath.Join(dir, "marker-b")
	for _, f := range []string{markA, markB} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	relRules(t, rulesFile, "reload marker A", markA)
	lock := filepath.Join(dir, "vigil.lock")
	a := startAgent(t, "--rules", rulesFile, "--no-containerd", "--lock-file", lock)
	isAlert := func(rule string) func(agenttest.Line) bool {
		return func(r agenttest.Line) bool { return r.Rule == rule && r.OutputFields["fd.name"] != nil }
	}

	runCommand(t, "cat", markA)
	a.Expect(t, "rule A before the reload", isAlert("reload marker A"))

	// A second vigil refuses to start and names the first.
	code, stderr := agenttest.RunToExit(t, exec.Command(vigilBin, "run", "--no-containerd", "--lock-file", lock))
	if want := fmt.Sprintf("another vigil is already running (pid %d holds %s)", a.PID(), lock); code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("second vigil: exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
	}

	reloaded := func(n int) {
		t.Helper()
		a.WaitStderr(t, fmt.Sprintf("reload %d after SIGHUP", n), 10*time.Second, func(s string) bool {
			return strings.Count(s, `msg="rules reloaded"`)+strings.Count(s, `msg="reloading rules failed`) >= n
		})
	}
	relRules(t, rulesFile, "reload marker B", markB)
	a.Signal(t, syscall.SIGHUP)
	reloaded(1)
	runCommand(t, "cat", markA)
	runCommand(t, "cat", markB)
	if r := a.Expect(t, "rule B after the reload", func(r agenttest.Line) bool {
		return isAlert("reload marker A")(r) || isAlert("reload marker B")(r)
	}); r.Rule != "reload marker B" {
		t.Errorf("after the reload the old rule fired: %s", r.Raw)
	}

	// A broken file: the error names file:line:col, the rules stay.
	broken := "- rule: broken\n  desc: d\n  condition: proc.name = cat and (\n  output: o\n  priority: WARNING\n"
	if err := os.WriteFile(rulesFile, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Signal(t, syscall.SIGHUP)
	reloaded(2)
	if !regexp.MustCompile(`reloading rules failed; keeping the running rules" err=.*` + regexp.QuoteMeta(rulesFile) + `:3:\d+: rule 'broken'`).MatchString(a.Stderr()) {
		t.Errorf("reload error does not name file:line:col and the rule:\n%s", a.StderrTail(2000))
	}
	runCommand(t, "cat", markB)
	a.Expect(t, "rule B still active after a failed reload", isAlert("reload marker B"))

	// SIGTERM right after an event: it is still written.
	pid := runCommand(t, "cat", markB)
	stop := a.Stop(t, syscall.SIGTERM, 20*time.Second)
	var found bool
	for _, r := range a.Rest(t) {
		if isAlert("reload marker B")(r) && agenttest.Int(r.OutputFields["proc.pid"]) == int64(pid) {
			found = true
		}
	}
	if !found {
		t.Error("the alert of an open just before SIGTERM was not written")
	}
	if stop.Code != 0 {
		t.Errorf("SIGTERM: exit %d, want 0", stop.Code)
	}
	if !strings.Contains(stop.Stderr, `msg=stopped`) {
		t.Errorf("no clean stop logged:\n%s", a.StderrTail(2000))
	}
	a.CheckJSON(t)
	t.Logf("stopped %v after SIGTERM", stop.Took)
	// The lock went with the process: a new vigil could take it.
	if l, err := acquireLock(lock); err != nil {
		t.Errorf("lock still held after exit: %v", err)
	} else {
		l.release()
	}
}

// TestReliabilityContainerdHung points vigil at a containerd socket that
// accepts connections and never answers: events still flow promptly, and
// shutdown is not held up.
func TestReliabilityContainerdHung(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})

	// Alerts, not --events: the load must not crowd the probes out of
	// the output queue.
	rulesFile := filepath.Join(dir, "rules.yaml")
	y := fmt.Sprintf(`- rule: probe open
  desc: an open of a probe file
  condition: evt.type in (open, openat, openat2) and proc.name = cat and fd.name startswith "%s/probe-"
  output: probe opened (file=%%fd.name pid=%%proc.pid container=%%container.id)
  priority: WARNING
`, dir)
	if err := os.WriteFile(rulesFile, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "--rules", rulesFile, "--containerd-socket", sock)
	target := filepath.Join(dir, "hung-target")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	load := relOpenLoop(target, 1<<30)
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		load.Process.Kill()
		load.Wait()
	}()
	// Under that load, each probe's open must be alerted on within 2 s.
	for i := range 5 {
		probe := filepath.Join(dir, fmt.Sprintf("probe-%d", i))
		if err := os.WriteFile(probe, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		pid := runCommand(t, "cat", probe)
		r := a.Expect(t, "probe open under a hung containerd", func(r agenttest.Line) bool {
			return r.Rule == "probe open" && r.OutputFields["fd.name"] == probe
		})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("probe %d took %v to arrive", i, d)
		}
		if r.OutputFields["container.id"] != "host" || agenttest.Int(r.OutputFields["proc.pid"]) != int64(pid) {
			t.Errorf("probe alert fields %v, want container.id host and pid %d", r.OutputFields, pid)
		}
	}
	mu.Lock()
	accepted := len(conns)
	mu.Unlock()
	if accepted == 0 {
		t.Error("vigil never connected to the hung containerd socket: the test proves nothing")
	}
	stop := a.Stop(t, syscall.SIGTERM, 20*time.Second)
	if stop.Code != 0 || stop.Took > 5*time.Second {
		t.Errorf("SIGTERM with a hung containerd: exit %d after %v, want 0 within 5s", stop.Code, stop.Took)
	}
}
