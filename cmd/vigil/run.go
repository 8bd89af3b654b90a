package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/dedup"
	"github.com/vigil-sensor/vigil/internal/metrics"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/resolve"
	"github.com/vigil-sensor/vigil/internal/response"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
	"github.com/vigil-sensor/vigil/sensor"
)

// runConfig is `vigil run`'s settings, from its flags and configuration
// file (runconfig.go).
type runConfig struct {
	configFile       string
	rules            stringList
	events           bool
	duration         time.Duration
	ringBufferSize   int
	metricsAddr      string
	pprofAddr        string
	containerdSocket string
	noContainerd     bool
	noResolveNames   bool
	minPriority      string
	strict           bool
	outputQueue      int
	outputQueueBytes int
	statusInterval   time.Duration
	drainTimeout     time.Duration
	lockFile         string
	syscallHooks     string
	ruleMatching     string
	disableRules     stringList
	enableRules      stringList
	disableTags      stringList
	enableTags       stringList
	groupsPerRule    int
	groups           int
	outputs          sink.Configs
	// groupStats counts the evictions of threshold and sequence groups
	// across reloads (not a setting).
	groupStats *rules.GroupStats
	// dedup and actions are the configuration file's dedup and actions
	// keys; response, responseConcurrency and responseQueue run the
	// actions (response.go).
	dedup               dedup.Config
	actions             response.Actions
	response            string
	responseConcurrency int
	responseQueue       int
}

func runCmd(args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	cfg, err := parseRunConfig(args, stderr)
	if err != nil {
		return err
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

	cfg.groupStats = &rules.GroupStats{}
	rs, res, err := cfg.loadRules(logger)
	if err != nil {
		return err
	}
	logLoad(logger, res, rs)
	if err := sensor.CheckPrivileges(); err != nil {
		return fmt.Errorf("starting sensor: %w", err)
	}
	var unclean string
	if cfg.lockFile != "" {
		lock, err := acquireLock(cfg.lockFile)
		if err != nil {
			return err
		}
		defer lock.release()
		if unclean = lock.unclean; unclean != "" {
			logger.Warn("the previous vigil ended without a clean stop (killed or crashed): events were not watched from then until now",
				"previous_pid", unclean, "lock_file", cfg.lockFile)
		}
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
	enc := output.NewEncoder(hostname).WithVersion(version)
	outputs, err := sink.New(cfg.outputs, sink.Deps{Encoder: enc, Stdout: stdout, Stderr: stderr,
		Logger: logger.With("component", "output"), QueueDepth: cfg.outputQueue, QueueBytes: cfg.outputQueueBytes,
		DrainTimeout: cfg.drainTimeout, UserAgent: "vigil/" + version})
	if err != nil {
		return err
	}
	var (
		outputDone bool
		outputErr  error
	)
	// closeOutput writes what is queued, giving up after the drain timeout
	// when an output does not take it; it runs once.
	closeOutput := func() error {
		if !outputDone {
			outputDone = true
			ctx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
			outputErr = outputs.Shutdown(ctx)
			cancel()
		}
		return outputErr
	}
	defer closeOutput()

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
	ids := newFileIdentities(s, logger.With("component", "identities"))
	if err := ids.setPaths(rs.IdentityPaths()); err != nil {
		return fmt.Errorf("learning the identities of the rules' files: %w", err)
	}
	if err := setFilters(s, rs, cfg.events); err != nil {
		return err
	}

	p := newPipelineTo(enr, rs, cfg.events, outputs)
	p.ids, p.identities = ids, ids.table
	go ids.run(ctx)
	if err := s.CompatErr(); err != nil && runtime.GOARCH != "amd64" {
		// The kernel marks 32-bit images only on x86 (TS_COMPAT).
		logger.Warn("32-bit (compat) syscalls are not seen: the files, connections and privilege changes of 32-bit programs go unwatched", "reason", err)
	} else if err != nil {
		logger.Warn("32-bit (ia32) syscalls are not seen: the files, connections and privilege changes of 32-bit programs go unwatched, and every exec of a 32-bit program raises the alert \""+ruleCompatExec+"\"", "reason", err)
		if p.compat, err = newCompatAlert(); err != nil {
			return err
		}
		if err := s.SetKinds(p.kinds(rs, cfg.events)); err != nil {
			return fmt.Errorf("updating kernel event filter: %w", err)
		}
	}
	p.names = resolve.New(resolve.Config{Logger: logger.With("component", "resolve")})
	p.hostNames = p.names.Table()
	p.names.SetNames(ctx, cfg.hostNames(rs, logger))
	go p.names.Run(ctx)
	if err := cfg.startResponse(ctx, p, enc, outputs, logger); err != nil {
		return err
	}
	defer p.stopResponse(0)
	st := &status{sensor: s, enricher: enr, writer: outputs, sinks: outputs, pipeline: p, enc: enc, logger: logger}

	go func() {
		select {
		case <-outputs.Failed():
			cancel(fmt.Errorf("writing output: %w", outputs.Err()))
		case <-ctx.Done():
		}
	}()
	if unclean != "" {
		pid, _ := strconv.ParseUint(unclean, 10, 64)
		st.emit(time.Now().UnixNano(), ruleUncleanStop, "Critical",
			"The previous vigil ended without a clean stop (killed or crashed); nothing was watched until this one started",
			[]output.Count{{Name: "previous_pid", Value: pid}})
	}
	go st.report(ctx, cfg.statusInterval)
	r := &reloader{args: args, cfg: cfg, outputs: outputs, logger: logger,
		apply: func(next *runConfig) error { return next.reload(logger, p, s) }}
	go reloadOnHUP(ctx, hup, logger, st, r.reload)

	if cfg.metricsAddr != "" {
		srv, err := metrics.Listen(cfg.metricsAddr, st.collect, st.healthy, logger)
		if err != nil {
			return err
		}
		defer srv.Close()
		logger.Info("serving metrics", "addr", srv.Addr())
	}
	if cfg.pprofAddr != "" {
		srv, err := listenPprof(cfg.pprofAddr, logger)
		if err != nil {
			return err
		}
		defer srv.Close()
		logger.Info("serving pprof", "addr", srv.Addr())
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
	p.stopResponse(cfg.drainTimeout)
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
	opts := rules.Options{Strict: cfg.strict, MatchAll: cfg.ruleMatching == "all", Logger: logger,
		Groups: rules.GroupLimits{PerRule: cfg.groupsPerRule, Total: cfg.groups, Stats: cfg.groupStats}}
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
	// The new rules start their thresholds and sequences afresh; the
	// eviction counts go on.
	cfg.groupStats = p.ruleset.Load().GroupStats()
	rs, res, err := cfg.loadRules(logger)
	if err != nil {
		return err
	}
	// Every event passes while the rules change, so that neither the old
	// rules nor the new miss one to the other's filter.
	if err := setFilters(s, rs, true); err != nil {
		return err
	}
	if err := s.SetKinds(p.kinds(rs, cfg.events)); err != nil {
		return fmt.Errorf("updating kernel event filter: %w", err)
	}
	p.names.SetNames(context.Background(), cfg.hostNames(rs, logger))
	if p.ids != nil {
		// While every open passes: the new rules' files, which the
		// new filter then admits by identity.
		if err := p.ids.setPaths(rs.IdentityPaths()); err != nil {
			return fmt.Errorf("learning the identities of the rules' files: %w", err)
		}
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

// kinds selects the event kinds the sensor must deliver to p: kindsFor's,
// and every exec when p raises the alert on 32-bit programs, whatever the
// rules ask for.
func (p *pipeline) kinds(rs *rules.Ruleset, all bool) [event.NumKinds]bool {
	k := kindsFor(rs, all)
	if p.compat != nil {
		k[event.KindExec] = true
	}
	return k
}

// kindsFor selects the event kinds the sensor must deliver: those the rules
// need, or all of them when every event is written. A kind whose filter
// admits nothing (its rules' conditions exclude every event of it, as the
// stable file's SSH rule does sends) is not needed either.
func kindsFor(rs *rules.Ruleset, all bool) [event.NumKinds]bool {
	if all {
		return sensor.AllKinds()
	}
	var k [event.NumKinds]bool
	filters := rs.Filters()
	for _, kind := range rs.Kinds() {
		if f, ok := filters[kind]; ok && !f.All && len(f.Clauses) == 0 {
			continue
		}
		k[kind] = true
	}
	return k
}

// setFilters gives the sensor the kernel filter of each kind the rules
// bound: the events they can match, or every event when every event is
// written (all).
func setFilters(s *sensor.Sensor, rs *rules.Ruleset, all bool) error {
	filters := rs.Filters()
	for kind, f := range filters {
		if all {
			f = admitAll(kind, f)
		}
		if err := s.SetFilter(kind, f); err != nil {
			return fmt.Errorf("setting kernel %s filter: %w", kind, err)
		}
	}
	return nil
}

// admitAll is the filter of kind that admits every event, f being the
// rules' filter of it: nil, except for sends and receives, whose data the
// kernel searches for the rules' needles (evt.buffer) only for the clauses
// of a filter that need them, so those clauses stay beside one that admits
// everything.
func admitAll(kind event.Kind, f *event.Filter) *event.Filter {
	if kind != event.KindSendRecv || f == nil || f.All {
		return nil
	}
	var needles []event.Clause
	for _, c := range f.Clauses {
		if c.RawContains != "" {
			needles = append(needles, c)
		}
	}
	if len(needles) == 0 {
		return nil
	}
	every := event.Clause{Types: kind.Types(), Classes: ^uint64(0), Results: event.AllResults, AnyPath: true}
	return &event.Filter{Clauses: append([]event.Clause{every}, needles...), Ports: f.Ports}
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

// hostNames are the names the resolver looks up for rs's fd.*ip.name
// checks: none with --no-resolve-names, on hosts that must not query DNS
// (the checks then match nothing, and the log says how many names that
// leaves unresolved).
func (cfg *runConfig) hostNames(rs *rules.Ruleset, logger *slog.Logger) []string {
	names := rs.HostNames()
	if cfg.noResolveNames && len(names) > 0 {
		logger.Info("not resolving the host names rules compare fd.*ip.name with; those checks match nothing",
			"names", len(names))
		return nil
	}
	return names
}
