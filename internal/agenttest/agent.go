package agenttest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deadlines of the driver.
const (
	// AttachTimeout bounds the wait for vigil to attach and serve metrics.
	AttachTimeout = 30 * time.Second
	// LineTimeout is how long Expect and ExpectNone wait by default.
	LineTimeout = 15 * time.Second
	// StopTimeout bounds the stop at the end of a test and the reading of
	// the lines left once vigil stopped.
	StopTimeout = 20 * time.Second
	// scrapeTimeout bounds one request to /metrics.
	scrapeTimeout = 5 * time.Second
	// rawBuffer is how many lines the driver reads off the pipe ahead of
	// their decoding, before it stops reading stdout (and vigil's queue
	// fills). Reading is a copy; decoding a line of `--events` costs tens of
	// microseconds, so a test that decoded as it read would hold vigil
	// back whenever the host is busy (other test packages run beside it)
	// and make vigil drop the very line the test waits for.
	rawBuffer = 400000
	// lineBuffer is how many decoded lines wait for the test to read them.
	lineBuffer = 1024
)

// Stdout says what the driver does with vigil's stdout.
type Stdout int

const (
	// ReadStdout reads and decodes every line.
	ReadStdout Stdout = iota
	// BlockStdout holds the pipe open and never reads it, as a stuck log
	// shipper would.
	BlockStdout
	// CloseStdout closes the pipe's read end before vigil starts.
	CloseStdout
)

// Config is how Start runs vigil.
type Config struct {
	// Bin is the vigil binary.
	Bin string
	// Args follow `run`. Unless they name their own, the driver adds a lock
	// file in the test's temporary directory (so that tests neither collide
	// with a vigil running on the machine nor wait for one another) and a
	// metrics listener on a loopback port the kernel picks.
	Args []string
	// Stdout is what becomes of vigil's stdout.
	Stdout Stdout
	// LineTimeout replaces the package's LineTimeout for this agent.
	LineTimeout time.Duration
}

// Agent is a running `vigil run`. Its methods are for the test's goroutine,
// except Drain, which reads in a goroutine of its own.
type Agent struct {
	cmd         *exec.Cmd
	stderr      *logBuffer
	lines       chan Line     // closed when stdout ends
	quit        chan struct{} // closed at cleanup: the reader stops
	exited      chan struct{} // closed once vigil exited; exitAt is then set
	decoded     chan struct{} // closed once every line read was decoded
	exitAt      time.Time
	metrics     string
	lineTimeout time.Duration
	client      *http.Client

	mu       sync.Mutex
	invalid  []string // stdout lines that are not a JSON object ending in a newline
	reported int      // how many of invalid the test was told of
	alerts   []Line   // the alerts and internal lines read so far
}

// Start runs `vigil run` as cfg says and returns once vigil has logged that
// its sensor is attached and its metrics are served, failing the test if it
// exits first or takes longer than AttachTimeout. The agent is stopped when
// the test ends, if the test did not stop it: a stop that is not clean, or
// a stdout line that is not JSON, then fails the test.
func Start(t testing.TB, cfg Config) *Agent {
	t.Helper()
	a := &Agent{
		stderr:      newLogBuffer(),
		lines:       make(chan Line, lineBuffer),
		quit:        make(chan struct{}),
		exited:      make(chan struct{}),
		decoded:     make(chan struct{}),
		lineTimeout: cfg.LineTimeout,
		client:      &http.Client{Timeout: scrapeTimeout},
	}
	if a.lineTimeout == 0 {
		a.lineTimeout = LineTimeout
	}
	a.cmd = exec.Command(cfg.Bin, append([]string{"run"}, withDefaults(t, cfg.Args)...)...)
	a.cmd.Stderr = a.stderr
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	a.cmd.Stdout = w
	var unread *os.File // BlockStdout: the read end nobody reads
	switch cfg.Stdout {
	case CloseStdout:
		r.Close()
	case BlockStdout:
		unread = r
	}
	if err := a.cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("starting vigil: %v", err)
	}
	w.Close()
	if cfg.Stdout == ReadStdout {
		go a.read(r)
	} else {
		close(a.lines)
		close(a.decoded)
	}
	go func() {
		a.cmd.Wait()
		a.exitAt = time.Now()
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			if e, ok := a.stop(syscall.SIGINT, StopTimeout); !ok {
				t.Errorf("vigil did not stop within %v of SIGINT at the end of the test: killed", StopTimeout)
			} else if e.Code != 0 {
				t.Errorf("vigil exited %d when stopped at the end of the test", e.Code)
			}
		}
		close(a.quit)
		if unread != nil {
			unread.Close()
		}
		select {
		case <-a.decoded:
		case <-time.After(StopTimeout):
			t.Errorf("the driver did not finish checking vigil's stdout within %v of its end", StopTimeout)
		}
		a.CheckJSON(t)
		if t.Failed() {
			t.Logf("vigil's stderr:\n%s", a.StderrTail(4000))
		}
	})
	a.WaitStderr(t, "attaching and serving metrics", AttachTimeout, func(s string) bool {
		return strings.Contains(s, `msg="sensor attached"`) && strings.Contains(s, `msg="serving metrics"`)
	})
	if a.metrics, err = MetricsAddr([]byte(a.stderr.String())); err != nil {
		t.Fatal(err)
	}
	return a
}

// withDefaults adds the driver's lock file and metrics listener to args,
// unless args name their own, and keeps the agent from resolving the host
// names of the rules it loads (Falco's name the Kubernetes API server and
// miner pools) through the machine's DNS, unless args say
// --no-resolve-names=false.
func withDefaults(t testing.TB, args []string) []string {
	var add []string
	if !hasFlag(args, "--no-resolve-names") {
		add = append(add, "--no-resolve-names")
	}
	if !hasFlag(args, "--lock-file") {
		add = append(add, "--lock-file", filepath.Join(t.TempDir(), "vigil.lock"))
	}
	if !hasFlag(args, "--metrics-addr") {
		add = append(add, "--metrics-addr", "127.0.0.1:0")
	}
	return append(add, args...)
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// read copies stdout line by line, as fast as vigil writes it, until it
// ends or the test does, and hands the lines to decode.
func (a *Agent) read(r io.ReadCloser) {
	defer r.Close()
	raws := make(chan []byte, rawBuffer)
	go a.decode(raws)
	defer close(raws)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) > 0 {
			select {
			case raws <- raw:
			case <-a.quit:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// decode turns the lines read into Lines for the test, and records those
// that are not JSON. Once the test ended it only checks the lines left, so
// that CheckJSON judges every line vigil wrote.
func (a *Agent) decode(raws <-chan []byte) {
	defer close(a.decoded)
	defer close(a.lines)
	quit := a.quit
	for raw := range raws {
		if quit == nil {
			if !json.Valid(raw) || raw[len(raw)-1] != '\n' {
				a.invalidLine(raw, nil)
			}
			continue
		}
		var l Line
		if err := json.Unmarshal(raw, &l); err != nil || raw[len(raw)-1] != '\n' {
			a.invalidLine(raw, err)
			continue
		}
		l.Raw = string(raw)
		select {
		case a.lines <- l:
		case <-quit:
			quit = nil
		}
	}
}

// invalidLine records a stdout line that is not a JSON object ending in a
// newline.
func (a *Agent) invalidLine(raw []byte, err error) {
	if err == nil && json.Valid(raw) {
		err = errors.New("no newline at the end")
	} else if err == nil {
		err = errors.New("not JSON")
	}
	a.mu.Lock()
	a.invalid = append(a.invalid, fmt.Sprintf("%q: %v", tail(string(raw), 300), err))
	a.mu.Unlock()
}

// Next returns the next line of stdout, waiting until deadline; it returns
// false at the deadline. It fails the test when stdout ended, or once vigil
// wrote a line that is not JSON.
func (a *Agent) Next(t testing.TB, deadline time.Time) (Line, bool) {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case l, ok := <-a.lines:
		a.failInvalid(t)
		if !ok {
			t.Fatalf("vigil's output ended (%s); stderr:\n%s", a.state(), a.StderrTail(3000))
		}
		a.keep(l)
		return l, true
	case <-timer.C:
		return Line{}, false
	}
}

// keep remembers l if it is an alert or an internal line (events are too
// many to keep).
func (a *Agent) keep(l Line) {
	if l.IsEvent() {
		return
	}
	a.mu.Lock()
	a.alerts = append(a.alerts, l)
	a.mu.Unlock()
}

// Alerts returns the alerts and internal lines read so far, by any method.
func (a *Agent) Alerts() []Line {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Line(nil), a.alerts...)
}

// Expect reads lines until one that match accepts and returns it; lines
// before it are passed over. It fails the test when none comes within the
// agent's line timeout.
func (a *Agent) Expect(t testing.TB, what string, match func(Line) bool) Line {
	t.Helper()
	deadline := time.Now().Add(a.lineTimeout)
	var (
		passed int
		last   []string // the last few lines passed over, for the failure
	)
	for {
		l, ok := a.Next(t, deadline)
		if !ok {
			t.Fatalf("%s: no matching line in %v; %d other lines read, the last: %q; stderr:\n%s",
				what, a.lineTimeout, passed, last, a.StderrTail(3000))
		}
		if match(l) {
			return l
		}
		passed++
		if last = append(last, tail(l.Raw, 300)); len(last) > 5 {
			last = last[1:]
		}
	}
}

// ExpectNone reads lines up to the first that marker accepts, and fails the
// test for every line on the way that match accepts, and when the marker
// does not come within the agent's line timeout. The test triggers the
// marker after the activity under test: vigil writes lines in the order the
// kernel reserved their records, so a line about the activity would come
// before the marker's.
func (a *Agent) ExpectNone(t testing.TB, what string, match, marker func(Line) bool) {
	t.Helper()
	deadline := time.Now().Add(a.lineTimeout)
	for {
		l, ok := a.Next(t, deadline)
		if !ok {
			t.Fatalf("%s: the marker did not come within %v", what, a.lineTimeout)
		}
		if match(l) {
			t.Errorf("%s: unexpected line: %s", what, strings.TrimSuffix(l.Raw, "\n"))
		}
		if marker(l) {
			return
		}
	}
}

// Drain reads every line left in a goroutine of its own, as a log shipper
// would, and returns a function that waits, up to StopTimeout, for stdout
// to end (vigil exits) and returns them.
func (a *Agent) Drain() func(t testing.TB) []Line {
	done := make(chan []Line, 1)
	go func() {
		var ls []Line
		for l := range a.lines {
			a.keep(l)
			ls = append(ls, l)
		}
		done <- ls
	}()
	return func(t testing.TB) []Line {
		t.Helper()
		select {
		case ls := <-done:
			a.failInvalid(t)
			return ls
		case <-time.After(StopTimeout):
			t.Fatalf("vigil's output did not end within %v (%s)", StopTimeout, a.state())
			return nil
		}
	}
}

// Rest returns the lines left once vigil has stopped, up to the end of
// stdout.
func (a *Agent) Rest(t testing.TB) []Line {
	t.Helper()
	return a.Drain()(t)
}

// CheckJSON fails the test for the stdout lines that were not a JSON object
// ending in a newline and that it was not yet told of.
func (a *Agent) CheckJSON(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	bad := a.invalid[a.reported:]
	a.reported = len(a.invalid)
	a.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("%d stdout lines are not JSON, the first: %s", len(bad), bad[0])
	}
}

// failInvalid ends the test once vigil wrote a line that is not JSON.
func (a *Agent) failInvalid(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	unseen := len(a.invalid) > a.reported
	a.mu.Unlock()
	if unseen {
		a.CheckJSON(t)
		t.FailNow()
	}
}

// Exit is how vigil ended.
type Exit struct {
	// Code is the exit code; -1 when a signal killed vigil.
	Code int
	// Took is the time from the signal (Stop) or from the start given to
	// Wait to the exit.
	Took time.Duration
	// Stderr is everything vigil logged.
	Stderr string
}

// Stop sends sig and waits up to within for vigil to exit. Past it, vigil is
// killed and the test fails.
func (a *Agent) Stop(t testing.TB, sig os.Signal, within time.Duration) Exit {
	t.Helper()
	e, ok := a.stop(sig, within)
	if !ok {
		t.Fatalf("vigil did not exit within %v of %v: killed; stderr:\n%s", within, sig, tail(e.Stderr, 3000))
	}
	return e
}

// stop is Stop without a test: ok is false when vigil had to be killed, and
// when sig could not be sent.
func (a *Agent) stop(sig os.Signal, within time.Duration) (Exit, bool) {
	start := time.Now()
	if err := a.cmd.Process.Signal(sig); errors.Is(err, os.ErrProcessDone) {
		<-a.exited
		return a.exit(start), true
	} else if err != nil {
		return Exit{Code: -1, Stderr: a.stderr.String() + "\nsignalling vigil: " + err.Error()}, false
	}
	select {
	case <-a.exited:
		return a.exit(start), true
	case <-time.After(within):
		a.cmd.Process.Kill()
		<-a.exited
		return a.exit(start), false
	}
}

// Wait waits up to within for vigil to exit on its own; the exit's Took
// counts from start.
func (a *Agent) Wait(t testing.TB, start time.Time, within time.Duration) Exit {
	t.Helper()
	select {
	case <-a.exited:
		return a.exit(start)
	case <-time.After(within):
		t.Fatalf("vigil did not exit within %v; stderr:\n%s", within, a.StderrTail(3000))
		return Exit{}
	}
}

func (a *Agent) exit(start time.Time) Exit {
	return Exit{Code: a.cmd.ProcessState.ExitCode(), Took: a.exitAt.Sub(start), Stderr: a.stderr.String()}
}

// state says whether vigil still runs, or how it exited.
func (a *Agent) state() string {
	select {
	case <-a.exited:
		return "vigil exited: " + a.cmd.ProcessState.String()
	default:
		return "vigil still runs"
	}
}

// Signal sends sig (SIGHUP: reload the rules) without waiting.
func (a *Agent) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling vigil: %v", err)
	}
}

// PID is vigil's process id.
func (a *Agent) PID() int { return a.cmd.Process.Pid }

// Stderr is what vigil logged so far.
func (a *Agent) Stderr() string { return a.stderr.String() }

// StderrTail is the last n bytes of what vigil logged so far.
func (a *Agent) StderrTail(n int) string { return tail(a.stderr.String(), n) }

// WaitStderr waits up to within for cond to accept what vigil logged, and
// returns it. It fails the test at the deadline, and when vigil exits first.
func (a *Agent) WaitStderr(t testing.TB, what string, within time.Duration, cond func(stderr string) bool) string {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		s, changed := a.stderr.read()
		if cond(s) {
			return s
		}
		select {
		case <-changed:
		case <-a.exited:
			// The log is complete once vigil exited.
			if s := a.stderr.String(); cond(s) {
				return s
			}
			t.Fatalf("vigil exited (%s) before %s; stderr:\n%s", a.cmd.ProcessState, what, a.StderrTail(3000))
		case <-deadline.C:
			t.Fatalf("vigil logged no sign of %s within %v; stderr:\n%s", what, within, a.StderrTail(3000))
		}
	}
}

// MetricsAddr is the address of vigil's metrics listener.
func (a *Agent) MetricsAddr() string { return a.metrics }

// Metrics scrapes vigil's /metrics, failing the test on error.
func (a *Agent) Metrics(t testing.TB) Metrics {
	t.Helper()
	m, err := ScrapeMetrics(context.Background(), a.client, a.metrics)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// WaitMetric scrapes until ok accepts the sample key, and returns it; it
// fails the test when ok has not within the given time.
func (a *Agent) WaitMetric(t testing.TB, key string, within time.Duration, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.After(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		v := a.Metrics(t).Get(t, key)
		if ok(v) {
			return v
		}
		select {
		case <-deadline:
			t.Fatalf("%s stayed at %v for %v", key, v, within)
		case <-tick.C:
		}
	}
}

// RunToExit runs cmd, a vigil (or a wrapper of it) that is expected to exit
// by itself, such as one that cannot start, and returns its exit code and
// stderr. It fails the test when cmd runs longer than AttachTimeout, the
// time vigil has to start.
func RunToExit(t testing.TB, cmd *exec.Cmd) (int, string) {
	t.Helper()
	stderr := newLogBuffer()
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(AttachTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit within %v; stderr:\n%s", cmd.Args, AttachTimeout, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// logBuffer keeps what a process writes and tells waiters of every write.
type logBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{} // closed and replaced on every write
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logBuffer) String() string {
	s, _ := l.read()
	return s
}

// read returns the text so far and a channel closed at the next write.
func (l *logBuffer) read() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.changed
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
