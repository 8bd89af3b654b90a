package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
	"github.com/vigil-sensor/vigil/internal/procfs"
)

// Time limits around a round. Tracers get long to start: vigil compiles
// the Falco rules and bpftrace runs LLVM before attaching.
const (
	loadgenPrepareTimeout = 30 * time.Second
	tracerStartTimeout    = 2 * time.Minute
	tracerStopGrace       = 30 * time.Second
	probeEvery            = 20 * time.Millisecond
	// A tracer gets settleTimeout to catch up after the load; it is sent a
	// new marker operation every settleReissue in case one was dropped.
	settleTimeout      = time.Minute
	settleReissue      = 500 * time.Millisecond
	settleQuietTimeout = 10 * time.Second
)

// harness runs rounds: one loadgen run under one tracer configuration.
type harness struct {
	log  *slog.Logger
	bins *paths
	// dir holds the tracers' output files, removed after each round.
	dir string
	// execArgv is the exec loop's program and argv.
	execArgv []string
	// own are the programs the rounds' tracers loaded, which never
	// count as another tracer's.
	own ownPrograms
}

// load is what the loadgen runs in a round.
type load struct {
	loop     loadgen.Loop
	duration time.Duration
	// rate is the target in ops/s (0: flat out), shared by workers.
	rate    float64
	workers int
}

// round runs ld under t and measures it.
func (h *harness) round(ctx context.Context, t *tracer, ld load) (sample, error) {
	l, d := ld.loop, ld.duration
	lgArgv := []string{h.bins.loadgen, "-loop", string(l), "-duration", d.String(), "-wait-stdin",
		"-rate", strconv.FormatFloat(ld.rate, 'f', -1, 64), "-workers", strconv.Itoa(max(ld.workers, 1))}
	if l == loadgen.LoopExec {
		lgArgv = append(append(lgArgv, "-exec", h.execArgv[0]), h.execArgv[1:]...)
	}
	lgOut, err := os.CreateTemp(h.dir, "loadgen-*.json")
	if err != nil {
		return sample{}, fmt.Errorf("creating loadgen output: %w", err)
	}
	defer os.Remove(lgOut.Name())
	defer lgOut.Close()

	// The loadgen starts first and waits, so the tracer attaches after the
	// generator's own start-up and can be told its pid.
	lg, err := startLoadgen(lgArgv, lgOut)
	if err != nil {
		return sample{}, err
	}
	defer lg.stopIfRunning()
	if err := lg.waitMarker(ctx, loadgenPrepareTimeout); err != nil {
		return sample{}, err
	}
	pid := lg.pid()

	var (
		tr     *child
		trOut  *os.File
		attach time.Duration
	)
	if t.argv != nil {
		trOut, err = os.CreateTemp(h.dir, t.name+"-*.out")
		if err != nil {
			return sample{}, fmt.Errorf("creating %s output: %w", t.name, err)
		}
		defer os.Remove(trOut.Name())
		defer trOut.Close()
		safety := d + tracerStartTimeout + tracerStopGrace
		started := time.Now()
		tr, err = startChild(t.name, t.argv(h.bins, l, pid, safety), trOut, t.readyLine, syscall.SIGTERM)
		if err != nil {
			return sample{}, err
		}
		defer func() {
			select {
			case <-tr.done:
			default:
				tr.kill()
			}
		}()
		if t.readyLine != "" {
			err = tr.waitMarker(ctx, tracerStartTimeout)
		} else {
			err = h.awaitOwnOp(ctx, tr, trOut, t.match(l), l, tracerStartTimeout, probeEvery)
		}
		if err != nil {
			return sample{}, fmt.Errorf("waiting for %s to start: %w", t.name, err)
		}
		attach = time.Since(started)
		// Attached: whatever programs it holds now are its own.
		if h.own == nil {
			h.own = ownPrograms{}
		}
		if err := h.own.addProcess("/proc", tr.pid()); err != nil {
			return sample{}, fmt.Errorf("listing %s's BPF programs: %w", t.name, err)
		}
	}

	var cpu0 time.Duration
	if tr != nil {
		if cpu0, err = procCPU(tr.pid()); err != nil {
			return sample{}, err
		}
	}
	if err := lg.start(); err != nil {
		return sample{}, err
	}
	if err := lg.child.wait(ctx, d+loadgenPrepareTimeout); err != nil {
		return sample{}, err
	}
	s := sample{traced: tr != nil, attach: attach}
	if tr != nil {
		select {
		case <-tr.done:
			return sample{}, fmt.Errorf("during the run: %w", tr.exited())
		default:
		}
		// Give the tracer the time it needs to process what the load
		// caused: its delivered events and CPU time are then the run's
		// whole cost, and none is lost to stopping it mid-backlog.
		settling := time.Now()
		switch t.settle {
		case settleMarker:
			ml := t.markerLoop(l)
			err = h.awaitOwnOp(ctx, tr, trOut, t.match(ml), ml, settleTimeout, settleReissue)
		case settleQuiet:
			err = h.awaitQuiet(ctx, tr, settleQuietTimeout)
		}
		if err != nil {
			return sample{}, fmt.Errorf("waiting for %s to catch up: %w", t.name, err)
		}
		s.settle = time.Since(settling)
		cpu1, err := procCPU(tr.pid())
		if err != nil {
			return sample{}, fmt.Errorf("%s after the run: %w", t.name, err)
		}
		s.tracerCPU = cpu1 - cpu0
		if s.tracerHWM, err = procHWM(tr.pid()); err != nil {
			return sample{}, err
		}
		stopping := time.Now()
		if err := tr.stop(ctx, tracerStopGrace); err != nil {
			return sample{}, err
		}
		s.detach = time.Since(stopping)
		if s.obs, err = t.collect(trOut, tr.stderr.text(), l, pid); err != nil {
			return sample{}, fmt.Errorf("reading %s output: %w", t.name, err)
		}
		for _, a := range s.obs.anomalies {
			h.log.Warn("tracer output left out of the counts", "tracer", t.name, "loop", l, "why", a)
		}
	}
	res, err := os.ReadFile(lgOut.Name())
	if err != nil {
		return sample{}, fmt.Errorf("reading loadgen result: %w", err)
	}
	if s.res, err = loadgen.ParseResult(res); err != nil {
		return sample{}, err
	}
	return s, nil
}

// loadgenChild is a loadgen started with -wait-stdin.
type loadgenChild struct {
	*child
	stdin *os.File
}

func startLoadgen(argv []string, stdout *os.File) (*loadgenChild, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating loadgen stdin: %w", err)
	}
	defer r.Close()
	// Without asynchronous preemption the Go runtime sends the loop no
	// SIGURG, which would interrupt blocking syscalls: a connect restarted
	// after a signal enters the tracepoints twice for one operation.
	c, err := startChildStdin("loadgen", argv, r, stdout, "loadgen prepared", syscall.SIGKILL,
		[]string{"GODEBUG=asyncpreemptoff=1"})
	if err != nil {
		w.Close()
		return nil, err
	}
	return &loadgenChild{child: c, stdin: w}, nil
}

// start releases the waiting loadgen: EOF on its stdin is the signal.
func (l *loadgenChild) start() error {
	if err := l.stdin.Close(); err != nil {
		return fmt.Errorf("starting loadgen: %w", err)
	}
	return nil
}

// stopIfRunning kills a loadgen that a failed round left behind, before
// closing its stdin would release it.
func (l *loadgenChild) stopIfRunning() {
	select {
	case <-l.done:
	default:
		l.kill()
	}
	l.stdin.Close()
}

// awaitOwnOp issues operations of loop l from the harness itself, the
// first at once and then every reissue, until the tracer's output shows one
// past where it stood when called. At start-up this proves the tracer is
// attached; after the load it proves the tracer has caught up, since every
// event the loadgen caused was queued before the harness's own.
func (h *harness) awaitOwnOp(ctx context.Context, tr *child, out *os.File, match lineMatcher, l loadgen.Loop,
	timeout, reissue time.Duration) error {
	self := os.Getpid()
	op, done, err := h.probeOp(l)
	if err != nil {
		return err
	}
	defer done()
	tail, err := newTailer(out)
	if err != nil {
		return err
	}
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var issued time.Time
	for {
		if time.Since(issued) >= reissue {
			if err := op(); err != nil {
				return fmt.Errorf("issuing an operation for %s to see: %w", tr.name, err)
			}
			issued = time.Now()
		}
		select {
		case <-tick.C:
		case <-tr.done:
			return tr.exited()
		case <-deadline.C:
			return fmt.Errorf("%s reported none of the harness's operations in %v: %s", tr.name, timeout, tr.stderr.tail())
		case <-ctx.Done():
			return ctx.Err()
		}
		found, err := tail.scan(func(line []byte) bool { return match(line, self) })
		if err != nil || found {
			return err
		}
	}
}

// awaitQuiet waits until the tracer uses at most one clock tick of CPU in
// two consecutive windows, i.e. has drained its backlog, or timeout passes
// (then it goes on: a tracer busy with the machine's other events never
// falls quiet, and its figures are what they are).
func (h *harness) awaitQuiet(ctx context.Context, tr *child, timeout time.Duration) error {
	const window = 100 * time.Millisecond
	tick := time.NewTicker(window)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	last, err := procCPU(tr.pid())
	if err != nil {
		return err
	}
	quiet := 0
	for quiet < 2 {
		select {
		case <-tick.C:
		case <-tr.done:
			return tr.exited()
		case <-deadline.C:
			h.log.Warn("tracer still busy after the load; stopping it anyway", "tracer", tr.name, "waited", timeout)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		cpu, err := procCPU(tr.pid())
		if err != nil {
			return err
		}
		if cpu-last <= procfs.Tick {
			quiet++
		} else {
			quiet = 0
		}
		last = cpu
	}
	return nil
}

// tailer reads the lines appended to a file since it was created.
type tailer struct {
	f       *os.File
	off     int64
	partial []byte
	buf     []byte
}

func newTailer(f *os.File) (*tailer, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading output size: %w", err)
	}
	return &tailer{f: f, off: st.Size(), buf: make([]byte, 1<<20)}, nil
}

// scan calls fn on every whole line appended since the last call until fn
// returns true, and reports whether one did.
func (t *tailer) scan(fn func(line []byte) bool) (bool, error) {
	for {
		n, err := t.f.ReadAt(t.buf, t.off)
		t.off += int64(n)
		data := append(t.partial, t.buf[:n]...)
		end := bytes.LastIndexByte(data, '\n') + 1
		for line := range bytes.Lines(data[:end]) {
			if fn(bytes.TrimSuffix(line, []byte("\n"))) {
				return true, nil
			}
		}
		t.partial = append(t.partial[:0], data[end:]...)
		if errors.Is(err, io.EOF) || n == 0 {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading output: %w", err)
		}
	}
}

// probeOp returns one operation of loop l for the harness to issue, and
// what to call once done with it.
func (h *harness) probeOp(l loadgen.Loop) (func() error, func(), error) {
	nothing := func() {}
	switch l {
	case loadgen.LoopExec:
		return func() error { return exec.Command(h.execArgv[0], h.execArgv[1:]...).Run() }, nothing, nil
	case loadgen.LoopConnect:
		// Port 1 on loopback refuses at once; the connect syscall is what
		// the tool sees.
		return func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
			if err == nil {
				c.Close()
			}
			return nil
		}, nothing, nil
	case loadgen.LoopOpen:
		path := filepath.Join(h.dir, "probe")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			return nil, nil, fmt.Errorf("creating probe file: %w", err)
		}
		return func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			return f.Close()
		}, nothing, nil
	}
	// The other loops' operations are the loadgen's own: the same system
	// calls, on files and sockets of the harness.
	g, err := loadgen.New(loadgen.Config{Loop: l, Duration: time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("preparing the harness's %s operation: %w", l, err)
	}
	return g.Op(), func() {
		if err := g.Close(); err != nil {
			h.log.Warn("closing the harness's operation", "loop", l, "err", err)
		}
	}, nil
}
