package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
	"github.com/vigil-sensor/vigil/internal/falcorules"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, log)
	var usage usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(2)
	default:
		log.Error("harness", "err", err)
		os.Exit(1)
	}
}

// usageError is a bad command line.
type usageError struct{ error }

// options are the harness's flags.
type options struct {
	rounds     int
	duration   time.Duration
	quick      bool
	loops      []loadgen.Loop
	configs    string
	vigil      string
	baseline   string
	falcoRules string
	execArgv   []string
	list       bool
	saturate   bool
	satConfigs []string
	satLoop    loadgen.Loop
	sat        satOptions
	// processes is the memory step's count of idle processes (0: no step).
	processes int
}

func parseOptions(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per loop and configuration (alternated A B A B ...)")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "loadgen run time per round")
	fs.BoolVar(&o.quick, "quick", false, "smoke run in about a minute: 2 rounds of 250ms, one config of each kind, no saturation, 200 processes in the memory step (flags given explicitly win)")
	loops := fs.String("loops", loopNames(loadgen.Loops()), "loops to run")
	fs.StringVar(&o.configs, "configs", "default", `configurations, comma-separated ("default": all, tools only when installed; see -list)`)
	fs.StringVar(&o.vigil, "vigil", "", "vigil binary (default: built from ./cmd/vigil)")
	fs.StringVar(&o.baseline, "baseline", "", "another vigil binary for the base-* configs, e.g. a build of the previous commit, measured in the same rounds as vigil")
	fs.StringVar(&o.falcoRules, "falco-rules", "", "Falco's stable rules for the vigil-falco configs (default: falco_rules.yaml in $VIGIL_FALCO_RULES_DIR, else in ../shared/falco beside the module root); the vigil-falco-all configs also load the incubating and sandbox files beside it")
	execCmd := fs.String("exec", "/bin/busybox true", "program and argv the exec loop runs (a small static binary)")
	fs.BoolVar(&o.list, "list", false, "list the configurations and exit")
	fs.BoolVar(&o.saturate, "saturate", true, "after the table, search the highest fixed rate without drops")
	satConfigs := fs.String("saturate-configs", "vigil", "configurations the saturation search runs, one search each (e.g. vigil,vigil-events)")
	fs.IntVar(&o.sat.workers, "saturate-workers", runtime.NumCPU(), "loadgen workers in saturation steps (one per CPU loads the machine fully)")
	satLoop := fs.String("saturate-loop", "open", "loop the saturation search runs")
	fs.Float64Var(&o.sat.start, "saturate-start", 25000, "first rate of the search, ops/s")
	fs.Float64Var(&o.sat.factor, "saturate-factor", 2, "rate multiplier between steps")
	fs.Float64Var(&o.sat.max, "saturate-max", 3.2e6, "highest rate tried, ops/s")
	fs.IntVar(&o.sat.refine, "saturate-refine", 3, "bisection steps toward the highest rate without drops")
	fs.IntVar(&o.sat.past, "saturate-past", 2, "rates run past the first with drops")
	fs.DurationVar(&o.sat.duration, "saturate-duration", 0, "run time per saturation step (default: -duration)")
	fs.IntVar(&o.processes, "processes", 10000, "after the table and saturation, measure vigil's memory with this many live idle processes, seeded at its start and forked while it runs (0: skip)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["rounds"] {
			o.rounds = 2
		}
		if !set["duration"] {
			o.duration = 250 * time.Millisecond
		}
		if !set["saturate"] {
			o.saturate = false
		}
		if !set["configs"] {
			o.configs = "quick"
		}
		if !set["processes"] {
			o.processes = 200
		}
	}
	if o.sat.duration == 0 {
		o.sat.duration = o.duration
	}
	for name := range strings.SplitSeq(*loops, ",") {
		l, err := loadgen.ParseLoop(strings.TrimSpace(name))
		if err != nil {
			return o, usageError{err}
		}
		o.loops = append(o.loops, l)
	}
	l, err := loadgen.ParseLoop(*satLoop)
	if err != nil {
		return o, usageError{err}
	}
	o.satLoop = l
	for name := range strings.SplitSeq(*satConfigs, ",") {
		o.satConfigs = append(o.satConfigs, strings.TrimSpace(name))
	}
	o.execArgv = strings.Fields(*execCmd)
	switch {
	case len(o.execArgv) == 0:
		return o, usageError{errors.New("-exec is empty")}
	case o.rounds < 1:
		return o, usageError{errors.New("-rounds must be at least 1")}
	case o.duration <= 0 || o.sat.duration <= 0:
		return o, usageError{errors.New("durations must be positive")}
	case o.sat.start <= 0 || o.sat.factor <= 1 || o.sat.max < o.sat.start || o.sat.workers < 1:
		return o, usageError{errors.New("saturation needs 0 < start <= max, factor > 1 and workers >= 1")}
	case o.processes < 0:
		return o, usageError{errors.New("-processes must not be negative")}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	o, err := parseOptions(args, os.Stderr)
	if err != nil {
		return err
	}
	if o.list {
		for _, t := range tracers() {
			fmt.Fprintf(stdout, "%-20s %s\n", t.name, t.about)
		}
		return nil
	}
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return fmt.Errorf("making work directory: %w", err)
	}
	defer os.RemoveAll(dir)

	needVigil := strings.Contains(o.configs, "vigil") || o.configs == "default" || o.configs == "quick" || o.configs == "" ||
		(o.saturate && slices.ContainsFunc(o.satConfigs, func(c string) bool { return strings.HasPrefix(c, "vigil") })) ||
		o.processes > 0
	bins, err := build(ctx, log, dir, o, needVigil)
	if err != nil {
		return err
	}
	ts, err := selectTracers(o.configs, bins)
	if err != nil {
		return usageError{err}
	}
	var sat []*tracer
	if o.saturate {
		for _, name := range o.satConfigs {
			i := slices.IndexFunc(tracers(), func(t *tracer) bool { return t.name == name && t.argv != nil })
			if i < 0 {
				return usageError{fmt.Errorf("-saturate-configs: %q is not a tracer (see -list)", name)}
			}
			sat = append(sat, tracers()[i])
		}
	}
	// The memory step runs the default configuration: vigil's rules,
	// alerts only.
	var mem *tracer
	if o.processes > 0 {
		mem = tracers()[slices.IndexFunc(tracers(), func(t *tracer) bool { return t.name == "vigil" })]
	}
	check := append(slices.Clone(ts), sat...)
	if mem != nil {
		check = append(check, mem)
	}
	if err := checkTracers(check, bins); err != nil {
		if mem != nil {
			err = fmt.Errorf("%w\n(the memory step runs vigil: turn it off with -processes 0)", err)
		}
		return err
	}
	if os.Geteuid() != 0 && (len(ts) > 1 || len(sat) > 0 || mem != nil) {
		return errors.New("tracers load BPF programs: run the harness as root (the memory step runs vigil: -processes 0 turns it off)")
	}
	if _, err := exec.LookPath(o.execArgv[0]); err != nil && containsLoop(o.loops, loadgen.LoopExec) {
		return fmt.Errorf("exec loop program: %w (install busybox-static or pass -exec)", err)
	}
	if _, err := os.Stat(idleArgv[0]); err != nil && mem != nil {
		return fmt.Errorf("memory step's idle program: %w (install busybox-static or pass -processes 0)", err)
	}

	h := &harness{log: log, bins: bins, dir: dir, execArgv: o.execArgv}
	fmt.Fprintf(stdout, "# vigil bench: %d rounds x %v per loop and config, alternated; kernel %s, %d CPUs; exec loop runs %q\n",
		o.rounds, o.duration, kernelRelease(), runtime.NumCPU(), strings.Join(o.execArgv, " "))
	var tn taint
	sums, err := h.compare(ctx, o, ts, &tn)
	if err != nil {
		return err
	}
	setRatios(sums, "none")
	if err := writeTable(stdout, sums); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	if err := writeLegend(stdout); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	if _, err := io.WriteString(stdout, tn.warning()); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	if err := writeBudgets(stdout, checkBudgets(sums)); err != nil {
		return fmt.Errorf("writing budgets: %w", err)
	}
	if err := writeKernel(stdout, sums); err != nil {
		return fmt.Errorf("writing kernel counts: %w", err)
	}
	// With --events the kernel filter is off: no rule is why events flow.
	reports := map[string][]filterKind{}
	for _, t := range ts {
		if !t.vigil || t.events {
			continue
		}
		rep, err := h.filterReport(ctx, t)
		if err != nil {
			h.log.Warn("no kernel filter report", "config", t.name, "err", err)
			continue
		}
		if rep != nil {
			reports[t.name] = rep
		}
	}
	if err := writeFlowing(stdout, sums, reports); err != nil {
		return fmt.Errorf("writing kernel filter reports: %w", err)
	}
	failed := 0
	for _, s := range sums {
		if s.failure != "" {
			failed++
		}
	}
	for _, t := range sat {
		// A failed step ends its search; the steps before it still print.
		res, serr := h.saturate(ctx, t, o.satLoop, o.sat)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := writeSaturation(stdout, t.name, o.satLoop, o.sat, res, serr); err != nil {
			return fmt.Errorf("writing saturation table: %w", err)
		}
		if serr != nil {
			h.log.Error("saturation search failed", "config", t.name, "err", serr)
			failed++
		}
	}
	if mem != nil {
		var rs []memResult
		for _, sit := range memSituations() {
			started := time.Now()
			r := h.memory(ctx, mem, o.processes, sit)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if r.err != nil {
				h.log.Error("memory step failed", "situation", sit.name, "processes", o.processes, "err", r.err)
				failed++
			}
			h.log.Info("memory step", "situation", sit.name, "processes", o.processes, "took", time.Since(started).Round(time.Millisecond))
			rs = append(rs, r)
		}
		if err := writeMemory(stdout, mem.name, o.processes, rs); err != nil {
			return fmt.Errorf("writing memory results: %w", err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d rows, searches or memory measurements failed (see the output and the log)", failed)
	}
	return nil
}

// loopNames joins the loops' names with commas.
func loopNames(ls []loadgen.Loop) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = string(l)
	}
	return strings.Join(names, ",")
}

func containsLoop(ls []loadgen.Loop, l loadgen.Loop) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// compare runs the alternated rounds of every loop and configuration. A
// configuration whose round fails is dropped from its loop's later rounds
// and reported in the table; the others go on. Rounds that start with
// another process's tracer loaded are counted in tn.
func (h *harness) compare(ctx context.Context, o options, ts []*tracer, tn *taint) ([]summary, error) {
	var sums []summary
	for _, l := range o.loops {
		samples := map[string][]sample{}
		failures := map[string]string{}
		for r := range o.rounds {
			for _, t := range ts {
				if !t.appliesTo(l) || failures[t.name] != "" {
					continue
				}
				before, err := foreignTracers(ctx, foreignWait, h.own)
				if err != nil {
					return nil, err
				}
				s, err := h.round(ctx, t, load{loop: l, duration: o.duration})
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					h.log.Error("round failed", "loop", l, "config", t.name, "round", r+1, "err", err)
					failures[t.name] = firstLine(err.Error())
					continue
				}
				// Checked on both sides: another tracer may come or go
				// during the round.
				after, err := foreignTracers(ctx, foreignWait, h.own)
				if err != nil {
					return nil, err
				}
				foreign := append(before, after...)
				if len(foreign) > 0 {
					s.tainted = true
					h.log.Warn("another tracer was loaded during the round", "loop", l, "config", t.name, "round", r+1,
						"programs", len(foreign))
				}
				tn.add(foreign)
				h.log.Info("round", "loop", l, "config", t.name, "round", r+1, "ops", s.res.Ops,
					"ns_per_op", int(s.res.NSPerOp), "tracer_cpu", s.tracerCPU, "delivered", s.obs.delivered, "drops", s.obs.drops,
					"attach", s.attach.Round(time.Millisecond), "settle", s.settle.Round(time.Millisecond),
					"detach", s.detach.Round(time.Millisecond))
				samples[t.name] = append(samples[t.name], s)
			}
		}
		for _, t := range ts {
			if t.appliesTo(l) {
				sums = append(sums, summarize(l, t.name, samples[t.name], failures[t.name]))
			}
		}
	}
	return sums, nil
}

// foreignWait is how long a round waits for the tracing programs of the
// previous round's tracer to be freed before counting what is left as
// another tracer's.
const foreignWait = time.Second

// firstLine shortens an error for a table cell.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// build compiles the loadgen and floor commands, and vigil unless -vigil
// names a binary. A vigil that does not build is recorded, not fatal: only
// the configurations that need it fail.
func build(ctx context.Context, log *slog.Logger, dir string, o options, needVigil bool) (*paths, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	p := &paths{
		loadgen:    filepath.Join(dir, "loadgen"),
		floor:      filepath.Join(dir, "floor"),
		falcoRules: o.falcoRules,
	}
	if p.falcoRules == "" {
		p.falcoRules = filepath.Join(falcorules.Dir(root), falcorules.Stable)
	}
	for _, f := range falcorules.Files {
		if f == falcorules.Stable {
			p.falcoAll = append(p.falcoAll, p.falcoRules)
			continue
		}
		p.falcoAll = append(p.falcoAll, filepath.Join(filepath.Dir(p.falcoRules), f))
	}
	if o.baseline != "" {
		if p.baseline, err = filepath.Abs(o.baseline); err != nil {
			return nil, fmt.Errorf("resolving -baseline: %w", err)
		}
		if _, err := os.Stat(p.baseline); err != nil {
			return nil, fmt.Errorf("-baseline: %w", err)
		}
	}
	if err := goBuild(ctx, root, dir, "./bench/cmd/loadgen", "./bench/cmd/floor"); err != nil {
		return nil, err
	}
	switch {
	case o.vigil != "":
		if _, err := os.Stat(o.vigil); err != nil {
			p.vigilErr = err
		} else if p.vigil, err = filepath.Abs(o.vigil); err != nil {
			return nil, fmt.Errorf("resolving -vigil: %w", err)
		}
	case needVigil:
		if err := goBuild(ctx, root, dir, "./cmd/vigil"); err != nil {
			p.vigilErr = err
			log.Warn("vigil does not build; its configurations will fail", "err", err)
		} else {
			p.vigil = filepath.Join(dir, "vigil")
		}
	default:
		p.vigilErr = errors.New("not built: no vigil configuration selected")
	}
	return p, nil
}

// moduleRoot is the directory of vigil's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root (go env GOMOD): %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("finding the module root: run the harness inside the vigil module")
	}
	return filepath.Dir(mod), nil
}

// goBuild builds pkgs of the module at root into dir.
func goBuild(ctx context.Context, root, dir string, pkgs ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w: %s", strings.Join(pkgs, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// kernelRelease is uname -r, for the table's header.
func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "unknown"
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
