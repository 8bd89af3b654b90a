package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// Deps are what sinks take from the program around them.
type Deps struct {
	Encoder *output.Encoder
	// Stdout is where the stdout sink writes; Stderr gets the output of
	// program sinks.
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
	// QueueDepth and QueueBytes bound the queue of a sink that does not
	// set its own.
	QueueDepth, QueueBytes int
	// DrainTimeout bounds how long a sink that a reload removed may take
	// to deliver what it has queued.
	DrainTimeout time.Duration
	// UserAgent is the User-Agent of HTTP requests.
	UserAgent string
}

// Set is the sinks of one configuration. Alert and Event are called from
// one goroutine (the sensor's reader); SubmitUrgent, Stats and Sinks from
// any; Update, Reopen and Shutdown are serialised.
type Set struct {
	deps  Deps
	sinks atomic.Pointer[[]*sink]
	mu    sync.Mutex // serialises Prepare/Commit, Reopen and Shutdown

	statsMu  sync.Mutex
	draining []*sink
	retired  output.Stats

	failed   chan struct{}
	failOnce sync.Once
	failErr  atomic.Pointer[error]

	// The record being delivered by Alert or Event, encoded once per
	// format on first need.
	alert    *output.Alert
	severity uint8
	lines    [output.NumFormats][]byte
	encoded  [output.NumFormats]bool
	event    *event.Event
	evLine   []byte
	evDone   bool
	// evDirect is set while the event goes to one sink only, which then
	// encodes it straight into its queue, without the copy through evLine.
	evDirect bool
	// evCache holds the rendered process fields of the latest processes'
	// events (output.EventCache), used only by Event's goroutine.
	evCache output.EventCache
}

// sink is one configured sink: its queue and writer goroutine, its
// destination and how its records are framed.
type sink struct {
	set     *Set
	cfg     Config
	w       *output.Writer
	dest    output.Destination
	frame   framer
	stopped chan struct{} // closed when the writer is shut down

	// Bound once, so that queueing a record allocates nothing.
	appendAlert, appendEvent func([]byte) []byte
}

// New starts the sinks of cfgs, or a stdout sink when there are none.
func New(cfgs []Config, deps Deps) (*Set, error) {
	s := &Set{deps: deps, failed: make(chan struct{})}
	if s.deps.Logger == nil {
		s.deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c, err := s.Prepare(cfgs)
	if err != nil {
		return nil, err
	}
	c.Commit()
	return s, nil
}

// Single is a set of one stdout sink in Falco's format, writing through w:
// for callers that own the writer.
func Single(enc *output.Encoder, w *output.Writer) *Set {
	s := &Set{deps: Deps{Encoder: enc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, failed: make(chan struct{})}
	k := s.bind(&sink{cfg: Config{Type: TypeStdout}, w: w, frame: lines{}, stopped: make(chan struct{})})
	s.watch(k)
	s.sinks.Store(&[]*sink{k})
	return s
}

func (s *Set) bind(k *sink) *sink {
	k.set = s
	k.appendAlert = k.alertRecord
	k.appendEvent = k.eventRecord
	return k
}

// Change is a new configuration's sinks, started but not yet receiving
// records: Commit swaps them in, Abort stops them.
type Change struct {
	s                *Set
	next             []*sink
	created, removed []*sink
}

// Prepare starts the sinks of cfgs that are not running already: a sink
// whose configuration did not change keeps running as it is, and one whose
// destination did not change (only its format, minimum priority or name)
// keeps its queue and connection. The running sinks stay in use until
// Commit. When a sink cannot start (a file that cannot be opened, a
// program not found) nothing changes and the error says which.
func (s *Set) Prepare(cfgs []Config) (*Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(cfgs) == 0 {
		cfgs = []Config{{Type: TypeStdout}}
	}
	var running []*sink
	if p := s.sinks.Load(); p != nil {
		running = *p
	}
	c := &Change{s: s}
	kept := map[*output.Writer]bool{}
	for i := range cfgs {
		cfg := cfgs[i]
		k := s.reuse(running, &cfg)
		if k == nil {
			var err error
			if k, err = s.start(&cfg); err != nil {
				c.Abort()
				return nil, fmt.Errorf("starting output %s: %w", cfg.String(), err)
			}
			c.created = append(c.created, k)
		}
		kept[k.w] = true
		c.next = append(c.next, k)
	}
	for _, k := range running {
		if !kept[k.w] {
			c.removed = append(c.removed, k)
		}
	}
	return c, nil
}

// reuse returns a running sink for cfg: the same one when cfg did not
// change, or one sharing its writer when only how records are chosen and
// encoded changed. stdout always keeps its writer: two writers on one
// stdout could interleave their bytes.
func (s *Set) reuse(running []*sink, cfg *Config) *sink {
	for _, k := range running {
		if k.cfg.equal(cfg) {
			return k
		}
	}
	for _, k := range running {
		if sameDestination(&k.cfg, cfg) {
			if k.cfg.Queue != cfg.Queue || k.cfg.QueueBytes != cfg.QueueBytes {
				s.deps.Logger.Warn("stdout's queue size changes only at restart", "output", cfg.SinkName())
			}
			return s.bind(&sink{cfg: *cfg, w: k.w, dest: k.dest, frame: s.framer(cfg), stopped: k.stopped})
		}
	}
	return nil
}

// sameDestination reports whether two configurations deliver to the same
// place the same way (for stdout: always; its queue is kept too).
func sameDestination(a, b *Config) bool {
	if a.Type != b.Type {
		return false
	}
	if a.Type == TypeStdout {
		return true
	}
	x, y := *a, *b
	x.Name, y.Name = "", ""
	x.Format, y.Format = 0, 0
	x.MinPriority, y.MinPriority = 0, 0
	x.Events, y.Events = nil, nil
	return x.equal(&y) && (a.Type != TypeHTTP || a.Format.JSON() == b.Format.JSON())
}

// framer is how cfg's records are framed.
func (s *Set) framer(cfg *Config) framer {
	switch cfg.Type {
	case TypeHTTP:
		return bodies{}
	case TypeSyslog:
		facility, ok := facilities[cfg.Syslog.Facility]
		if !ok {
			facility = facilities["user"]
		}
		return newSyslogHeader(facility, s.deps.Encoder.Hostname(), os.Getpid())
	}
	return lines{}
}

// start starts a sink's destination and writer.
func (s *Set) start(cfg *Config) (*sink, error) {
	var (
		dest     output.Destination
		failFast bool
		err      error
	)
	switch cfg.Type {
	case TypeStdout:
		dest, failFast = output.StreamDropBehind(s.deps.Stdout, s.dropBehindOff(cfg)), true
	case TypeFile:
		dest, err = newFileDest(cfg.File.Path, s.dropBehindOff(cfg))
	case TypeHTTP:
		contentType := "application/json"
		if !cfg.Format.JSON() {
			contentType = "text/plain"
		}
		dest, err = newHTTPDest(&cfg.HTTP, contentType, s.deps.UserAgent)
	case TypeSyslog:
		dest = newSyslogDest(&cfg.Syslog)
	case TypeProgram:
		dest, err = newProgramDest(&cfg.Program, s.deps.Stderr, s.deps.Logger.With("output", cfg.SinkName()))
	default:
		err = fmt.Errorf("unknown output type %q", cfg.Type)
	}
	if err != nil {
		return nil, err
	}
	depth, bytes := cfg.Queue, cfg.QueueBytes
	if depth == 0 {
		depth = s.deps.QueueDepth
	}
	if bytes == 0 {
		bytes = s.deps.QueueBytes
	}
	w := output.NewDestinationWriter(dest, output.WriterOptions{Depth: depth, MaxBytes: bytes, FailFast: failFast})
	k := s.bind(&sink{cfg: *cfg, w: w, dest: dest, frame: s.framer(cfg), stopped: make(chan struct{})})
	if failFast {
		s.watch(k)
	}
	return k, nil
}

// dropBehindOff returns what a stream or file output calls when the kernel
// refuses RWF_DONTCACHE (output.DropBehind): it says so once, and the
// output goes on with plain writes.
func (s *Set) dropBehindOff(cfg *Config) func(error) {
	return func(err error) {
		s.deps.Logger.Info("output written through the page cache: the kernel or file system refuses RWF_DONTCACHE (Linux 6.14+)",
			"output", cfg.SinkName(), "err", err)
	}
}

// watch makes a fail-fast sink's failure the set's.
func (s *Set) watch(k *sink) {
	go func() {
		select {
		case <-k.w.Failed():
			err := k.w.Err()
			s.failErr.CompareAndSwap(nil, &err)
			s.failOnce.Do(func() { close(s.failed) })
		case <-k.stopped:
		}
	}()
}

// Commit makes the new sinks receive records and lets the removed ones
// deliver what they have queued (within Deps.DrainTimeout) and stop.
func (c *Change) Commit() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statsMu.Lock()
	s.draining = append(s.draining, c.removed...)
	s.statsMu.Unlock()
	s.sinks.Store(&c.next)
	for _, k := range c.removed {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.deps.DrainTimeout)
			defer cancel()
			if err := k.shutdown(ctx); err != nil {
				s.deps.Logger.Warn("removed output did not deliver its queue", "output", k.cfg.SinkName(), "err", err)
			}
			s.retire(k)
		}()
	}
}

// Abort stops the sinks Prepare started.
func (c *Change) Abort() {
	for _, k := range c.created {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		k.shutdown(ctx)
		cancel()
	}
}

// retire moves a stopped sink's counters into the set's totals, which
// never go backwards.
func (s *Set) retire(k *sink) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := k.w.Stats()
	s.retired.Written += st.Written
	s.retired.Dropped += st.Dropped
	s.retired.Failed += st.Failed
	s.retired.Bytes += st.Bytes
	for i, d := range s.draining {
		if d == k {
			s.draining = append(s.draining[:i], s.draining[i+1:]...)
			break
		}
	}
}

func (k *sink) shutdown(ctx context.Context) error {
	err := k.w.Shutdown(ctx)
	select {
	case <-k.stopped:
	default:
		close(k.stopped)
	}
	return err
}

// severityOf is a priority's syslog severity; records without one are
// Informational.
func severityOf(p rules.Priority) uint8 {
	if p >= rules.PriorityEmergency && p <= rules.PriorityDebug {
		return uint8(p - rules.PriorityEmergency)
	}
	return uint8(rules.PriorityInformational - rules.PriorityEmergency)
}

// Alert queues a to every sink whose minimum priority p meets, encoding it
// once per format, and returns how many sinks dropped it (their queue was
// full). It allocates nothing once buffers have grown.
func (s *Set) Alert(a *output.Alert, p rules.Priority) (dropped int) {
	s.alert, s.severity = a, severityOf(p)
	s.encoded = [output.NumFormats]bool{}
	for _, k := range *s.sinks.Load() {
		if !p.AtLeast(k.cfg.MinPriority) {
			continue
		}
		if !k.w.SubmitFunc(k.appendAlert) {
			dropped++
		}
	}
	s.alert = nil
	return dropped
}

func (k *sink) alertRecord(b []byte) []byte {
	s, f := k.set, k.cfg.Format
	if !s.encoded[f] {
		s.lines[f] = s.deps.Encoder.Append(f, s.lines[f][:0], s.alert)
		s.encoded[f] = true
	}
	return k.frame.frame(b, s.lines[f], s.alert.Time, s.severity, msgAlert)
}

// Event queues e's event record to every sink that takes event records,
// and returns how many dropped it. Events yield to alerts: they never take
// the last quarter of a queue (Writer.SubmitBulkFunc).
func (s *Set) Event(e *event.Event) (dropped int) {
	sinks := *s.sinks.Load()
	n := 0
	for _, k := range sinks {
		if k.cfg.events() {
			n++
		}
	}
	s.event, s.evDone, s.evDirect = e, false, n == 1
	for _, k := range sinks {
		if k.cfg.events() && !k.w.SubmitBulkFunc(k.appendEvent) {
			dropped++
		}
	}
	s.event = nil
	return dropped
}

func (k *sink) eventRecord(b []byte) []byte {
	s := k.set
	if _, ok := k.frame.(lines); ok && s.evDirect {
		return s.deps.Encoder.AppendEventCached(b, s.event, &s.evCache)
	}
	if !s.evDone {
		s.evLine = s.deps.Encoder.AppendEventCached(s.evLine[:0], s.event, &s.evCache)
		s.evDone = true
	}
	return k.frame.frame(b, s.evLine, s.event.Time, severityOf(0), msgEvent)
}

// Buffer returns a buffer to encode an internal record into, for
// SubmitUrgent.
func (s *Set) Buffer() []byte { return make([]byte, 0, 512) }

// SubmitUrgent queues an internal record (Falco's JSON shape, as
// output.Encoder.AppendInternal writes it) ahead of alerts to every sink of
// the falco format whose minimum priority its priority meets, except sinks
// whose latest delivery failed: the record that reports a failing output
// would fail there too, and its failure would be reported in turn, one
// record each status interval for as long as the output is away. It
// reports false when a sink dropped it.
func (s *Set) SubmitUrgent(rec []byte) bool {
	// Internal records are a few a second at most: reading back their time
	// and priority costs nothing that matters.
	var head struct {
		Time     time.Time `json:"time"`
		Priority string    `json:"priority"`
	}
	json.Unmarshal(rec, &head)
	p, _ := rules.ParsePriority(head.Priority)
	ok := true
	for _, k := range *s.sinks.Load() {
		if k.cfg.Format != output.FormatFalco || !p.AtLeast(k.cfg.MinPriority) || k.w.Failing() {
			continue
		}
		if !k.w.SubmitUrgent(k.frame.frame(k.w.Buffer(), rec, head.Time.UnixNano(), severityOf(p), msgInternal)) {
			ok = false
		}
	}
	return ok
}

// Stats returns the counters of every sink added up, including sinks a
// reload removed, so that the totals never go backwards.
func (s *Set) Stats() output.Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	total := s.retired
	add := func(k *sink) {
		st := k.w.Stats()
		total.Written += st.Written
		total.Dropped += st.Dropped
		total.Failed += st.Failed
		total.Bytes += st.Bytes
		total.Queued += st.Queued
		total.QueuedBytes += st.QueuedBytes
	}
	for _, k := range s.draining {
		add(k)
	}
	for _, k := range *s.sinks.Load() {
		add(k)
	}
	return total
}

// Stats of one sink: its writer's counters (Written are the records sent),
// how often it reconnected, restarted its program or reopened its file,
// and its latest error.
type Stats struct {
	Name, Type string
	Format     output.Format
	output.Stats
	Restarts uint64
	LastErr  error
}

// restarter is a destination that counts its reconnections.
type restarter interface{ Restarts() uint64 }

// Sinks returns each running sink's counters, in configuration order.
func (s *Set) Sinks() []Stats {
	sinks := *s.sinks.Load()
	out := make([]Stats, len(sinks))
	for i, k := range sinks {
		out[i] = Stats{Name: k.cfg.SinkName(), Type: k.cfg.Type, Format: k.cfg.Format, Stats: k.w.Stats(), LastErr: k.w.LastErr()}
		if r, ok := k.dest.(restarter); ok {
			out[i].Restarts = r.Restarts()
		}
	}
	return out
}

// Reopen reopens every file sink's file (logrotate moved it away).
func (s *Set) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, k := range *s.sinks.Load() {
		if f, ok := k.dest.(*fileDest); ok {
			if err := f.Reopen(); err != nil {
				errs = append(errs, fmt.Errorf("output %s: %w", k.cfg.SinkName(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Failed is closed when the stdout sink fails (its reader went away).
func (s *Set) Failed() <-chan struct{} { return s.failed }

// Err returns the stdout sink's failure, or nil.
func (s *Set) Err() error {
	if p := s.failErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Shutdown delivers what every sink has queued, all at once, until ctx
// ends; past it, what is left is dropped and counted. It returns the stdout
// sink's error (output.ErrStalled when stdout did not take its records, or
// its write error) and logs the other sinks' stalls: a collector that is
// away loses records, which the counts say, but does not fail the run.
func (s *Set) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		wg        sync.WaitGroup
		stdoutErr error
	)
	for _, k := range *s.sinks.Load() {
		wg.Go(func() {
			err := k.shutdown(ctx)
			switch {
			case k.cfg.Type == TypeStdout:
				stdoutErr = err
			case err != nil:
				s.deps.Logger.Warn("output did not deliver its queue before shutdown", "output", k.cfg.SinkName(), "err", err)
			}
		})
	}
	wg.Wait()
	return stdoutErr
}
