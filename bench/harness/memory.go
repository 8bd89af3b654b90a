package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
	"github.com/vigil-sensor/vigil/internal/agenttest"
)

// memBudget is vigil's resident-set budget with 10k live processes
// (DESIGN.md section 7).
const memBudget = 64 << 20

// Time limits of the memory step.
const (
	// memTableTimeout is how long vigil's table may take to hold the idle
	// processes once they all exist.
	memTableTimeout = time.Minute
	memPollEvery    = 100 * time.Millisecond
	// spawnAllowance is the start time allowed per idle process in vigil's
	// --duration, which stops it should the harness die without doing so.
	spawnAllowance = 10 * time.Millisecond
	// eagainTimeout is how long spawning retries a fork that fails with
	// EAGAIN (a process limit) before giving up.
	eagainTimeout = 5 * time.Second
)

// idleArgv is the idle process: small, static, and the same binary the exec
// loop runs.
var idleArgv = []string{"/bin/busybox", "sleep", "3600"}

// memSituation is how vigil comes to know the idle processes.
type memSituation struct {
	name string
	// seeded: the processes exist before vigil starts and it reads them
	// from /proc; otherwise they are forked once it has attached and it
	// learns them from fork and exec records.
	seeded bool
}

// memSituations are the situations the step measures, in order.
func memSituations() []memSituation {
	return []memSituation{{name: "seeded", seeded: true}, {name: "forked"}}
}

// memResult is one situation's measurement, or why it failed.
type memResult struct {
	situation string
	// table is vigil_process_table_size once it held the processes.
	table int
	// rss is VmRSS then; hwm is VmHWM, the peak since vigil started.
	rss, hwm uint64
	err      error
}

// memory runs vigil (tracer t, with a metrics listener) with n idle
// processes in situation sit, waits until its process table holds them and
// every other live process, and reads its memory. The idle processes are
// killed and reaped however the run ends, and their absence checked.
func (h *harness) memory(ctx context.Context, t *tracer, n int, sit memSituation) memResult {
	res := memResult{situation: sit.name}
	g := &idleGroup{}
	err := h.measureMemory(ctx, t, n, sit, g, &res)
	if cerr := g.close(); cerr != nil {
		// Logged here too: an interrupted run returns without the result.
		h.log.Error("cleaning up idle processes", "situation", sit.name, "err", cerr)
		err = errors.Join(err, cerr)
	}
	res.err = err
	return res
}

// measureMemory is memory's measurement, which starts g's processes and
// leaves them for the caller to end; vigil is stopped (or killed) when it
// returns.
func (h *harness) measureMemory(ctx context.Context, t *tracer, n int, sit memSituation, g *idleGroup, res *memResult) error {
	spawn := func() error {
		started := time.Now()
		if err := g.spawn(ctx, idleArgv, n); err != nil {
			return err
		}
		h.log.Info("idle processes started", "situation", sit.name, "processes", n, "took", time.Since(started).Round(time.Millisecond))
		return nil
	}
	if sit.seeded {
		if err := spawn(); err != nil {
			return err
		}
	}
	safety := tracerStartTimeout + memTableTimeout + tracerStopGrace + time.Duration(n)*spawnAllowance
	// vigil's command depends on neither the loop nor a pid.
	argv := append(t.argv(h.bins, loadgen.LoopOpen, 0, safety), "--metrics-addr", "127.0.0.1:0")
	tr, err := startChild(t.name, argv, nil, "serving metrics", syscall.SIGTERM)
	if err != nil {
		return err
	}
	defer func() {
		select {
		case <-tr.done:
		default:
			tr.kill()
		}
	}()
	if err := tr.waitMarker(ctx, tracerStartTimeout); err != nil {
		return err
	}
	addr, err := agenttest.MetricsAddr(tr.stderr.text())
	if err != nil {
		return err
	}
	if !sit.seeded {
		if err := spawn(); err != nil {
			return err
		}
	}
	waiting := time.Now()
	if res.table, err = awaitTable(ctx, tr, addr, g, n, memTableTimeout); err != nil {
		return err
	}
	if res.rss, res.hwm, err = procMemory(tr.pid()); err != nil {
		return err
	}
	h.log.Info("memory", "situation", sit.name, "table", res.table, "waited", time.Since(waiting).Round(time.Millisecond),
		"rss", res.rss, "hwm", res.hwm)
	return tr.stop(ctx, tracerStopGrace)
}

// awaitTable polls vigil's vigil_process_table_size until it holds the n
// processes of g and every other live process, and returns it; past
// timeout it fails. Others come and go during the wait, so they are
// counted anew at every poll.
func awaitTable(ctx context.Context, tr *child, addr string, g *idleGroup, n int, timeout time.Duration) (int, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(memPollEvery)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var (
		table, others int
		lastErr       error
	)
	for {
		select {
		case <-tick.C:
		case <-tr.done:
			return 0, tr.exited()
		case <-deadline.C:
			if lastErr != nil {
				return 0, fmt.Errorf("reading vigil's process table size for %v: %w", timeout, lastErr)
			}
			return 0, fmt.Errorf("vigil's process table holds %d after %v, want at least %d (%d idle + %d other live processes)",
				table, timeout, n+others, n, others)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		var err error
		if others, err = g.others(); err != nil {
			return 0, err
		}
		m, err := agenttest.ScrapeMetrics(ctx, client, addr)
		if err != nil {
			lastErr = err
			continue
		}
		v, ok := m.Value("vigil_process_table_size")
		if !ok {
			lastErr = errors.New("vigil's metrics lack vigil_process_table_size")
			continue
		}
		lastErr, table = nil, int(v)
		if table >= n+others {
			return table, nil
		}
	}
}

// idleGroup is a set of idle processes in one process group the harness
// creates, so that one kill(-pgid) ends them all.
type idleGroup struct {
	pgid int
	pids map[int]bool
}

// spawn starts n processes of argv in the group. A fork that fails with
// EAGAIN, a process limit, is retried for a while before it ends the
// spawn; the error says how many were started.
func (g *idleGroup) spawn(ctx context.Context, argv []string, n int) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	defer null.Close()
	fd := null.Fd()
	if g.pids == nil {
		g.pids = make(map[int]bool, n)
	}
	for len(g.pids) < n {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The first process leads the group (Pgid 0: its own pid); the rest
		// join it. Pdeathsig ends them should the harness die before close.
		attr := &syscall.ProcAttr{
			Files: []uintptr{fd, fd, fd},
			Sys:   &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid, Pdeathsig: syscall.SIGKILL},
		}
		pid, err := forkRetry(ctx, argv, attr)
		if err != nil {
			return fmt.Errorf("started %d of %d idle processes: %w", len(g.pids), n, err)
		}
		if g.pgid == 0 {
			g.pgid = pid
		}
		g.pids[pid] = true
	}
	return nil
}

// forkRetry is syscall.ForkExec, retried with growing pauses while it fails
// with EAGAIN, up to eagainTimeout.
func forkRetry(ctx context.Context, argv []string, attr *syscall.ProcAttr) (int, error) {
	pause := time.Millisecond
	deadline := time.Now().Add(eagainTimeout)
	for {
		pid, err := syscall.ForkExec(argv[0], argv, attr)
		switch {
		case err == nil:
			return pid, nil
		case !errors.Is(err, syscall.EAGAIN):
			return 0, fmt.Errorf("fork/exec %s: %w", argv[0], err)
		case time.Now().After(deadline):
			return 0, fmt.Errorf("fork: %w for %v (a process limit: pid_max, threads-max, pids.max or RLIMIT_NPROC)", err, eagainTimeout)
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// others counts the live processes outside the group: every process vigil's
// table should hold besides the group's. Zombies are left out, since vigil
// drops a process at its exit.
func (g *idleGroup) others() (int, error) {
	n := 0
	err := eachProc(func(pid int, p statProc) {
		if !g.pids[pid] && p.state != 'Z' && p.state != 'X' {
			n++
		}
	})
	return n, err
}

// close kills the group, reaps it, and checks with a count over /proc that
// none of it is left. It is safe to call twice.
func (g *idleGroup) close() error {
	// A zero pgid would make kill(-pgid) signal the harness's own group.
	if g.pgid <= 0 {
		return nil
	}
	pgid := g.pgid
	g.pgid = 0
	g.pids = nil
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing the idle processes (group %d): %w", pgid, err)
	}
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(-pgid, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.ECHILD) {
			break
		}
		if err != nil {
			return fmt.Errorf("reaping the idle processes (group %d): %w", pgid, err)
		}
	}
	left, err := countGroup(pgid)
	if err != nil {
		return err
	}
	if left > 0 {
		return fmt.Errorf("%d idle processes of group %d are left after the kill", left, pgid)
	}
	return nil
}

// countGroup counts the processes, zombies included, in process group pgid.
func countGroup(pgid int) (int, error) {
	n := 0
	err := eachProc(func(_ int, p statProc) {
		if p.pgrp == pgid {
			n++
		}
	})
	return n, err
}

// writeMemory prints the step's header and one line per situation.
func writeMemory(w io.Writer, config string, n int, rs []memResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nmemory: %s, %d idle processes (%q) forked by the harness into one process group\n", config, n, strings.Join(idleArgv, " "))
	b.WriteString("seeded: they exist before vigil starts (it reads /proc); forked: they start once vigil attached (it sees fork and exec)\n")
	b.WriteString("table: vigil_process_table_size once it holds them and every other live process; VmRSS then; peak: VmHWM since vigil started\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "memory: vigil with %d live processes (%s): ", n, r.situation)
		if r.err != nil {
			fmt.Fprintf(&b, "FAILED: %s\n", firstLine(r.err.Error()))
			continue
		}
		over := ""
		if r.rss > memBudget {
			over = "OVER "
		}
		fmt.Fprintf(&b, "table %d, VmRSS %s, peak %s (%sbudget %s)\n", r.table, formatBytes(r.rss), formatBytes(r.hwm), over, formatMiB(memBudget))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatMiB prints a whole number of MiB.
func formatMiB(b uint64) string { return strconv.FormatUint(b>>20, 10) + "MiB" }
