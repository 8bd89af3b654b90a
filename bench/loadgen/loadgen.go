package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Loop names one kind of operation.
type Loop string

// The loops.
const (
	// LoopOpen is openat(O_RDONLY) and close of one existing file.
	LoopOpen Loop = "open"
	// LoopExec is fork+execve of a small program and a wait for its exit.
	LoopExec Loop = "exec"
	// LoopConnect is a TCP connect to a loopback listener, then close.
	LoopConnect Loop = "connect"
	// LoopFS is, in a temporary directory, a file created (openat
	// O_CREAT|O_EXCL, then close), chmod'ed (fchmodat), renamed (renameat)
	// and removed (unlinkat): one operation is those five system calls.
	LoopFS Loop = "fs"
	// LoopUDP is one 64-byte datagram over loopback: sendto on one socket,
	// recvfrom on the other.
	LoopUDP Loop = "udp"
	// LoopTCP is 64 bytes over an open loopback TCP connection: one send
	// (sendto) on the client end, recv (recvfrom) on the server end until
	// they all arrived (one call, but for a rare short read).
	LoopTCP Loop = "tcp"
	// LoopDup2 is dup2 of an open file onto a high descriptor (100 or the
	// first free one above it), which closes the previous copy there. On
	// ABIs without a dup2 syscall (arm64) it issues dup3, as libc does.
	LoopDup2 Loop = "dup2"
)

// Loops returns every loop, in the order benchmarks print them.
func Loops() []Loop {
	return []Loop{LoopOpen, LoopExec, LoopConnect, LoopFS, LoopUDP, LoopTCP, LoopDup2}
}

// ParseLoop maps a loop's name to the Loop.
func ParseLoop(s string) (Loop, error) {
	for _, l := range Loops() {
		if string(l) == s {
			return l, nil
		}
	}
	names := make([]string, 0, len(Loops()))
	for _, l := range Loops() {
		names = append(names, string(l))
	}
	return "", fmt.Errorf("unknown loop %q (want one of %s)", s, strings.Join(names, ", "))
}

// DefaultTick is the pacing period of fixed-rate runs.
const DefaultTick = time.Millisecond

// Config is one run of the load generator.
type Config struct {
	Loop     Loop
	Duration time.Duration
	// Rate is the target in operations per second, shared by the workers;
	// 0 runs flat out.
	Rate float64
	// Workers is the number of goroutines issuing operations in parallel
	// (default 1). More than one can load a tracer beyond what one thread
	// issues, at the price of competing with it for the CPUs.
	Workers int
	// Tick is the pacing period at a fixed rate (DefaultTick when 0).
	Tick time.Duration
	// OpenPath is the file the open loop opens; empty makes a temporary one.
	OpenPath string
	// ExecPath and ExecArgs are the program the exec loop runs and its argv
	// (ExecArgs[0] included; [ExecPath] alone when empty). The program must
	// exit 0.
	ExecPath string
	ExecArgs []string
}

// Result is what a run did, printed as one JSON object by the loadgen
// command and read back by the harness with [ParseResult].
type Result struct {
	Loop Loop `json:"loop"`
	// PID is the generator's process id: tracers attribute the open and
	// connect events of the run to it, and exec events to its children.
	PID int `json:"pid"`
	// TargetRate is the fixed rate asked for in ops/s, 0 when flat out.
	TargetRate float64 `json:"target_rate"`
	// Workers is the number of goroutines that issued operations.
	Workers int `json:"workers"`
	// DurationNS is the run time asked for.
	DurationNS int64 `json:"duration_ns"`
	// Ops counts the operations issued, all of which succeeded.
	Ops uint64 `json:"ops"`
	// ElapsedNS is the wall time of the run.
	ElapsedNS int64 `json:"elapsed_ns"`
	// BusyNS is the wall time spent issuing operations, summed over
	// workers: ElapsedNS per worker flat out, less the idle time between
	// ticks at a fixed rate.
	BusyNS int64 `json:"busy_ns"`
	// NSPerOp is BusyNS / Ops: the latency of one operation.
	NSPerOp float64 `json:"ns_per_op"`
	// Rate is the achieved rate, Ops / ElapsedNS, in ops/s.
	Rate float64 `json:"rate"`
	// CPUNS is the user+system CPU time of the generator and of the
	// children it reaped over the run (the exec loop's children do the
	// exec). BPF programs run in the traced task, so their cost is in it;
	// unlike BusyNS it leaves out time the loop spent preempted by other
	// work on the machine.
	CPUNS int64 `json:"cpu_ns"`
}

// ParseResult decodes and checks the JSON a loadgen run printed.
func ParseResult(data []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return Result{}, fmt.Errorf("decoding loadgen result: %w", err)
	}
	if _, err := ParseLoop(string(r.Loop)); err != nil {
		return Result{}, fmt.Errorf("decoding loadgen result: %w", err)
	}
	if r.Ops == 0 || r.ElapsedNS <= 0 || r.BusyNS <= 0 || r.PID <= 0 {
		return Result{}, fmt.Errorf("decoding loadgen result: no operations measured (ops=%d elapsed=%dns busy=%dns pid=%d)",
			r.Ops, r.ElapsedNS, r.BusyNS, r.PID)
	}
	return r, nil
}

// Generator is a prepared loop: its file, listener or program are ready,
// so [Generator.Run] measures only the operations.
type Generator struct {
	cfg Config
	// newOp returns one worker's operation, with what it needs of its own
	// (files, sockets, descriptors) made and recorded for Close; workers
	// share nothing a system call writes to.
	newOp func() (func() error, error)
	// ops are the workers' operations, made by New so that Run measures
	// only the loop.
	ops []func() error
	// fds are descriptors the operations use, closed by Close; files are
	// names in tmpDir the operations may leave behind on failure.
	fds   []int
	files []string

	// open
	tmpDir string
	path   *byte

	// connect
	listenFD   int
	addr       unix.SockaddrInet4
	acceptDone chan struct{}

	// exec
	argv []string
}

// New prepares cfg's loop. The caller must Close the Generator.
func New(cfg Config) (*Generator, error) {
	if _, err := ParseLoop(string(cfg.Loop)); err != nil {
		return nil, err
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("duration %v is not positive", cfg.Duration)
	}
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("rate %v is negative", cfg.Rate)
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("workers %d is negative", cfg.Workers)
	}
	cfg.Workers = max(cfg.Workers, 1)
	g := &Generator{cfg: cfg, listenFD: -1}
	var err error
	switch cfg.Loop {
	case LoopOpen:
		err = g.prepareOpen()
	case LoopConnect:
		err = g.prepareConnect()
	case LoopExec:
		err = g.prepareExec()
	case LoopFS:
		err = g.prepareFS()
	case LoopUDP:
		g.newOp = g.newUDP
	case LoopTCP:
		g.newOp = g.newTCP
	case LoopDup2:
		err = g.prepareDup2()
	}
	if err == nil {
		err = g.makeOps()
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// makeOps makes every worker's operation and, for the loops whose
// preparation did not already, issues one so that a loop that cannot run
// fails now rather than in the measured run.
func (g *Generator) makeOps() error {
	for range g.cfg.Workers {
		op, err := g.newOp()
		if err != nil {
			return fmt.Errorf("preparing a %s worker: %w", g.cfg.Loop, err)
		}
		g.ops = append(g.ops, op)
	}
	switch g.cfg.Loop {
	case LoopFS, LoopUDP, LoopTCP, LoopDup2:
		if err := g.ops[0](); err != nil {
			return fmt.Errorf("trying one %s operation: %w", g.cfg.Loop, err)
		}
	}
	return nil
}

// Op returns the first worker's operation, for a caller that issues one of
// its own, such as the benchmark harness's marker that a tracer has caught
// up. It is not safe to call while Run runs.
func (g *Generator) Op() func() error { return g.ops[0] }

func (g *Generator) prepareOpen() error {
	p := g.cfg.OpenPath
	if p == "" {
		dir, err := os.MkdirTemp("", "vigil-loadgen-")
		if err != nil {
			return fmt.Errorf("making temporary directory: %w", err)
		}
		g.tmpDir = dir
		g.files = append(g.files, "target")
		p = filepath.Join(dir, "target")
		if err := os.WriteFile(p, []byte("vigil loadgen\n"), 0o644); err != nil {
			return fmt.Errorf("writing open target: %w", err)
		}
	}
	path, err := unix.BytePtrFromString(p)
	if err != nil {
		return fmt.Errorf("converting open path: %w", err)
	}
	g.path = path
	g.newOp = func() (func() error, error) { return g.openClose, nil }
	// One trial, so a bad path fails now rather than in the measured run.
	if err := g.openClose(); err != nil {
		return fmt.Errorf("opening %s: %w", p, err)
	}
	return nil
}

// openClose opens and closes the target with raw system calls: the path is
// converted once, so the loop does not allocate.
func (g *Generator) openClose() error {
	dirfd := unix.AT_FDCWD // a variable: a negative constant does not convert to uintptr
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(g.path)),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return unix.Close(int(fd))
}

func (g *Generator) prepareConnect() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("creating listener: %w", err)
	}
	g.listenFD = fd
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fmt.Errorf("binding listener: %w", err)
	}
	// A deep backlog: the acceptor runs on the same two cores as the loop.
	if err := unix.Listen(fd, 4096); err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("reading listener address: %w", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return fmt.Errorf("listener address %T is not IPv4", sa)
	}
	g.addr = unix.SockaddrInet4{Addr: in4.Addr, Port: in4.Port}
	g.acceptDone = make(chan struct{})
	go g.accept(fd, g.acceptDone)
	g.newOp = func() (func() error, error) {
		// unix.Connect writes the raw address into its argument, so each
		// worker connects with its own copy.
		addr := g.addr
		return func() error { return connectClose(&addr) }, nil
	}
	if err := connectClose(&unix.SockaddrInet4{Addr: g.addr.Addr, Port: g.addr.Port}); err != nil {
		return fmt.Errorf("connecting to 127.0.0.1:%d: %w", g.addr.Port, err)
	}
	return nil
}

// accept closes every connection it accepts until the listener is shut
// down. A blocking accept4 is fine here: it parks one thread, not the loop.
func (g *Generator) accept(fd int, done chan<- struct{}) {
	defer close(done)
	for {
		nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, uintptr(unix.SOCK_CLOEXEC), 0, 0)
		switch errno {
		case 0:
			unix.Close(int(nfd))
		case unix.EINTR, unix.ECONNABORTED:
		default:
			return // EINVAL after shutdown, or the listener is gone
		}
	}
}

// connectClose connects a blocking socket and closes it with SO_LINGER 0:
// the reset skips TIME_WAIT, which would otherwise use up the 28k local
// ports within a second at these rates.
func connectClose(addr *unix.SockaddrInet4) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("creating socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
		return fmt.Errorf("setting SO_LINGER: %w", err)
	}
	if err := unix.Connect(fd, addr); err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	return nil
}

func (g *Generator) prepareExec() error {
	if g.cfg.ExecPath == "" {
		return errors.New("exec loop needs a program to run")
	}
	// Resolved once: execve itself searches no PATH.
	path, err := exec.LookPath(g.cfg.ExecPath)
	if err != nil {
		return fmt.Errorf("finding the exec loop's program: %w", err)
	}
	g.cfg.ExecPath = path
	g.argv = g.cfg.ExecArgs
	if len(g.argv) == 0 {
		g.argv = []string{g.cfg.ExecPath}
	}
	g.newOp = func() (func() error, error) { return g.forkExec, nil }
	if err := g.forkExec(); err != nil {
		return fmt.Errorf("running %s: %w", g.cfg.ExecPath, err)
	}
	return nil
}

// forkExec runs the program and reaps it. syscall.ForkExec uses
// clone(CLONE_VFORK|CLONE_VM), the cheapest fork Go has, and passes no
// file descriptors and an empty environment.
func (g *Generator) forkExec() error {
	pid, err := syscall.ForkExec(g.cfg.ExecPath, g.argv, &syscall.ProcAttr{})
	if err != nil {
		return fmt.Errorf("forking: %w", err)
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("waiting for %d: %w", pid, err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("%s exited with status %#x", g.cfg.ExecPath, uint32(ws))
	}
	return nil
}

// checkEvery is how many operations run between clock reads flat out:
// about 100 µs of work, so reading the clock costs well under 1%.
func checkEvery(l Loop) int {
	switch l {
	case LoopOpen:
		return 64
	case LoopConnect:
		return 8
	case LoopFS:
		return 2
	case LoopUDP, LoopTCP:
		return 32
	case LoopDup2:
		return 512
	}
	return 1
}

// Run issues operations for the configured duration and reports them. The
// first failed operation ends the run with an error: a failing loop would
// measure error paths, not the load asked for.
func (g *Generator) Run(ctx context.Context) (Result, error) {
	cpu0, err := cpuTime()
	if err != nil {
		return Result{}, err
	}
	type part struct {
		ops  uint64
		busy time.Duration
		err  error
	}
	parts := make([]part, g.cfg.Workers)
	rate := g.cfg.Rate / float64(g.cfg.Workers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range parts {
		op := g.ops[i]
		wg.Go(func() {
			p := &parts[i]
			if rate == 0 {
				p.ops, p.busy, p.err = g.flatOut(ctx, start, op)
			} else {
				p.ops, p.busy, p.err = g.paced(ctx, start, rate, op)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var (
		ops  uint64
		busy time.Duration
	)
	for _, p := range parts {
		ops += p.ops
		busy += p.busy
		if p.err != nil && err == nil {
			err = fmt.Errorf("running %s loop after %d operations: %w", g.cfg.Loop, p.ops, p.err)
		}
	}
	if err != nil {
		return Result{}, err
	}
	cpu1, err := cpuTime()
	if err != nil {
		return Result{}, err
	}
	r := Result{
		Loop:       g.cfg.Loop,
		PID:        os.Getpid(),
		TargetRate: g.cfg.Rate,
		Workers:    g.cfg.Workers,
		DurationNS: g.cfg.Duration.Nanoseconds(),
		Ops:        ops,
		ElapsedNS:  elapsed.Nanoseconds(),
		BusyNS:     busy.Nanoseconds(),
		CPUNS:      (cpu1 - cpu0).Nanoseconds(),
	}
	if ops > 0 {
		r.NSPerOp = float64(r.BusyNS) / float64(ops)
		r.Rate = float64(ops) / elapsed.Seconds()
	}
	return r, nil
}

func (g *Generator) flatOut(ctx context.Context, start time.Time, op func() error) (uint64, time.Duration, error) {
	deadline := start.Add(g.cfg.Duration)
	every := checkEvery(g.cfg.Loop)
	var ops uint64
	for {
		for range every {
			if err := op(); err != nil {
				return ops, time.Since(start), err
			}
			ops++
		}
		now := time.Now()
		if !now.Before(deadline) || ctx.Err() != nil {
			return ops, now.Sub(start), nil
		}
	}
}

// paced issues, at every tick, the operations due by then at the target
// rate. A generator that falls behind catches up flat out (an open loop:
// the rate asked for is the rate offered, whatever a tracer costs), and
// Result.Rate shows whether it kept up.
func (g *Generator) paced(ctx context.Context, start time.Time, rate float64, op func() error) (uint64, time.Duration, error) {
	deadline := start.Add(g.cfg.Duration)
	every := uint64(checkEvery(g.cfg.Loop))
	ticker := time.NewTicker(g.cfg.Tick)
	defer ticker.Stop()
	var (
		ops  uint64
		busy time.Duration
	)
	for {
		t0 := time.Now()
		if !t0.Before(deadline) {
			return ops, busy, nil
		}
		due := uint64(rate * t0.Sub(start).Seconds())
		now := t0
		for ops < due && now.Before(deadline) {
			if err := op(); err != nil {
				return ops, busy + time.Since(t0), err
			}
			ops++
			if ops%every == 0 {
				now = time.Now()
			}
		}
		busy += time.Since(t0)
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return ops, busy, nil
		}
	}
}

// cpuTime is the user+system time so far of the process and its reaped
// children.
func cpuTime() (time.Duration, error) {
	var total time.Duration
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if err := unix.Getrusage(who, &ru); err != nil {
			return 0, fmt.Errorf("reading rusage: %w", err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total, nil
}

// Close stops the acceptor and removes what New made. It is safe to call
// twice.
func (g *Generator) Close() error {
	var errs []error
	if g.listenFD >= 0 {
		// shutdown wakes the blocked accept4; close alone would not.
		errs = append(errs, unix.Shutdown(g.listenFD, unix.SHUT_RDWR))
		if g.acceptDone != nil {
			<-g.acceptDone
			g.acceptDone = nil
		}
		errs = append(errs, unix.Close(g.listenFD))
		g.listenFD = -1
	}
	for _, fd := range g.fds {
		errs = append(errs, unix.Close(fd))
	}
	g.fds = nil
	if g.tmpDir != "" {
		// Remove, not RemoveAll: RemoveAll opens the directory, an open a
		// tracer still attached would count against the loop. The fs
		// loop's files are there only if an operation failed midway.
		for _, name := range g.files {
			if err := os.Remove(filepath.Join(g.tmpDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		g.files = nil
		errs = append(errs, os.Remove(g.tmpDir))
		g.tmpDir = ""
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing generator: %w", err)
	}
	return nil
}
