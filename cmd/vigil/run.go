package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/metrics"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
	"github.com/vigil-sensor/vigil/sensor"
)

// runConfig is `vigil run`'s command line.
type runConfig struct {
	rules            stringList
	events           bool
	duration         time.Duration
	ringBufferSize   int
	metricsAddr      string
	containerdSocket string
	noContainerd     bool
	minPriority      string
	strict           bool
	outputQueue      int
	outputQueueBytes int
	statusInterval   time.Duration
	drainTimeout     time.Duration
	lockFile         string
	syscallHooks     string
}

func runCmd(args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	var cfg runConfig
	fs := newFlagSet("run", stderr)
	fs.Var(&cfg.rules, "rules", "rules file to load (repeatable; default: the embedded vigil rules)")
	fs.BoolVar(&cfg.events, "events", false, "also write every event as a JSON line")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop cleanly after this long (0: run until SIGINT/SIGTERM)")
	fs.IntVar(&cfg.ringBufferSize, "ring-buffer-size", sensor.DefaultRingBufferSize, "kernel ring buffer size in bytes (power of two)")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve Prometheus metrics and /healthz on this address (\":9090\" binds loopback)")
	fs.StringVar(&cfg.containerdSocket, "containerd-socket", enrich.DefaultContainerdSocket, "containerd's socket, for container metadata")
	fs.BoolVar(&cfg.noContainerd, "no-containerd", false, "do not ask containerd for metadata (containers are still identified by id)")
	fs.StringVar(&cfg.minPriority, "min-priority", "", "leave out rules less severe than this priority (e.g. Warning)")
	fs.BoolVar(&cfg.strict, "strict", false, "fail on rules that need a field or event vigil lacks, instead of skipping them")
	fs.IntVar(&cfg.outputQueue, "output-queue", 16384, "records queued for stdout before new ones are dropped and counted")
	fs.IntVar(&cfg.outputQueueBytes, "output-queue-bytes", output.DefaultMaxQueueBytes, "bytes queued for stdout before new records are dropped and counted")
	fs.DurationVar(&cfg.statusInterval, "status-interval", time.Second, "how often drops are checked and reported as internal records")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 5*time.Second, "at shutdown, how long stdout may take to accept the queued records")
	fs.StringVar(&cfg.lockFile, "lock-file", defaultLockFile, "lock held while running, so that only one vigil runs (empty: no lock)")
	fs.StringVar(&cfg.syscallHooks, "syscall-hooks", "auto", "how open and connect are traced: auto, raw (one raw sys_exit program, x86-64 and Linux 6.2+) or tracepoint")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("run takes no arguments, got %q", fs.Args())}
	}
	if cfg.statusInterval <= 0 || cfg.drainTimeout < 0 {
		return usageError{errors.New("--status-interval must be positive and --drain-timeout not negative")}
	}
	syscallHooks, err := parseSyscallHooks(cfg.syscallHooks)
	if err != nil {
		return err
	}
	// Signals are claimed before any slow work: a SIGHUP that arrives while
	// the programs load must not kill the agent (its default action), and
	// a closed stdout must surface as EPIPE, not as a SIGPIPE death.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	opts, err := cfg.ruleOptions(logger)
	if err != nil {
		return err
	}
	rs, res, err := loadRules(cfg.rules, opts)
	if err != nil {
		return err
	}
	logLoad(logger, res, rs)
	if err := sensor.CheckPrivileges(); err != nil {
		return fmt.Errorf("starting sensor: %w", err)
	}
	if cfg.lockFile != "" {
		lock, err := acquireLock(cfg.lockFile)
		if err != nil {
			return err
		}
		defer lock.release()
	}

	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("reading hostname: %w", err)
	}
	w := output.NewWriterSize(stdout, cfg.outputQueue, cfg.outputQueueBytes)
	var (
		outputDone bool
		outputErr  error
	)
	// closeOutput writes what is queued, giving up after the drain timeout
	// when stdout does not take it; it runs once.
	closeOutput := func() error {
		if !outputDone {
			outputDone = true
			ctx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
			outputErr = w.Shutdown(ctx)
			cancel()
		}
		return outputErr
	}
	defer closeOutput()
	enc := output.NewEncoder(hostname)

	enr, err := enrich.New(enrich.Config{Logger: logger.With("component", "enrich"),
		ContainerdSocket: cfg.containerdSocket, DisableContainerd: cfg.noContainerd})
	if err != nil {
		return fmt.Errorf("starting container enrichment: %w", err)
	}
	defer enr.Close()
	go func() {
		if err := enr.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Error("container enrichment stopped", "err", err)
		}
	}()

	s, err := sensor.New(sensor.Config{RingBufferSize: cfg.ringBufferSize, Kinds: kindsFor(rs, cfg.events),
		SyscallHooks: syscallHooks, Logger: logger.With("component", "sensor")})
	if err != nil {
		return fmt.Errorf("starting sensor: %w", err)
	}
	defer s.Close()
	logger.Info("hooks active", "hooks", s.Hooks())
	if err := setFilters(s, rs, cfg.events); err != nil {
		return err
	}

	p := newPipeline(enr, rs, cfg.events, enc, w)
	st := &status{sensor: s, enricher: enr, writer: w, pipeline: p, enc: enc, logger: logger}

	go func() {
		select {
		case <-w.Failed():
			cancel(fmt.Errorf("writing output: %w", w.Err()))
		case <-ctx.Done():
		}
	}()
	go st.report(ctx, cfg.statusInterval)
	go reloadOnHUP(ctx, hup, logger, st, func() error { return cfg.reload(logger, p, s) })

	if cfg.metricsAddr != "" {
		srv, err := metrics.Listen(cfg.metricsAddr, st.collect, st.healthy, logger)
		if err != nil {
			return err
		}
		defer srv.Close()
		logger.Info("serving metrics", "addr", srv.Addr())
	}

	// Shutdown detaches the programs first, then drains what the ring
	// buffer holds, so every record the kernel counted is read before the
	// final counts are taken and reported.
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	runErr := s.Run(context.Background(), p.handle)
	closeErr := s.Close()
	st.runErr.Store(&runErr)
	st.flush(true)
	st.logTotals()
	if err := closeOutput(); err != nil {
		return outputError(err, cfg.drainTimeout)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	if runErr != nil {
		return fmt.Errorf("reading events: %w", runErr)
	}
	if closeErr != nil {
		return fmt.Errorf("closing sensor: %w", closeErr)
	}
	logger.Info("stopped")
	return nil
}

// outputError explains a failure to write stdout.
func outputError(err error, drain time.Duration) error {
	switch {
	case errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("writing output: stdout was closed by its reader: %w", err)
	case errors.Is(err, output.ErrStalled):
		return fmt.Errorf("writing output: stdout did not take the queued records within %s of shutdown (is its reader stuck?): %w", drain, err)
	}
	return fmt.Errorf("writing output: %w", err)
}

// parseSyscallHooks maps --syscall-hooks to sensor.Config.SyscallHooks.
func parseSyscallHooks(s string) (string, error) {
	switch s {
	case "auto":
		return sensor.SyscallHooksAuto, nil
	case sensor.SyscallHooksRaw, sensor.SyscallHooksTracepoint:
		return s, nil
	}
	return "", usageError{fmt.Errorf("--syscall-hooks: %q is not auto, raw or tracepoint", s)}
}

func (cfg *runConfig) ruleOptions(logger *slog.Logger) (rules.Options, error) {
	opts := rules.Options{Strict: cfg.strict, Logger: logger}
	if cfg.minPriority != "" {
		p, err := rules.ParsePriority(cfg.minPriority)
		if err != nil {
			return opts, usageError{fmt.Errorf("--min-priority: %w", err)}
		}
		opts.MinPriority = p
	}
	return opts, nil
}

// reload loads the rule files again and swaps them in atomically; on error
// the running rules stay.
func (cfg *runConfig) reload(logger *slog.Logger, p *pipeline, s *sensor.Sensor) error {
	opts, err := cfg.ruleOptions(logger)
	if err != nil {
		return err
	}
	rs, res, err := loadRules(cfg.rules, opts)
	if err != nil {
		return err
	}
	// Every event passes while the rules change, so that neither the old
	// rules nor the new miss one to the other's filter.
	if err := setFilters(s, nil, true); err != nil {
		return err
	}
	if err := s.SetKinds(kindsFor(rs, cfg.events)); err != nil {
		return fmt.Errorf("updating kernel event filter: %w", err)
	}
	p.ruleset.Store(rs)
	if err := setFilters(s, rs, cfg.events); err != nil {
		return err
	}
	logLoad(logger, res, rs)
	return nil
}

// reloadOnHUP reloads the rules on every SIGHUP until ctx is done.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, logger *slog.Logger, st *status, reload func() error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := reload(); err != nil {
				st.reloads.failed.Add(1)
				logger.Error("reloading rules failed; keeping the running rules", "err", err)
				continue
			}
			st.reloads.ok.Add(1)
			logger.Info("rules reloaded")
		}
	}
}

// kindsFor selects the event kinds the sensor must deliver: those the rules
// need, or all of them when every event is written.
func kindsFor(rs *rules.Ruleset, all bool) [event.NumKinds]bool {
	if all {
		return sensor.AllKinds()
	}
	var k [event.NumKinds]bool
	for _, kind := range rs.Kinds() {
		k[kind] = true
	}
	return k
}

// setFilters gives the sensor the kernel filter of each kind the rules
// bound: the events they can match, or every event when every event is
// written (all).
func setFilters(s *sensor.Sensor, rs *rules.Ruleset, all bool) error {
	filters := map[event.Kind]*event.Filter{event.KindOpen: nil}
	if !all {
		filters[event.KindOpen] = rs.OpenFilter()
	}
	for kind, f := range filters {
		if err := s.SetFilter(kind, f); err != nil {
			return fmt.Errorf("setting kernel %s filter: %w", kind, err)
		}
	}
	return nil
}

func logLoad(logger *slog.Logger, res *rules.LoadResult, rs *rules.Ruleset) {
	for _, m := range res.Warnings() {
		logger.Debug("rules warning", "msg", m.String())
	}
	for _, sk := range res.Skipped() {
		logger.Info("rule skipped", "rule", sk.Name, "reason", sk.Reason)
	}
	logger.Info("rules loaded", "rules", len(rs.Active()), "skipped", len(res.Skipped()), "warnings", len(res.Warnings()))
}
