package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// relStdout says what a relAgent does with vigil's stdout.
type relStdout int

const (
	// relRead reads and parses every line.
	relRead relStdout = iota
	// relBlock holds the pipe open and never reads it.
	relBlock
	// relClosed closes the pipe's read end before vigil starts.
	relClosed
)

// relRecord is a stdout line of any shape (alert, event, internal).
type relRecord struct {
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Output       string         `json:"output"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Event        string         `json:"event"`
	Fields       map[string]any `json:"fields"`
	// Raw is the line as written.
	Raw string `json:"-"`
}

// relAgent is a `vigil run` of the reliability tests: its stdout is read,
// blocked or closed, its stderr kept, its exit status observed.
type relAgent struct {
	cmd     *exec.Cmd
	stderr  *syncBuffer
	lines   chan relRecord
	exited  chan struct{}
	state   *os.ProcessState
	keep    *os.File // relBlock: the read end nobody reads
	metrics string   // address of /metrics, when --metrics-addr was given

	mu      sync.Mutex
	invalid []string // stdout lines that were not JSON
	seen    []relRecord
}

// relLockArgs gives each agent its own lock file (unless args name one), so
// the tests neither collide with a vigil running on the machine nor need
// one another to have exited.
func relLockArgs(t *testing.T, args []string) []string {
	for _, a := range args {
		if strings.HasPrefix(a, "--lock-file") {
			return args
		}
	}
	return append([]string{"--lock-file", filepath.Join(t.TempDir(), "vigil.lock")}, args...)
}

// relStart runs `vigil run args...` and waits until it has attached (and,
// with --metrics-addr, serves metrics).
func relStart(t *testing.T, mode relStdout, args ...string) *relAgent {
	t.Helper()
	testutil.RequireRoot(t)
	args = relLockArgs(t, args)
	a := &relAgent{stderr: &syncBuffer{}, lines: make(chan relRecord, 200000), exited: make(chan struct{})}
	a.cmd = exec.Command(vigilBin, append([]string{"run"}, args...)...)
	a.cmd.Stderr = a.stderr
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	a.cmd.Stdout = w
	switch mode {
	case relClosed:
		r.Close()
	case relBlock:
		a.keep = r
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var reading sync.WaitGroup
	if mode == relRead {
		reading.Go(func() { a.read(r) })
	} else {
		close(a.lines)
	}
	go func() {
		reading.Wait()
		a.cmd.Wait()
		a.state = a.cmd.ProcessState
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			a.cmd.Process.Kill()
			<-a.exited
		}
		if a.keep != nil {
			a.keep.Close()
		}
		if t.Failed() {
			t.Logf("vigil stderr:\n%s", relTail(a.stderr.String(), 4000))
		}
	})
	want := []string{"sensor attached"}
	if slicesContainsPrefix(args, "--metrics-addr") {
		want = append(want, "serving metrics")
	}
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !relHasAll(a.stderr.String(), want) {
		select {
		case <-a.exited:
			t.Fatalf("vigil exited (%v) before it attached; stderr:\n%s", a.state, a.stderr)
		case <-deadline:
			t.Fatalf("vigil did not attach in 30s; stderr:\n%s", a.stderr)
		case <-tick.C:
		}
	}
	if m := regexp.MustCompile(`msg="serving metrics" addr=(\S+)`).FindStringSubmatch(a.stderr.String()); m != nil {
		a.metrics = m[1]
	}
	return a
}

func slicesContainsPrefix(args []string, prefix string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

func relHasAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func relTail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// read parses stdout line by line until EOF.
func (a *relAgent) read(r io.ReadCloser) {
	defer r.Close()
	defer close(a.lines)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var rec relRecord
			if jerr := json.Unmarshal(line, &rec); jerr != nil || line[len(line)-1] != '\n' {
				a.mu.Lock()
				a.invalid = append(a.invalid, fmt.Sprintf("%q: %v", relTail(string(line), 300), jerr))
				a.mu.Unlock()
			} else {
				rec.Raw = string(line)
				a.lines <- rec
			}
		}
		if err != nil {
			return
		}
	}
}

// checkJSON fails the test if any stdout line was not a JSON object ending
// in a newline.
func (a *relAgent) checkJSON(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.invalid) > 0 {
		t.Errorf("%d stdout lines are not JSON, first: %s", len(a.invalid), a.invalid[0])
	}
}

// next returns the next stdout record, false at EOF or after d.
func (a *relAgent) next(d <-chan time.Time) (relRecord, bool) {
	select {
	case r, ok := <-a.lines:
		if ok {
			a.mu.Lock()
			a.seen = append(a.seen, r)
			a.mu.Unlock()
		}
		return r, ok
	case <-d:
		return relRecord{}, false
	}
}

// expect reads records until one matches, within 15 s.
func (a *relAgent) expect(t *testing.T, what string, match func(relRecord) bool) relRecord {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r, ok := a.next(deadline)
		if !ok {
			t.Fatalf("%s: no matching record in 15s (or output ended); stderr:\n%s", what, relTail(a.stderr.String(), 3000))
		}
		if match(r) {
			return r
		}
	}
}

// signal sends sig and waits up to d for vigil to exit; it returns the exit
// code and how long the exit took.
func (a *relAgent) signal(t *testing.T, sig syscall.Signal, d time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling vigil: %v", err)
	}
	return a.wait(t, d, start)
}

// wait waits up to d for vigil to exit on its own and returns its code.
func (a *relAgent) wait(t *testing.T, d time.Duration, start time.Time) (int, time.Duration) {
	t.Helper()
	select {
	case <-a.exited:
	case <-time.After(d):
		t.Fatalf("vigil did not exit within %v; stderr:\n%s", d, relTail(a.stderr.String(), 3000))
	}
	return a.state.ExitCode(), time.Since(start)
}

// rest reads every remaining record until EOF (after the agent stopped).
func (a *relAgent) rest(t *testing.T) []relRecord {
	t.Helper()
	var out []relRecord
	deadline := time.After(30 * time.Second)
	for {
		r, ok := a.next(deadline)
		if !ok {
			select {
			case <-a.exited:
				return out
			default:
				t.Fatal("vigil's output did not end")
			}
		}
		out = append(out, r)
	}
}

// rss returns vigil's resident set size in bytes.
func (a *relAgent) rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading vigil's status: %v", err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in %s", b)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// relMetrics is a scrape: the text of /metrics and its samples by
// `name{labels}`.
type relMetrics struct {
	text    string
	samples map[string]float64
}

// scrape fetches /metrics.
func (a *relAgent) scrape(t *testing.T) relMetrics {
	t.Helper()
	if a.metrics == "" {
		t.Fatal("vigil serves no metrics (no --metrics-addr)")
	}
	resp, err := http.Get("http://" + a.metrics + "/metrics")
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping metrics: %v %s", err, resp.Status)
	}
	m := relMetrics{text: string(b), samples: map[string]float64{}}
	for _, line := range strings.Split(m.text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("malformed metrics line %q", line)
		}
		m.samples[line[:i]] = v
	}
	return m
}

// get returns a sample, failing when it is missing.
func (m relMetrics) get(t *testing.T, key string) float64 {
	t.Helper()
	v, ok := m.samples[key]
	if !ok {
		t.Fatalf("metrics lack %s", key)
	}
	return v
}

// waitMetric scrapes until ok accepts the value of key, within d.
func (a *relAgent) waitMetric(t *testing.T, key string, d time.Duration, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		v := a.scrape(t).get(t, key)
		if ok(v) {
			return v
		}
		select {
		case <-deadline:
			t.Fatalf("%s stayed at %v for %v", key, v, d)
		case <-tick.C:
		}
	}
}

// relTotals are the per-kind counters of vigil's "final counts" log line.
type relTotals map[string]map[string]uint64

// finalCounts parses the "final counts" line vigil logs when it stops.
func (a *relAgent) finalCounts(t *testing.T) relTotals {
	t.Helper()
	var line string
	for _, l := range strings.Split(a.stderr.String(), "\n") {
		if strings.Contains(l, `msg="final counts"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("vigil logged no final counts; stderr:\n%s", relTail(a.stderr.String(), 3000))
	}
	out := relTotals{}
	for _, m := range regexp.MustCompile(`(\w+)\.(\w+)=(\d+)`).FindAllStringSubmatch(line, -1) {
		n, _ := strconv.ParseUint(m[3], 10, 64)
		if out[m[1]] == nil {
			out[m[1]] = map[string]uint64{}
		}
		out[m[1]][m[2]] = n
	}
	for k := 1; k < event.NumKinds; k++ {
		if out[event.Kind(k).String()] == nil {
			t.Fatalf("final counts lack kind %s: %s", event.Kind(k), line)
		}
	}
	return out
}

// relKindOf maps an event record's "event" (evt.type) to its kind's name.
func relKindOf(evtType string) string {
	for ty := range event.NumTypes {
		if event.Type(ty).String() == evtType {
			return event.Type(ty).Kind().String()
		}
	}
	return "unknown"
}

// relNum reads a JSON number field.
func relNum(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// relRunToExit runs vigil (or a wrapper) that is expected to fail at start
// and returns its exit code and stderr.
func relRunToExit(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit in 30s; stderr:\n%s", cmd.Args, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}
