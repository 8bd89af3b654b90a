package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sensor/vigil/event"
)

// DefaultContainerdSocket is where containerd listens unless told otherwise.
const DefaultContainerdSocket = "/run/containerd/containerd.sock"

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("enricher closed")

// Config configures an Enricher. The zero value, with a Logger, is the
// production setting.
type Config struct {
	// Logger receives connection changes (info/warn) and per-container
	// failures (debug). Discarded when nil.
	Logger *slog.Logger
	// ContainerdSocket is containerd's gRPC socket (DefaultContainerdSocket).
	ContainerdSocket string
	// DisableContainerd turns the containerd client off: containers are
	// then known by id and runtime type only (Known false).
	DisableContainerd bool
	// CgroupMount is where the cgroup v2 hierarchy is mounted; found in
	// /proc/self/mountinfo when empty (/sys/fs/cgroup, or
	// /sys/fs/cgroup/unified on hybrid hosts).
	CgroupMount string
	// ProcRoot is the proc filesystem (/proc).
	ProcRoot string
	// MaxEntries bounds the cgroup id cache (16384); past it, ids of removed
	// cgroups go first, then host ids, then any.
	MaxEntries int
	// QueueSize bounds the misses waiting for the resolver (4096); a miss
	// that finds it full is counted in Stats.Dropped and queued again by
	// the next lookup of the id.
	QueueSize int
	// PruneInterval is how often ids of removed cgroups are forgotten (30
	// s); those of a container are also forgotten when containerd deletes
	// its task.
	PruneInterval time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between containerd
	// connection attempts (250 ms, doubling to 10 s).
	ReconnectMin, ReconnectMax time.Duration
	// RPCTimeout bounds each containerd call (5 s).
	RPCTimeout time.Duration
}

func (c *Config) defaults() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.ContainerdSocket == "" {
		c.ContainerdSocket = DefaultContainerdSocket
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	setDefault(&c.MaxEntries, 16384)
	setDefault(&c.QueueSize, 4096)
	setDefault(&c.PruneInterval, 30*time.Second)
	setDefault(&c.ReconnectMin, 250*time.Millisecond)
	setDefault(&c.ReconnectMax, 10*time.Second)
	setDefault(&c.RPCTimeout, 5*time.Second)
	if c.MaxEntries < 0 || c.QueueSize < 0 || c.PruneInterval < 0 || c.ReconnectMin < 0 ||
		c.ReconnectMax < c.ReconnectMin || c.RPCTimeout < 0 {
		return errors.New("negative or inverted limit")
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// Stats are the enricher's counters since New.
type Stats struct {
	// Hits and Misses count Lookup answers from the cache and ids not yet
	// in it (answered nil and queued for resolution).
	Hits, Misses uint64
	// Dropped counts misses not queued because the queue was full.
	Dropped uint64
	// Failures counts what went wrong off the event path: cgroup ids that
	// could not be resolved (other than removed cgroups); containers whose
	// cgroup was seen while containerd could not be reached, which lack
	// metadata until it can (once per cgroup); containerd sessions that
	// failed other than for want of a daemon; failed containerd calls and
	// events. A host without containerd and without its containers counts
	// none: containerd's absence shows in Connected and one log line.
	Failures uint64
	// Evictions counts cache entries dropped to stay under MaxEntries.
	Evictions uint64
	// Entries is the number of cgroup ids cached; Containers the number of
	// containers known from containerd.
	Entries, Containers int
	// Connected tells whether the containerd session is up; Connects counts
	// the sessions established.
	Connected bool
	Connects  uint64
}

// snapshot is an immutable cgroup id -> container map. Lookup reads the
// current one without locks; the resolver builds a new one per batch of
// changes and closes the old one's updated channel.
type snapshot struct {
	m       map[uint64]*event.Container
	updated chan struct{}
}

// Enricher maps the cgroup ids of events to containers. Lookup answers from
// an immutable snapshot; everything slow (resolving ids to cgroup paths,
// talking to containerd, reading /proc) happens in Run's goroutines.
type Enricher struct {
	cfg Config
	log *slog.Logger
	cg  *cgroupFS

	snap    atomic.Pointer[snapshot]
	queue   chan uint64
	updates chan update
	fetch   chan key

	hits, misses, dropped, failures, evictions, connects atomic.Uint64
	entries, containers                                  atomic.Int64
	connected                                            atomic.Bool
	// unreachable is set from a failed containerd session to the next
	// established one (not before the first attempt): containers resolved
	// meanwhile have no metadata.
	unreachable atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu              sync.Mutex
	started, closed bool
}

// New returns an Enricher for cfg. It opens the cgroup2 hierarchy (failing
// with ErrNoCgroup2 where none is mounted) but starts nothing: call Run.
func New(cfg Config) (*Enricher, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("checking enrich config: %w", err)
	}
	cg, err := openCgroupFS(cfg.CgroupMount)
	if err != nil {
		return nil, fmt.Errorf("opening cgroup2 hierarchy: %w", err)
	}
	e := &Enricher{
		cfg:     cfg,
		log:     cfg.Logger,
		cg:      cg,
		queue:   make(chan uint64, cfg.QueueSize),
		updates: make(chan update, 64),
		fetch:   make(chan key, 256),
		done:    make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.snap.Store(&snapshot{m: map[uint64]*event.Container{}, updated: make(chan struct{})})
	return e, nil
}

// Lookup returns the container of cgroup id: nil for host cgroups and for
// ids not resolved yet, a Container with Known false for a container
// containerd has not described (yet, or at all), and the full metadata
// otherwise. It never blocks and allocates nothing; a hit is a map read in
// the current snapshot, with no lock and no syscall. A miss queues the id for
// the background resolver (a non-blocking channel send, which may wake it),
// so a later event of the same cgroup carries the answer. The returned
// Container is immutable and shared.
func (e *Enricher) Lookup(cgroupID uint64) *event.Container {
	if c, ok := e.snap.Load().m[cgroupID]; ok {
		e.hits.Add(1)
		return c
	}
	e.misses.Add(1)
	select {
	case e.queue <- cgroupID:
	default:
		e.dropped.Add(1)
	}
	return nil
}

// Updated returns a channel closed when the cache or the set of containers
// next changes, or the containerd connection goes up or down: for callers
// (tests, mostly) that wait for an answer.
func (e *Enricher) Updated() <-chan struct{} { return e.snap.Load().updated }

// WaitFor looks cgroupID up until ok accepts the answer or ctx ends,
// waiting on cache updates in between. It is for tests and tools, not the
// event path.
func (e *Enricher) WaitFor(ctx context.Context, cgroupID uint64, ok func(*event.Container) bool) (*event.Container, error) {
	for {
		updated := e.Updated()
		c := e.Lookup(cgroupID)
		if ok(c) {
			return c, nil
		}
		select {
		case <-updated:
		case <-ctx.Done():
			return c, fmt.Errorf("waiting for cgroup %d: %w", cgroupID, ctx.Err())
		}
	}
}

// Resolved reports whether cgroupID is in the cache, whatever its answer
// (nil for host cgroups). For tests and tools.
func (e *Enricher) Resolved(cgroupID uint64) bool {
	_, ok := e.snap.Load().m[cgroupID]
	return ok
}

// Stats returns the counters.
func (e *Enricher) Stats() Stats {
	return Stats{
		Hits:       e.hits.Load(),
		Misses:     e.misses.Load(),
		Dropped:    e.dropped.Load(),
		Failures:   e.failures.Load(),
		Evictions:  e.evictions.Load(),
		Entries:    int(e.entries.Load()),
		Containers: int(e.containers.Load()),
		Connected:  e.connected.Load(),
		Connects:   e.connects.Load(),
	}
}

// Run resolves cgroup ids and follows containerd until ctx ends or Close
// is called, then returns nil. It runs once per Enricher.
func (e *Enricher) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if e.started {
		e.mu.Unlock()
		return errors.New("running enricher: already running")
	}
	e.started = true
	e.mu.Unlock()
	defer close(e.done)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.ctx, cancel)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { e.resolve(ctx) })
	if !e.cfg.DisableContainerd {
		wg.Go(func() { e.containerdLoop(ctx) })
	}
	wg.Wait()
	return nil
}

// Close stops Run, waits for it and releases the cgroup2 handle. Lookup
// keeps answering from the last snapshot. Safe to call twice.
func (e *Enricher) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	started := e.started
	e.mu.Unlock()
	e.cancel()
	if started {
		<-e.done
	}
	e.cg.close()
	return nil
}
