package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/internal/config"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/response"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
	"github.com/vigil-sensor/vigil/sensor"
)

// runOption is one setting of vigil run: a flag, and the configuration
// file's key of the same meaning, the flag's name with '_' for '-'. One
// table makes both, so that no flag lacks its key.
type runOption struct {
	name  string
	usage string
	// ptr is the setting: *bool, *int, *string, *time.Duration or
	// *stringList (a repeatable flag, a list in the file).
	ptr any
	// alias is a short flag of the same meaning (Falco's -D, -T, -t).
	alias string
	// check validates the value, from a flag or from the file.
	check func() error
	// reloadable settings take effect on SIGHUP; the others at restart.
	reloadable bool
}

// key is the option's key in the configuration file.
func (o *runOption) key() string { return strings.ReplaceAll(o.name, "-", "_") }

// defaultRunConfig is vigil run's configuration when neither flags nor a
// file say otherwise.
func defaultRunConfig() *runConfig {
	return &runConfig{
		ringBufferSize:   sensor.DefaultRingBufferSize,
		containerdSocket: enrich.DefaultContainerdSocket,
		ruleMatching:     "first",
		outputQueue:      16384,
		outputQueueBytes: output.DefaultMaxQueueBytes,
		statusInterval:   time.Second,
		drainTimeout:     5 * time.Second,
		lockFile:         defaultLockFile,
		syscallHooks:     "auto",
		groupsPerRule:    rules.DefaultGroupsPerRule,
		groups:           rules.DefaultGroups,

		response:            response.ModeRun,
		responseConcurrency: response.DefaultConcurrency,
		responseQueue:       response.DefaultQueue,
	}
}

// options binds every setting of cfg to its flag and key.
func (cfg *runConfig) options() []runOption {
	positive := func(name string, v *int) func() error {
		return func() error {
			if *v <= 0 {
				return fmt.Errorf("%s must be positive", name)
			}
			return nil
		}
	}
	return []runOption{
		{name: "rules", ptr: &cfg.rules, reloadable: true,
			usage: "rules file to load (repeatable; default: the embedded vigil rules)"},
		{name: "events", ptr: &cfg.events,
			usage: "also write every event as a JSON line (the environment and capabilities only in the records of execs, forks and credential changes)"},
		{name: "duration", ptr: &cfg.duration,
			usage: "stop cleanly after this long (0: run until SIGINT/SIGTERM)"},
		{name: "ring-buffer-size", ptr: &cfg.ringBufferSize, check: positive("the ring buffer size", &cfg.ringBufferSize),
			usage: "kernel ring buffer size in bytes (power of two)"},
		{name: "metrics-addr", ptr: &cfg.metricsAddr,
			usage: "serve Prometheus metrics and /healthz on this address (\":9090\" binds loopback)"},
		{name: "pprof-addr", ptr: &cfg.pprofAddr, check: func() error {
			if cfg.pprofAddr == "" || strings.HasPrefix(cfg.pprofAddr, ":") {
				return nil
			}
			return checkLoopback(cfg.pprofAddr)
		},
			usage: "serve Go's runtime profiles (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060 (\":6060\" binds loopback; other hosts are refused)"},
		{name: "containerd-socket", ptr: &cfg.containerdSocket,
			usage: "containerd's socket, for container metadata"},
		{name: "no-containerd", ptr: &cfg.noContainerd,
			usage: "do not ask containerd for metadata (containers are still identified by id)"},
		{name: "no-resolve-names", ptr: &cfg.noResolveNames, reloadable: true,
			usage: "do not resolve the host names rules compare fd.sip.name and the like with (no DNS queries; those checks match nothing)"},
		{name: "min-priority", ptr: &cfg.minPriority, reloadable: true, check: cfg.checkMinPriority,
			usage: "leave out rules less severe than this priority (e.g. Warning)"},
		{name: "strict", ptr: &cfg.strict, reloadable: true,
			usage: "fail on rules that need a field or event vigil lacks, instead of skipping them"},
		{name: "rule-matching", ptr: &cfg.ruleMatching, reloadable: true, check: cfg.checkRuleMatching,
			usage: "first: an event raises the alert of the first rule it matches; all: of every rule it matches (Falco's rule_matching)"},
		{name: "disable-rule", alias: "D", ptr: &cfg.disableRules, reloadable: true,
			usage: "disable the rules whose names contain this text (repeatable; Falco's -D)"},
		{name: "enable-rule", ptr: &cfg.enableRules, reloadable: true,
			usage: "enable the rules whose names contain this text, even those their file disables (repeatable; applied last)"},
		{name: "disable-tag", alias: "T", ptr: &cfg.disableTags, reloadable: true,
			usage: "disable the rules with this tag (repeatable; Falco's -T)"},
		{name: "enable-tag", alias: "t", ptr: &cfg.enableTags, reloadable: true,
			usage: "run only the rules with this tag (repeatable; Falco's -t, not with -D or -T)"},
		{name: "output-queue", ptr: &cfg.outputQueue, check: positive("the output queue", &cfg.outputQueue),
			usage: "records queued for each output before new ones are dropped and counted (an output's queue key overrides it)"},
		{name: "output-queue-bytes", ptr: &cfg.outputQueueBytes, check: positive("the output queue's bytes", &cfg.outputQueueBytes),
			usage: "bytes queued for each output before new records are dropped and counted (an output's queue_bytes key overrides it)"},
		{name: "status-interval", ptr: &cfg.statusInterval, check: func() error {
			if cfg.statusInterval <= 0 {
				return errors.New("the status interval must be positive")
			}
			return nil
		}, usage: "how often drops are checked and reported as internal records"},
		{name: "drain-timeout", ptr: &cfg.drainTimeout, check: func() error {
			if cfg.drainTimeout < 0 {
				return errors.New("the drain timeout must not be negative")
			}
			return nil
		}, usage: "at shutdown, how long the outputs may take to accept the queued records"},
		{name: "lock-file", ptr: &cfg.lockFile,
			usage: "lock held while running, so that only one vigil runs (empty: no lock)"},
		{name: "rule-groups-per-rule", ptr: &cfg.groupsPerRule, reloadable: true, check: positive("the groups per rule", &cfg.groupsPerRule),
			usage: "groups a threshold or sequence rule keeps (values of its by fields, sequences in progress) before evicting its oldest, counted"},
		{name: "rule-groups", ptr: &cfg.groups, reloadable: true, check: positive("the groups of all rules", &cfg.groups),
			usage: "groups all threshold and sequence rules keep together before evicting the oldest, counted"},
		{name: "syscall-hooks", ptr: &cfg.syscallHooks, check: func() error {
			_, err := parseSyscallHooks(cfg.syscallHooks)
			return err
		}, usage: "how open, connect and the other syscall kinds are traced: auto, raw (one raw sys_exit program, x86-64; it also sees 32-bit syscalls) or tracepoint"},
		{name: "response", ptr: &cfg.response, check: func() error { return response.CheckMode(cfg.response) },
			usage: "what the configuration file's actions do when their rules fire: run, log (record what would run, run nothing) or off"},
		{name: "response-concurrency", ptr: &cfg.responseConcurrency, check: positive("the response concurrency", &cfg.responseConcurrency),
			usage: "response action programs running at once, at most"},
		{name: "response-queue", ptr: &cfg.responseQueue, check: positive("the response queue", &cfg.responseQueue),
			usage: "response action runs waiting for a program slot before new ones are skipped and counted"},
	}
}

func (cfg *runConfig) checkMinPriority() error {
	if cfg.minPriority == "" {
		return nil
	}
	_, err := rules.ParsePriority(cfg.minPriority)
	return err
}

func (cfg *runConfig) checkRuleMatching() error {
	if cfg.ruleMatching != "first" && cfg.ruleMatching != "all" {
		return fmt.Errorf("%q: want first or all", cfg.ruleMatching)
	}
	return nil
}

// bind defines cfg's flags on fs, with cfg's values as defaults.
func (cfg *runConfig) bind(fs *flag.FlagSet) {
	fs.StringVar(&cfg.configFile, "config", cfg.configFile, "YAML configuration file: a key for every flag (its name with _ for -) and outputs; flags win")
	for _, o := range cfg.options() {
		names := []string{o.name}
		if o.alias != "" {
			names = append(names, o.alias)
		}
		for i, name := range names {
			usage := o.usage
			if i > 0 {
				usage = "same as --" + o.name
			}
			switch p := o.ptr.(type) {
			case *bool:
				fs.BoolVar(p, name, *p, usage)
			case *int:
				fs.IntVar(p, name, *p, usage)
			case *string:
				fs.StringVar(p, name, *p, usage)
			case *time.Duration:
				fs.DurationVar(p, name, *p, usage)
			case *stringList:
				fs.Var(&listFlag{list: p}, name, usage)
			default:
				panic(fmt.Sprintf("option %s: unsupported type %T", o.name, p))
			}
		}
	}
}

// listFlag is a repeatable flag over a list: its first use replaces what
// the configuration file gave, later uses add to it.
type listFlag struct {
	list *stringList
	used bool
}

func (l *listFlag) String() string {
	if l.list == nil {
		return ""
	}
	return l.list.String()
}

func (l *listFlag) Set(v string) error {
	if !l.used {
		*l.list, l.used = nil, true
	}
	*l.list = append(*l.list, v)
	return nil
}

// parseRunConfig reads vigil run's settings: defaults, then the
// configuration file (--config), then the flags, which win. A problem in
// the file names its file:line:col; every error is a usage error.
func parseRunConfig(args []string, stderr io.Writer) (*runConfig, error) {
	cfg := defaultRunConfig()
	fs := newFlagSet("run", stderr)
	cfg.bind(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("run takes no arguments, got %q", fs.Args())}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.configFile != "" {
		file := defaultRunConfig()
		if err := file.load(cfg.configFile); err != nil {
			return nil, err
		}
		// The same flags again, over the file's values.
		again := flag.NewFlagSet("vigil run", flag.ContinueOnError)
		again.SetOutput(io.Discard)
		file.bind(again)
		if err := again.Parse(args); err != nil {
			return nil, usageError{err}
		}
		cfg = file
	}
	for _, o := range cfg.options() {
		if o.check != nil && (set[o.name] || set[o.alias]) {
			if err := o.check(); err != nil {
				return nil, usageError{fmt.Errorf("--%s: %w", o.name, err)}
			}
		}
	}
	if err := cfg.selection().check(); err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// load sets cfg from a configuration file.
func (cfg *runConfig) load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError{fmt.Errorf("reading configuration: %w", err)}
	}
	var keys []config.Key
	for _, o := range cfg.options() {
		keys = append(keys, config.Key{Name: o.key(), Dst: o.ptr, Check: o.check})
	}
	keys = append(keys, config.Key{Name: "outputs", Dst: &cfg.outputs},
		config.Key{Name: "dedup", Dst: &cfg.dedup}, config.Key{Name: "actions", Dst: &cfg.actions})
	if err := config.Decode(path, data, keys); err != nil {
		return usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	cfg.configFile = path
	return nil
}

// ruleSelection enables and disables loaded rules as Falco's -D, -T and -t
// do.
type ruleSelection struct {
	disableRules, enableRules, disableTags, enableTags []string
}

func (cfg *runConfig) selection() ruleSelection {
	return ruleSelection{cfg.disableRules, cfg.enableRules, cfg.disableTags, cfg.enableTags}
}

func (s ruleSelection) empty() bool {
	return len(s.disableRules)+len(s.enableRules)+len(s.disableTags)+len(s.enableTags) == 0
}

// check refuses what Falco refuses: -t with -D or -T.
func (s ruleSelection) check() error {
	if len(s.enableTags) > 0 && len(s.disableRules)+len(s.disableTags) > 0 {
		return errors.New("enable-tag (-t) runs only the rules with its tags; it cannot be combined with disable-rule (-D) or disable-tag (-T)")
	}
	return nil
}

// resolve names the rules to switch on and off: disabled when a name
// contains a disable-rule text or a tag is a disable-tag; with enable-tag,
// enabled exactly when a tag is one of them (even a rule its file
// disables, as Falco's -t does); enabled, last, when a name contains an
// enable-rule text.
func (s ruleSelection) resolve(all []*rules.Rule) (enable, disable []string) {
	contains := func(name string, subs []string) bool {
		return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(name, sub) })
	}
	tagged := func(tags, want []string) bool {
		return slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(want, t) })
	}
	for _, r := range all {
		on := r.Enabled
		if contains(r.Name, s.disableRules) || tagged(r.Tags, s.disableTags) {
			on = false
		}
		if len(s.enableTags) > 0 {
			on = tagged(r.Tags, s.enableTags)
		}
		if contains(r.Name, s.enableRules) {
			on = true
		}
		switch {
		case on && !r.Enabled:
			enable = append(enable, r.Name)
		case !on && r.Enabled:
			disable = append(disable, r.Name)
		}
	}
	return enable, disable
}

// loadRules loads cfg's rule files with its options and rule selection.
func (cfg *runConfig) loadRules(logger *slog.Logger) (*rules.Ruleset, *rules.LoadResult, error) {
	opts, err := cfg.ruleOptions(logger)
	if err != nil {
		return nil, nil, err
	}
	return loadSelected(cfg.rules, opts, cfg.selection())
}

// reread reads the configuration again for a reload: the file and the
// command line's flags over it. Settings that take effect only at restart
// keep their running values, and a change to one is logged.
func (cfg *runConfig) reread(args []string, logger *slog.Logger) (*runConfig, error) {
	next, err := parseRunConfig(args, io.Discard)
	if err != nil {
		return nil, err
	}
	running, want := cfg.options(), next.options()
	for i := range running {
		if running[i].reloadable {
			continue
		}
		cur, v := reflect.ValueOf(running[i].ptr).Elem(), reflect.ValueOf(want[i].ptr).Elem()
		if !reflect.DeepEqual(cur.Interface(), v.Interface()) {
			logger.Warn("a changed setting takes effect at restart; keeping the running value", "key", running[i].key(),
				"running", fmt.Sprint(cur.Interface()), "configured", fmt.Sprint(v.Interface()))
			v.Set(cur)
		}
	}
	if !reflect.DeepEqual(cfg.dedup, next.dedup) || !reflect.DeepEqual(cfg.actions, next.actions) {
		logger.Warn("changed dedup or actions take effect at restart; keeping the running ones")
		next.dedup, next.actions = cfg.dedup, cfg.actions
	}
	return next, nil
}

// reloader applies a configuration read again on SIGHUP: output files are
// reopened (logrotate moved them), then the new outputs are started, the
// rules loaded and swapped in by apply, and the outputs switched; when
// anything fails, the running configuration stays whole.
type reloader struct {
	args    []string
	cfg     *runConfig
	outputs *sink.Set
	logger  *slog.Logger
	apply   func(next *runConfig) error
}

func (r *reloader) reload() error {
	if err := r.outputs.Reopen(); err != nil {
		r.logger.Error("reopening output files", "err", err)
	}
	next := r.cfg
	if r.cfg.configFile != "" {
		var err error
		if next, err = r.cfg.reread(r.args, r.logger); err != nil {
			return err
		}
	}
	change, err := r.outputs.Prepare(next.outputs)
	if err != nil {
		return err
	}
	if err := r.apply(next); err != nil {
		change.Abort()
		return err
	}
	change.Commit()
	r.cfg = next
	return nil
}
