package resolve

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vigil-sensor/vigil/event"
)

// Lookup resolves one host name to its addresses.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// Defaults of Config.
const (
	DefaultInterval = time.Minute
	DefaultTimeout  = 2 * time.Second
)

// Config configures a Resolver.
type Config struct {
	// Interval is how often every name is resolved again; default
	// DefaultInterval.
	Interval time.Duration
	// Timeout bounds the resolution of one name; default DefaultTimeout.
	Timeout time.Duration
	// Lookup resolves a name; the system resolver (/etc/hosts, then DNS)
	// by default.
	Lookup Lookup
	Logger *slog.Logger
}

// Resolver resolves a set of names into its Table. Its methods are safe for
// concurrent use.
type Resolver struct {
	cfg   Config
	table event.HostNames

	mu    sync.Mutex
	names []string
	// last holds each name's addresses from its last successful
	// resolution: a name that fails once keeps them, so a DNS hiccup does
	// not silence the rules that name it.
	last map[string][]netip.Addr
}

// New returns a Resolver with no names.
func New(cfg Config) *Resolver {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Lookup == nil {
		cfg.Lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Resolver{cfg: cfg, last: map[string][]netip.Addr{}}
}

// Table is the table the Resolver fills, for the events' HostNames.
func (r *Resolver) Table() *event.HostNames { return &r.table }

// SetNames replaces the names to resolve (a rules reload) and resolves
// them at once; names no longer wanted leave the table.
func (r *Resolver) SetNames(ctx context.Context, names []string) {
	r.mu.Lock()
	r.names = slices.Clone(names)
	for n := range r.last {
		if !slices.Contains(names, n) {
			delete(r.last, n)
		}
	}
	r.mu.Unlock()
	r.Refresh(ctx)
}

// Refresh resolves every name, in parallel, and publishes the table.
func (r *Resolver) Refresh(ctx context.Context) {
	r.mu.Lock()
	names := slices.Clone(r.names)
	r.mu.Unlock()
	addrs := make([][]netip.Addr, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			lctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
			defer cancel()
			addrs[i], errs[i] = r.cfg.Lookup(lctx, n)
		})
	}
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	failed := 0
	for i, n := range names {
		if errs[i] != nil {
			failed++
			r.cfg.Logger.Debug("resolving a host name the rules use", "name", n, "err", errs[i])
			continue
		}
		r.last[n] = addrs[i]
	}
	m := map[netip.Addr][]string{}
	for _, n := range r.names {
		for _, a := range r.last[n] {
			a = a.Unmap()
			if !slices.Contains(m[a], n) {
				m[a] = append(m[a], n)
			}
		}
	}
	r.table.Set(m)
	if len(names) > 0 {
		r.cfg.Logger.Info("host names resolved", "names", len(names), "failed", failed, "addresses", len(m))
	}
}

// Run refreshes the table every Interval until ctx is done.
func (r *Resolver) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Refresh(ctx)
		}
	}
}
