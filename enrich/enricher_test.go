package enrich

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
)

// containerd is the package's shared test daemon (see containerd_test.go).
var containerd containerdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	if err := containerd.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping containerd:", err)
		code = 1
	}
	os.Exit(code)
}

// logRecorder is a slog handler that hands records to waiters by message.
type logRecorder struct {
	mu      sync.Mutex
	waiters map[string]chan slog.Record
	t       testing.TB
}

func newLogRecorder(t testing.TB) *logRecorder {
	return &logRecorder{waiters: map[string]chan slog.Record{}, t: t}
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		l.t.Logf("enrich %s: %s%s", r.Level, r.Message, b.String())
	}
	select {
	case l.ch(r.Message) <- r:
	default:
	}
	return nil
}

func (l *logRecorder) ch(msg string) chan slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.waiters[msg]
	if !ok {
		c = make(chan slog.Record, 16)
		l.waiters[msg] = c
	}
	return c
}

// wait returns the next record with message msg, failing t after 30 s.
func (l *logRecorder) wait(t testing.TB, msg string) slog.Record {
	t.Helper()
	select {
	case r := <-l.ch(msg):
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("no log %q within 30s", msg)
		return slog.Record{}
	}
}

// startEnricher runs an Enricher for the test and closes it at the end,
// checking that Run returned nil. setup, if any, runs before Run.
func startEnricher(t *testing.T, cfg Config, setup ...func(*Enricher)) (*Enricher, *logRecorder) {
	t.Helper()
	rec := newLogRecorder(t)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(rec)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(e)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return e, rec
}

// waitUntil waits on e's cache updates until cond holds, failing t after
// 30 s.
func waitUntil(t *testing.T, e *Enricher, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		updated := e.Updated()
		if cond() {
			return
		}
		select {
		case <-updated:
		case <-deadline:
			t.Fatalf("waiting for %s: timed out; stats %+v", what, e.Stats())
		}
	}
}

// waitFor waits until the answer for id satisfies ok.
func waitFor(t *testing.T, e *Enricher, id uint64, what string, ok func(*event.Container) bool) *event.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := e.WaitFor(ctx, id, ok)
	if err != nil {
		t.Fatalf("waiting for %s: %v (last answer %+v, stats %+v)", what, err, c, e.Stats())
	}
	return c
}

func randName(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// TestLookupAllocations checks the event-path promise: no allocation on a
// hit, nor on a miss (queued or dropped).
func TestLookupAllocations(t *testing.T) {
	e, err := New(Config{QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := &event.Container{ID: "abc", Known: true}
	e.snap.Store(&snapshot{m: map[uint64]*event.Container{7: c, 8: nil}, updated: make(chan struct{})})
	if got := e.Lookup(7); got != c {
		t.Fatalf("Lookup(7) = %v", got)
	}
	if n := testing.AllocsPerRun(1000, func() { e.Lookup(7); e.Lookup(8) }); n != 0 {
		t.Errorf("Lookup hit allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { e.Lookup(1 << 40) }); n != 0 {
		t.Errorf("Lookup miss allocates %v times", n)
	}
	s := e.Stats()
	if s.Hits < 2000 || s.Misses < 1000 || s.Dropped == 0 {
		t.Errorf("stats %+v: want >= 2000 hits, >= 1000 misses, drops once the queue of 4 is full", s)
	}
}

// BenchmarkLookup measures hits in caches of 100 cgroups (a busy node) and
// 10000 (the worst case short of the bound), serial and from two cores.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []uint64{100, 10000} {
		e, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		m := map[uint64]*event.Container{}
		for i := range n {
			m[i] = &event.Container{ID: "x"}
		}
		e.snap.Store(&snapshot{m: m, updated: make(chan struct{})})
		b.Run(fmt.Sprintf("hit-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := uint64(0); b.Loop(); i++ {
				e.Lookup(i % n)
			}
		})
		b.Run(fmt.Sprintf("hit-%d-parallel", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for i := uint64(0); pb.Next(); i++ {
					e.Lookup(i % n)
				}
			})
		})
	}
}

// TestResolveCgroups runs the resolver on real cgroups without containerd,
// with file handles and with the hierarchy walk that replaces them where
// they are refused: container layouts answer Known=false with the id and
// runtime, host cgroups nil; removed cgroups are forgotten.
func TestResolveCgroups(t *testing.T) {
	for _, mode := range []string{"handles", "walk"} {
		t.Run(mode, func(t *testing.T) { testResolveCgroups(t, mode == "walk") })
	}
}

func testResolveCgroups(t *testing.T, walk bool) {
	tc := newTestCgroups(t)
	e, _ := startEnricher(t, Config{DisableContainerd: true, PruneInterval: 20 * time.Millisecond},
		func(e *Enricher) { e.cg.handles = !walk })
	base := randName("/vigil-enrich-")
	ctrdPath := base + "/" + idA
	dockerPath := base + "/docker/" + idB
	hostPath := base + "/cron.service"
	ctrd, docker, host := tc.make(ctrdPath), tc.make(dockerPath), tc.make(hostPath)
	self := tc.id("/")
	if data, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok {
				self = tc.id(p)
			}
		}
	}

	for _, id := range []uint64{ctrd, docker, host, self} {
		if c := e.Lookup(id); c != nil {
			t.Fatalf("first Lookup(%d) = %+v, want nil (not resolved yet)", id, c)
		}
	}
	c := waitFor(t, e, ctrd, "containerd layout", func(c *event.Container) bool { return c != nil })
	if c.ID != idA[:12] || c.FullID != idA || c.Type != TypeContainerd || c.Known || c.Name != "" {
		t.Errorf("containerd layout = %+v", c)
	}
	c = waitFor(t, e, docker, "docker layout", func(c *event.Container) bool { return c != nil })
	if c.ID != idB[:12] || c.FullID != idB || c.Type != TypeDocker || c.Known {
		t.Errorf("docker layout = %+v", c)
	}
	waitUntil(t, e, "host cgroups resolved", func() bool { return e.Resolved(host) && e.Resolved(self) })
	if c := e.Lookup(host); c != nil {
		t.Errorf("host cgroup = %+v, want nil", c)
	}
	if c := e.Lookup(self); c != nil {
		t.Errorf("test process cgroup = %+v, want nil", c)
	}
	if s := e.Stats(); s.Hits == 0 || s.Misses < 4 || s.Failures != 0 || s.Connected {
		t.Errorf("stats %+v", s)
	}

	tc.remove(ctrdPath)
	waitUntil(t, e, "removed cgroup forgotten", func() bool { return !e.Resolved(ctrd) })
	if !e.Resolved(docker) {
		t.Error("live cgroup was pruned")
	}
}

// TestCacheBound fills the cache past MaxEntries with host cgroups.
func TestCacheBound(t *testing.T) {
	tc := newTestCgroups(t)
	e, _ := startEnricher(t, Config{DisableContainerd: true, MaxEntries: 16, PruneInterval: time.Hour})
	base := randName("/vigil-enrich-bound-")
	for i := range 40 {
		e.Lookup(tc.make(fmt.Sprintf("%s/h%d", base, i)))
	}
	waitUntil(t, e, "evictions", func() bool { s := e.Stats(); return s.Evictions > 0 && s.Entries <= 16 })
}

// TestContainerdAbsent runs with no containerd at the socket: lookups are
// still answered, the failure is logged and counted, Close stops retries.
func TestContainerdAbsent(t *testing.T) {
	tc := newTestCgroups(t)
	sock := filepath.Join(t.TempDir(), "none.sock")
	e, logs := startEnricher(t, Config{ContainerdSocket: sock, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 20 * time.Millisecond})
	logs.wait(t, "containerd unavailable, retrying")
	id := tc.make(randName("/vigil-enrich-") + "/" + idA)
	e.Lookup(id)
	c := waitFor(t, e, id, "container without containerd", func(c *event.Container) bool { return c != nil })
	if c.FullID != idA || c.Known {
		t.Errorf("answer %+v", c)
	}
	if s := e.Stats(); s.Connected || s.Failures == 0 || s.Connects != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestContainerdAbsentHost is a host without containerd and without
// containers (issue 12, item 5): its own processes' cgroups resolve, the
// enricher keeps retrying containerd, and no failure is counted, since no
// container's metadata is missing. A cgroup of a runtime that does not use
// containerd (Podman) is no failure either; one that containerd would
// describe is, once, however many retries follow.
func TestContainerdAbsentHost(t *testing.T) {
	tc := newTestCgroups(t)
	sock := filepath.Join(t.TempDir(), "none.sock")
	base := randName("/vigil-enrich-absent-")
	host := tc.make(base + "/cron.service")
	podman := tc.make(base + "/libpod-" + idB + ".scope")
	self, err := selfCgroupID()
	if err != nil {
		t.Fatal(err)
	}
	e, logs := startEnricher(t, Config{ContainerdSocket: sock, ReconnectMin: 5 * time.Millisecond, ReconnectMax: 10 * time.Millisecond})
	for _, id := range []uint64{host, podman, self} {
		e.Lookup(id)
	}
	logs.wait(t, "containerd unavailable, retrying")
	waitUntil(t, e, "host cgroups resolved", func() bool { return e.Resolved(host) && e.Resolved(podman) && e.Resolved(self) })
	for range 3 {
		logs.wait(t, "containerd still unavailable")
	}
	if s := e.Stats(); s.Failures != 0 || s.Connected {
		t.Errorf("host without containerd: stats %+v, want no failures", s)
	}
	if c := e.Lookup(podman); c == nil || c.Type != TypePodman || c.Known {
		t.Errorf("podman cgroup = %+v", c)
	}

	ctrd := tc.make(base + "/" + idA)
	e.Lookup(ctrd)
	waitUntil(t, e, "container cgroup resolved", func() bool { return e.Resolved(ctrd) })
	for range 3 {
		logs.wait(t, "containerd still unavailable")
	}
	if s := e.Stats(); s.Failures != 1 {
		t.Errorf("one container cgroup without containerd: stats %+v, want 1 failure", s)
	}
}

// TestContainerdAbsentEarlyContainer resolves a container's cgroup before
// the enricher finds containerd missing: it is counted when it does, once.
func TestContainerdAbsentEarlyContainer(t *testing.T) {
	tc := newTestCgroups(t)
	sock := filepath.Join(t.TempDir(), "none.sock")
	ctrd := tc.make(randName("/vigil-enrich-early-") + "/" + idA)
	e, logs := startEnricher(t, Config{ContainerdSocket: sock, ReconnectMin: 5 * time.Millisecond, ReconnectMax: 10 * time.Millisecond},
		func(e *Enricher) { e.Lookup(ctrd) })
	logs.wait(t, "containerd unavailable, retrying")
	waitUntil(t, e, "container counted", func() bool { return e.Resolved(ctrd) && e.Stats().Failures > 0 })
	for range 3 {
		logs.wait(t, "containerd still unavailable")
	}
	if s := e.Stats(); s.Failures != 1 {
		t.Errorf("stats %+v, want 1 failure", s)
	}
}

func TestCloseAndRun(t *testing.T) {
	e, err := New(Config{DisableContainerd: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v", err)
	}
	if err := e.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	if err := e.Close(); err != nil {
		t.Error(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	e.Lookup(1) // still answers after Close

	e2, err := New(Config{DisableContainerd: true})
	if err != nil {
		t.Fatal(err)
	}
	e2.Close()
	if err := e2.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{MaxEntries: -1}); err == nil {
		t.Error("negative MaxEntries accepted")
	}
	if _, err := New(Config{ReconnectMin: time.Second, ReconnectMax: time.Millisecond}); err == nil {
		t.Error("inverted backoff accepted")
	}
	if _, err := New(Config{CgroupMount: "/nonexistent/cgroup"}); err == nil {
		t.Error("missing cgroup mount accepted")
	}
}
