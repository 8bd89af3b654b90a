package response

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/metrics"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// Names of the internal records of the responder.
const (
	RuleRun     = "vigil internal: response"
	RuleSkipped = "vigil internal: response skipped"
)

// Outcomes of a run (the outcome member of a RuleRun record).
const (
	OutcomeSuccess        = "success"         // exit status 0
	OutcomeFailed         = "failed"          // another exit status
	OutcomeSignaled       = "signaled"        // killed by a signal vigil did not send
	OutcomeKilledTimeout  = "killed_timeout"  // its process group killed at the timeout
	OutcomeKilledShutdown = "killed_shutdown" // still running when vigil's drain timeout ended
	OutcomeStartFailed    = "start_failed"    // the program could not be started
	OutcomeDryRun         = "dry_run"         // mode log: recorded, not run
)

var outcomes = [...]string{OutcomeSuccess, OutcomeFailed, OutcomeSignaled, OutcomeKilledTimeout, OutcomeKilledShutdown, OutcomeStartFailed, OutcomeDryRun}

// Reasons a run is skipped (the reason member of a RuleSkipped record).
const (
	ReasonRateLimited = "rate_limited"
	ReasonQueueFull   = "queue_full"
	ReasonShutdown    = "shutdown"
)

var reasons = [...]string{ReasonRateLimited, ReasonQueueFull, ReasonShutdown}

// Defaults of the responder's settings.
const (
	DefaultConcurrency = 4
	DefaultQueue       = 64
	// TailBytes is how much of a program's stderr its record keeps (the
	// end).
	TailBytes = 1024
	// skipInterval spaces the records of skipped runs.
	skipInterval = time.Second
	// waitDelay bounds the wait for a killed program's output pipes (held
	// open by a process that left its group).
	waitDelay = 2 * time.Second
)

// Submitter takes internal records for the outputs without blocking:
// sink.Set.
type Submitter interface {
	SubmitUrgent(rec []byte) bool
}

// Config is the responder's settings.
type Config struct {
	Actions []Action
	// Mode is ModeRun, ModeLog or ModeOff.
	Mode string
	// Concurrency caps the programs running at once, Queue the runs
	// waiting for one of them.
	Concurrency, Queue int
}

// Deps are what a Responder takes from the program around it.
type Deps struct {
	Encoder *output.Encoder
	Out     Submitter
	Logger  *slog.Logger
	// Clock defaults to time.Now; it times rate limits.
	Clock func() time.Time
	// Environ is the environment programs start from (os.Environ()).
	Environ []string
}

// Responder runs actions. Fire is called from one goroutine (the sensor's
// reader); Stats and Families from any; Close once.
type Responder struct {
	mode    string
	actions []*action
	queue   chan job
	enc     *output.Encoder
	out     Submitter
	logger  *slog.Logger
	now     func() time.Time
	environ []string

	stop    chan struct{}
	closed  atomic.Bool
	workers sync.WaitGroup
	ticker  sync.WaitGroup
	// runs ends when Close gives up waiting: running programs are killed.
	runs       context.Context
	cancelRuns context.CancelFunc

	running, dropped atomic.Int64

	mu      sync.Mutex // guards pending
	pending map[skipKey]uint64
}

// action is a configured action with its counters and rate limits.
type action struct {
	Action
	command string
	// buckets are the rate limits by rule name, read and written by Fire
	// only.
	buckets  map[string]*bucket
	outcomes [len(outcomes)]atomic.Uint64
	skips    [len(reasons)]atomic.Uint64
	nanos    atomic.Uint64
}

type skipKey struct {
	action, rule, priority, reason string
}

// job is one run waiting for a worker.
type job struct {
	a              *action
	rule, priority string
	time           int64
	alert          []byte
	containerID    string
	namespace      string
	containerType  string
	pid            uint32
}

// New starts a responder, or returns nil when it has nothing to do (no
// actions, or mode off).
func New(cfg Config, deps Deps) *Responder {
	if cfg.Mode == ModeOff || len(cfg.Actions) == 0 {
		return nil
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	r := &Responder{mode: cfg.Mode, queue: make(chan job, cfg.Queue), enc: deps.Encoder, out: deps.Out,
		logger: deps.Logger, now: deps.Clock, environ: deps.Environ, stop: make(chan struct{}), pending: map[skipKey]uint64{}}
	if r.mode == "" {
		r.mode = ModeRun
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.environ == nil {
		r.environ = os.Environ()
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	for _, a := range cfg.Actions {
		r.actions = append(r.actions, &action{Action: a, command: strings.Join(a.Command, " "), buckets: map[string]*bucket{}})
	}
	r.runs, r.cancelRuns = context.WithCancel(context.Background())
	for range cfg.Concurrency {
		r.workers.Go(r.work)
	}
	r.ticker.Go(func() {
		t := time.NewTicker(skipInterval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.flushSkips()
			}
		}
	})
	return r
}

// matches reports whether rule r's alerts run a.
func (a *action) matches(r *rules.Rule) bool {
	if slices.Contains(a.Rules, r.Name) {
		return true
	}
	for _, t := range a.Tags {
		if slices.Contains(r.Tags, t) {
			return true
		}
	}
	return false
}

// Fire queues the runs of every action rule r's alert al (about event e)
// chooses, within their rate limits. It never blocks: a run that finds the
// queue full is skipped and counted.
func (r *Responder) Fire(rule *rules.Rule, al *output.Alert, e *event.Event) {
	var alert []byte
	for _, a := range r.actions {
		if !a.matches(rule) {
			continue
		}
		if r.closed.Load() {
			r.skip(a, rule.Name, al.Priority, ReasonShutdown)
			continue
		}
		b := a.buckets[rule.Name]
		if b == nil {
			b = newBucket(a.RateLimit, r.now())
			a.buckets[rule.Name] = b
		}
		if !b.allow(r.now()) {
			r.skip(a, rule.Name, al.Priority, ReasonRateLimited)
			continue
		}
		if alert == nil {
			// The alert's Falco JSON; the program's stdin.
			alert = r.enc.AppendAlert(make([]byte, 0, 1024), al)
		}
		j := job{a: a, rule: rule.Name, priority: al.Priority, time: al.Time, alert: alert, containerID: "host", pid: e.PID}
		if c := e.Container; c != nil {
			j.containerID, j.namespace, j.containerType = c.FullID, c.Namespace, c.Type
		}
		select {
		case r.queue <- j:
		default:
			r.skip(a, rule.Name, al.Priority, ReasonQueueFull)
		}
	}
}

// skip counts a skipped run, reported by the next skip record.
func (r *Responder) skip(a *action, rule, priority, reason string) {
	a.skips[slices.Index(reasons[:], reason)].Add(1)
	r.mu.Lock()
	r.pending[skipKey{a.Name, rule, priority, reason}]++
	r.mu.Unlock()
}

// flushSkips emits one record for each action, rule and reason skipped
// since the last call.
func (r *Responder) flushSkips() {
	r.mu.Lock()
	pending := r.pending
	r.pending = map[skipKey]uint64{}
	r.mu.Unlock()
	now := r.now().UnixNano()
	for k, n := range pending {
		text := fmt.Appendf(nil, "Response action skipped: action=%s rule=%s reason=%s count=%d", k.action, k.rule, k.reason, n)
		r.submit(output.Alert{Time: now, Rule: RuleSkipped, Priority: k.priority, Source: output.SourceInternal, Output: text,
			AppendFields: func(b []byte) []byte {
				b = appendStr(b, "action", k.action, false)
				b = appendStr(b, "rule", k.rule, true)
				b = appendStr(b, "reason", k.reason, true)
				b = append(b, `,"count":`...)
				return strconv.AppendUint(b, n, 10)
			}})
	}
}

func (r *Responder) submit(a output.Alert) {
	if !r.out.SubmitUrgent(r.enc.AppendAlert(make([]byte, 0, 1024), &a)) {
		r.dropped.Add(1)
	}
}

func appendStr(b []byte, name, v string, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = output.AppendString(b, name)
	b = append(b, ':')
	return output.AppendString(b, v)
}

// work runs queued jobs until Close; the jobs left then are skipped.
func (r *Responder) work() {
	for {
		select {
		case <-r.stop:
			for {
				select {
				case j := <-r.queue:
					r.skip(j.a, j.rule, j.priority, ReasonShutdown)
				default:
					return
				}
			}
		default:
		}
		select {
		case <-r.stop:
		case j := <-r.queue:
			r.execute(j)
		}
	}
}

// result is how one run ended.
type result struct {
	outcome  string
	exitCode int // -1 when the program did not exit by itself
	signal   string
	took     time.Duration
	stderr   []byte
	err      string
}

func (r *Responder) execute(j job) {
	var res result
	if r.mode == ModeLog {
		res = result{outcome: OutcomeDryRun, exitCode: -1}
	} else {
		r.running.Add(1)
		res = r.run(j)
		r.running.Add(-1)
	}
	a := j.a
	a.outcomes[slices.Index(outcomes[:], res.outcome)].Add(1)
	a.nanos.Add(uint64(res.took))
	if res.outcome != OutcomeSuccess && res.outcome != OutcomeDryRun {
		r.logger.Warn("response action did not succeed", "action", a.Name, "rule", j.rule, "outcome", res.outcome,
			"exit_code", res.exitCode, "err", res.err, "stderr", string(res.stderr))
	}
	text := fmt.Appendf(nil, "Response action %s: action=%s rule=%s container=%s pid=%d", res.outcome, a.Name, j.rule, j.containerID, j.pid)
	if res.exitCode >= 0 {
		text = fmt.Appendf(text, " exit_code=%d", res.exitCode)
	}
	if res.outcome != OutcomeDryRun {
		text = fmt.Appendf(text, " duration=%s", res.took.Round(time.Millisecond))
	} else {
		text = fmt.Appendf(text, " command=%s", a.command)
	}
	r.submit(output.Alert{Time: r.now().UnixNano(), Rule: RuleRun, Priority: j.priority, Source: output.SourceInternal, Output: text,
		AppendFields: func(b []byte) []byte {
			b = appendStr(b, "action", a.Name, false)
			b = appendStr(b, "rule", j.rule, true)
			b = appendStr(b, "outcome", res.outcome, true)
			b = appendStr(b, "mode", r.mode, true)
			b = appendStr(b, "command", a.command, true)
			b = appendStr(b, "container.id", j.containerID, true)
			b = append(b, `,"proc.pid":`...)
			b = strconv.AppendUint(b, uint64(j.pid), 10)
			b = append(b, `,"exit_code":`...)
			if res.exitCode >= 0 {
				b = strconv.AppendInt(b, int64(res.exitCode), 10)
			} else {
				b = append(b, "null"...)
			}
			b = append(b, `,"signal":`...)
			if res.signal != "" {
				b = output.AppendString(b, res.signal)
			} else {
				b = append(b, "null"...)
			}
			b = append(b, `,"duration_ms":`...)
			b = strconv.AppendInt(b, res.took.Milliseconds(), 10)
			b = append(b, `,"stderr_tail":`...)
			b = output.AppendString(b, string(res.stderr))
			if res.err != "" {
				b = appendStr(b, "error", res.err, true)
			}
			return b
		}})
}

// env is the program's environment: vigil's, and what the alert is about.
func (r *Responder) env(j job) []string {
	return append(slices.Clip(r.environ),
		"VIGIL_ACTION="+j.a.Name,
		"VIGIL_RULE="+j.rule,
		"VIGIL_PRIORITY="+j.priority,
		"VIGIL_TIME="+strings.Trim(string(output.AppendTime(nil, j.time)), `"`),
		"VIGIL_PID="+strconv.FormatUint(uint64(j.pid), 10),
		"VIGIL_CONTAINER_ID="+j.containerID,
		"VIGIL_CONTAINER_NAMESPACE="+j.namespace,
		"VIGIL_CONTAINER_TYPE="+j.containerType,
	)
}

// run runs j's program in a process group of its own, with the alert on
// its stdin, killing the group at the action's timeout.
func (r *Responder) run(j job) result {
	a := j.a
	cmd := exec.Command(a.Command[0], a.Command[1:]...)
	cmd.Stdin = bytes.NewReader(j.alert)
	cmd.Env = r.env(j)
	stderr := &tail{max: TailBytes}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = waitDelay
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{outcome: OutcomeStartFailed, exitCode: -1, took: time.Since(start), err: err.Error()}
	}
	pgid := cmd.Process.Pid
	var why atomic.Pointer[string]
	kill := func(outcome string) func() {
		return func() {
			if why.CompareAndSwap(nil, &outcome) {
				// The group leader is not reaped before Wait returns, so the
				// group id is still this run's.
				syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}
	}
	timer := time.AfterFunc(a.Timeout, kill(OutcomeKilledTimeout))
	stopKill := context.AfterFunc(r.runs, kill(OutcomeKilledShutdown))
	err := cmd.Wait()
	timer.Stop()
	stopKill()
	res := result{exitCode: -1, took: time.Since(start), stderr: stderr.bytes()}
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		res.err = err.Error()
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case why.Load() != nil:
		res.outcome = *why.Load()
		if ws.Signaled() {
			res.signal = ws.Signal().String()
		}
	case ws.Signaled():
		res.outcome, res.signal = OutcomeSignaled, ws.Signal().String()
	case ws.ExitStatus() == 0:
		res.outcome, res.exitCode = OutcomeSuccess, 0
	default:
		res.outcome, res.exitCode = OutcomeFailed, ws.ExitStatus()
	}
	return res
}

// Close stops taking runs, skips those still queued and waits for the
// running ones until ctx ends, then kills what is left. It emits the last
// skip record.
func (r *Responder) Close(ctx context.Context) {
	if r.closed.Swap(true) {
		return
	}
	close(r.stop)
	done := make(chan struct{})
	go func() {
		r.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		r.cancelRuns()
		<-done
	}
	r.cancelRuns()
	r.ticker.Wait()
	r.flushSkips()
}

// ActionStats are one action's counters.
type ActionStats struct {
	Name string
	// Outcomes and Skipped count runs by outcome and skips by reason.
	Outcomes map[string]uint64
	Skipped  map[string]uint64
	// Seconds is the time its programs ran, in total.
	Seconds float64
}

// Stats are the responder's counters.
type Stats struct {
	Actions []ActionStats
	// Queued wait for a worker; Running are programs running now.
	Queued, Running int
	// Dropped are records an output's queue refused.
	Dropped uint64
}

// Stats returns the counters.
func (r *Responder) Stats() Stats {
	st := Stats{Queued: len(r.queue), Running: int(r.running.Load()), Dropped: uint64(r.dropped.Load())}
	for _, a := range r.actions {
		as := ActionStats{Name: a.Name, Outcomes: map[string]uint64{}, Skipped: map[string]uint64{},
			Seconds: time.Duration(a.nanos.Load()).Seconds()}
		for i, o := range outcomes {
			as.Outcomes[o] = a.outcomes[i].Load()
		}
		for i, s := range reasons {
			as.Skipped[s] = a.skips[i].Load()
		}
		st.Actions = append(st.Actions, as)
	}
	return st
}

// Families are the responder's metrics.
func (r *Responder) Families() []metrics.Family {
	st := r.Stats()
	runs := metrics.Family{Name: "vigil_response_runs_total", Help: "Response action runs, by action and outcome (dry_run: recorded in mode log, not run).", Kind: "counter"}
	skips := metrics.Family{Name: "vigil_response_skipped_total", Help: "Response action runs skipped, by action and reason (rate_limited, queue_full, shutdown).", Kind: "counter"}
	secs := metrics.Family{Name: "vigil_response_run_seconds_total", Help: "Time response action programs ran, by action.", Kind: "counter"}
	for _, a := range st.Actions {
		name := metrics.Label{Name: "action", Value: a.Name}
		for _, o := range outcomes {
			runs.Samples = append(runs.Samples, metrics.Sample{Labels: []metrics.Label{name, {Name: "outcome", Value: o}}, Value: float64(a.Outcomes[o])})
		}
		for _, s := range reasons {
			skips.Samples = append(skips.Samples, metrics.Sample{Labels: []metrics.Label{name, {Name: "reason", Value: s}}, Value: float64(a.Skipped[s])})
		}
		secs.Samples = append(secs.Samples, metrics.Sample{Labels: []metrics.Label{name}, Value: a.Seconds})
	}
	gauge := func(name, help string, v float64) metrics.Family {
		return metrics.Family{Name: name, Help: help, Kind: "gauge", Samples: []metrics.Sample{{Value: v}}}
	}
	return []metrics.Family{runs, skips, secs,
		gauge("vigil_response_queue_depth", "Response action runs waiting for a worker.", float64(st.Queued)),
		gauge("vigil_response_running", "Response action programs running now.", float64(st.Running)),
		{Name: "vigil_response_record_drops_total", Help: "Response records an output's queue refused.", Kind: "counter",
			Samples: []metrics.Sample{{Value: float64(st.Dropped)}}},
	}
}

// bucket is a token bucket: up to runs tokens, refilled at runs per per.
type bucket struct {
	tokens, max float64
	rate        float64 // tokens per nanosecond
	last        time.Time
}

func newBucket(l RateLimit, now time.Time) *bucket {
	return &bucket{tokens: float64(l.Runs), max: float64(l.Runs), rate: float64(l.Runs) / float64(l.Per), last: now}
}

func (b *bucket) allow(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.max, b.tokens+float64(d)*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.b) > t.max {
		return t.b[len(t.b)-t.max:]
	}
	return t.b
}
