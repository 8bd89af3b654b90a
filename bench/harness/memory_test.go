package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

func TestAwaitTable(t *testing.T) {
	others, err := (&idleGroup{}).others()
	if err != nil {
		t.Fatal(err)
	}
	var table atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if v := table.Load(); v >= 0 {
			fmt.Fprintf(w, "# TYPE vigil_process_table_size gauge\nvigil_process_table_size %d\n", v)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tr := &child{name: "vigil", stderr: newWatcher(""), done: make(chan struct{})}
	ctx := context.Background()

	// A table short of the processes is a failure that says by how much.
	table.Store(5)
	_, err = awaitTable(ctx, tr, addr, &idleGroup{}, 1000, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "holds 5 after 300ms, want at least") {
		t.Errorf("short table: %v", err)
	}
	// A table that holds them ends the wait (with room for processes other
	// tests start meanwhile).
	table.Store(int64(1000 + others + 100))
	if got, err := awaitTable(ctx, tr, addr, &idleGroup{}, 1000, 5*time.Second); err != nil || got != 1000+others+100 {
		t.Errorf("full table: %d, %v", got, err)
	}
	// Metrics without the table's gauge, or that do not parse, fail the wait.
	table.Store(-1)
	_, err = awaitTable(ctx, tr, addr, &idleGroup{}, 1, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "vigil's metrics lack vigil_process_table_size") {
		t.Errorf("no gauge: %v", err)
	}
	// A vigil that serves no metrics fails with the scrape's error.
	srv.Close()
	_, err = awaitTable(ctx, tr, addr, &idleGroup{}, 1, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "reading vigil's process table size") {
		t.Errorf("no metrics: %v", err)
	}
	// A vigil that exits fails at once.
	tr.err = errors.New("exit status 1")
	close(tr.done)
	if _, err := awaitTable(ctx, tr, addr, &idleGroup{}, 1, time.Minute); err == nil || !strings.Contains(err.Error(), "vigil exited") {
		t.Errorf("exited vigil: %v", err)
	}
}

func TestWriteMemory(t *testing.T) {
	rs := []memResult{
		{situation: "seeded", table: 10071, rss: 38<<20 + 200<<10, hwm: 41 << 20},
		{situation: "forked", table: 10080, rss: 70 << 20, hwm: 72 << 20},
		{situation: "forked", err: errors.New("vigil's process table holds 9000 after 1m0s\nmore")},
	}
	var b strings.Builder
	if err := writeMemory(&b, "vigil", 10000, rs); err != nil {
		t.Fatal(err)
	}
	want := `
memory: vigil, 10000 idle processes ("/bin/busybox sleep 3600") forked by the harness into one process group
seeded: they exist before vigil starts (it reads /proc); forked: they start once vigil attached (it sees fork and exec)
table: vigil_process_table_size once it holds them and every other live process; VmRSS then; peak: VmHWM since vigil started
memory: vigil with 10000 live processes (seeded): table 10071, VmRSS 38.2MiB, peak 41.0MiB (budget 64MiB)
memory: vigil with 10000 live processes (forked): table 10080, VmRSS 70.0MiB, peak 72.0MiB (OVER budget 64MiB)
memory: vigil with 10000 live processes (forked): FAILED: vigil's process table holds 9000 after 1m0s
`
	if got := b.String(); got != want {
		t.Errorf("memory output:\n%s\nwant:\n%s", got, want)
	}
}

// The idle group needs no privilege: it starts, counts and ends its own
// processes.
func TestIdleGroup(t *testing.T) {
	busybox := testutil.RequireCommand(t, "busybox")
	argv := []string{busybox, "sleep", "3600"}
	g := &idleGroup{}
	defer g.close()
	const n = 20
	if err := g.spawn(context.Background(), argv, n); err != nil {
		t.Fatal(err)
	}
	pgid := g.pgid
	if pgid <= 0 || pgid == syscall.Getpgrp() {
		t.Fatalf("pgid = %d, own group %d", pgid, syscall.Getpgrp())
	}
	if got, err := countGroup(pgid); err != nil || got != n {
		t.Errorf("countGroup = %d, %v; want %d", got, err, n)
	}
	// others leaves the group out: counted with and without it, the two
	// differ by n (give or take processes other tests start meanwhile).
	others, err := g.others()
	if err != nil {
		t.Fatal(err)
	}
	all, err := (&idleGroup{}).others()
	if err != nil {
		t.Fatal(err)
	}
	if d := all - others; d < n-5 || d > n+5 {
		t.Errorf("others = %d of %d live processes, want %d fewer", others, all, n)
	}
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
	if got, err := countGroup(pgid); err != nil || got != 0 {
		t.Errorf("after close: countGroup = %d, %v; want 0", got, err)
	}
	// Twice is a no-op: it must not kill(-0), the test's own group.
	if err := g.close(); err != nil {
		t.Error(err)
	}
}

// An interrupted spawn stops at once and still leaves a group close ends.
func TestIdleGroupInterrupted(t *testing.T) {
	busybox := testutil.RequireCommand(t, "busybox")
	ctx, cancel := context.WithCancel(context.Background())
	g := &idleGroup{}
	if err := g.spawn(ctx, []string{busybox, "sleep", "3600"}, 3); err != nil {
		t.Fatal(err)
	}
	cancel()
	started := time.Now()
	if err := g.spawn(ctx, []string{busybox, "sleep", "3600"}, 1000); !errors.Is(err, context.Canceled) {
		t.Errorf("spawn after cancel = %v, want context.Canceled", err)
	}
	if len(g.pids) != 3 || time.Since(started) > time.Second {
		t.Errorf("spawn after cancel started %d processes in %v, want 3 at once", len(g.pids), time.Since(started))
	}
	pgid := g.pgid
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
	if got, err := countGroup(pgid); err != nil || got != 0 {
		t.Errorf("after close: countGroup = %d, %v; want 0", got, err)
	}
}

func TestIdleGroupBadProgram(t *testing.T) {
	g := &idleGroup{}
	defer g.close()
	err := g.spawn(context.Background(), []string{"/nonexistent/sleep", "1"}, 2)
	if err == nil || !strings.Contains(err.Error(), "started 0 of 2 idle processes") {
		t.Errorf("spawn = %v, want it to say how many started", err)
	}
}
