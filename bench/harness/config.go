package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
	"github.com/vigil-sensor/vigil/internal/falcorules"
)

// paths are the programs the harness runs.
type paths struct {
	loadgen, floor, vigil string
	// vigilErr says why there is no vigil binary (vigil is then empty).
	vigilErr   error
	falcoRules string
	// falcoAll are Falco's three upstream files, in load order: falcoRules
	// and the incubating and sandbox files beside it.
	falcoAll []string
	// baseline is another vigil binary (-baseline) that the base-*
	// configurations run, to compare two builds in one run.
	baseline string
}

// tracer is one configuration the harness measures against no tracer.
type tracer struct {
	name  string
	about string
	// loops lists the loops the tracer has something to trace in; nil is
	// all of them.
	loops []loadgen.Loop
	// argv is the tracer's command for loop l, attributing events to pid;
	// nil for no tracer. safety is a run time the tracer may stop itself
	// after, should the harness die without stopping it.
	argv func(p *paths, l loadgen.Loop, pid int, safety time.Duration) []string
	// readyLine is the stderr text the tracer logs once attached. Tools
	// that print none are probed instead: the harness issues operations of
	// the loop until the tool reports one of them (match with its pid).
	readyLine string
	match     func(l loadgen.Loop) lineMatcher
	// marker, when set, is the loop whose operation the harness issues
	// after the load of loop l to see the tracer catch up (default: l).
	marker func(l loadgen.Loop) loadgen.Loop
	// settle is how the harness waits, after the load, for the tracer to
	// catch up before stopping it.
	settle settleKind
	// vigil marks vigil's configurations; rules are the rules one loads,
	// events is set when it writes every event (its kernel filter off).
	vigil  bool
	rules  ruleFiles
	events bool
	// collect reads the tracer's output once it stopped.
	collect func(stdout *os.File, stderr []byte, l loadgen.Loop, pid int) (observed, error)
	// command is the program that must be present to run the tracer.
	command func(p *paths) (string, error)
}

// markerLoop is the loop of the operation that shows t caught up in l.
func (t *tracer) markerLoop(l loadgen.Loop) loadgen.Loop {
	if t.marker == nil {
		return l
	}
	return t.marker(l)
}

// ruleFiles are the rules a vigil configuration loads.
type ruleFiles int

const (
	// rulesDefault: vigil's embedded rules.
	rulesDefault ruleFiles = iota
	// rulesFalco: Falco's stable file (-falco-rules).
	rulesFalco
	// rulesFalcoAll: Falco's three upstream files.
	rulesFalcoAll
)

// files returns the --rules arguments of r; none for the defaults.
func (r ruleFiles) files(p *paths) []string {
	switch r {
	case rulesFalco:
		return []string{p.falcoRules}
	case rulesFalcoAll:
		return p.falcoAll
	}
	return nil
}

// appliesTo reports whether t runs in loop l.
func (t *tracer) appliesTo(l loadgen.Loop) bool {
	if t.loops == nil {
		return true
	}
	for _, x := range t.loops {
		if x == l {
			return true
		}
	}
	return false
}

// settleKind is a way to tell that a tracer has caught up with the load.
type settleKind int

const (
	// settleNone: the tracer drains its buffers itself when stopped (the
	// floor), or has nothing to drain.
	settleNone settleKind = iota
	// settleMarker: the harness issues an operation of its own and waits
	// for the tracer to print it (match), which it does after every event
	// queued before it.
	settleMarker
	// settleQuiet: the tracer prints nothing per event; wait until its
	// CPU use falls quiet.
	settleQuiet
)

// tracers returns every configuration, in the order rounds run them.
func tracers() []*tracer {
	floorTracer := func(mode, about string) *tracer {
		return &tracer{
			name:  "floor-" + mode,
			about: about,
			argv: func(p *paths, l loadgen.Loop, pid int, safety time.Duration) []string {
				return []string{p.floor, "-mode", mode, "-pid", strconv.Itoa(pid), "-duration", safety.String()}
			},
			readyLine: "floor attached",
			collect: func(stdout *os.File, _ []byte, l loadgen.Loop, _ int) (observed, error) {
				b, err := os.ReadFile(stdout.Name())
				if err != nil {
					return observed{}, fmt.Errorf("reading floor report: %w", err)
				}
				return parseFloorReport(b, l)
			},
			command: func(p *paths) (string, error) { return p.floor, nil },
		}
	}
	// vigilTracer runs the vigil binary bin returns (or says why there is
	// none), with extra flags.
	vigilTracer := func(name, about string, bin func(*paths) (string, error), extra []string, rules ruleFiles, events bool) *tracer {
		settle, match := settleQuiet, func(loadgen.Loop) lineMatcher { return nil }
		if events {
			settle, match = settleMarker, vigilMatch
		}
		return &tracer{
			name:   name,
			about:  about,
			settle: settle,
			match:  match,
			marker: vigilMarkerLoop,
			vigil:  true,
			rules:  rules,
			events: events,
			argv: func(p *paths, l loadgen.Loop, pid int, safety time.Duration) []string {
				vigil, _ := bin(p)
				argv := append([]string{vigil, "run", "--duration", safety.String()}, extra...)
				for _, f := range rules.files(p) {
					argv = append(argv, "--rules", f)
				}
				if events {
					argv = append(argv, "--events")
				}
				return argv
			},
			readyLine: "sensor attached",
			collect: func(stdout *os.File, stderr []byte, l loadgen.Loop, pid int) (observed, error) {
				if _, err := stdout.Seek(0, 0); err != nil {
					return observed{}, fmt.Errorf("rewinding vigil output: %w", err)
				}
				o, err := parseVigilOutput(stdout, l, pid, events)
				if err != nil {
					return o, err
				}
				if o.kernel, err = parseFinalCounts(stderr); err != nil {
					return o, err
				}
				reconcileDrops(&o)
				return o, nil
			},
			command: func(p *paths) (string, error) {
				vigil, err := bin(p)
				if err != nil {
					return "", err
				}
				for _, f := range rules.files(p) {
					if _, err := os.Stat(f); err != nil {
						return "", fmt.Errorf("falco rules (-falco-rules or %s): %w", falcorules.EnvDir, err)
					}
				}
				return vigil, nil
			},
		}
	}
	toolTracer := func(name, about string, loops []loadgen.Loop, argv func(l loadgen.Loop) []string, match func(l loadgen.Loop) lineMatcher) *tracer {
		return &tracer{
			name:  name,
			about: about,
			loops: loops,
			argv: func(_ *paths, l loadgen.Loop, _ int, _ time.Duration) []string {
				return argv(l)
			},
			match:  match,
			settle: settleMarker,
			collect: func(stdout *os.File, stderr []byte, l loadgen.Loop, pid int) (observed, error) {
				if _, err := stdout.Seek(0, 0); err != nil {
					return observed{}, fmt.Errorf("rewinding %s output: %w", name, err)
				}
				return parseToolOutput(stdout, stderr, match(l), pid)
			},
			command: func(*paths) (string, error) { return exec.LookPath(argv(loadgen.LoopOpen)[0]) },
		}
	}
	vigil := func(p *paths) (string, error) {
		if p.vigil == "" {
			return "", fmt.Errorf("no vigil binary: %w", p.vigilErr)
		}
		return p.vigil, nil
	}
	baseline := func(p *paths) (string, error) {
		if p.baseline == "" {
			return "", errors.New("no -baseline binary given")
		}
		return p.baseline, nil
	}
	// Falco's files name miner pools and the Kubernetes API server: the
	// measured agent does not look them up in the machine's DNS. The
	// baseline build runs with its own defaults (builds before the flag
	// resolved nothing); resolution is off the event path either way.
	// Without the lock, a round does not fail because another vigil runs
	// on a shared machine; the rounds it overlaps are marked tainted.
	noDNS := []string{"--no-resolve-names", "--lock-file", ""}
	return []*tracer{
		{name: "none", about: "no tracer: the baseline every ratio divides by"},
		floorTracer("counter", "eBPF floor: a per-CPU counter on each hook vigil uses here (raw sys_exit or tracepoint pairs, as vigil chooses)"),
		floorTracer("ringbuf", "eBPF floor: + a 16-byte ring-buffer record per event, no wakeup, Go reader polling every 10 ms"),
		vigilTracer("vigil", "vigil run, default rules, alerts only", vigil, noDNS, rulesDefault, false),
		vigilTracer("vigil-events", "vigil run --events, default rules (counts delivered events)", vigil, noDNS, rulesDefault, true),
		vigilTracer("vigil-falco", "vigil run --rules falco_rules.yaml, alerts only", vigil, noDNS, rulesFalco, false),
		vigilTracer("vigil-falco-events", "vigil run --rules falco_rules.yaml --events (counts delivered events)", vigil, noDNS, rulesFalco, true),
		vigilTracer("vigil-falco-all", "vigil run with Falco's three upstream files (stable, incubating, sandbox), alerts only", vigil, noDNS, rulesFalcoAll, false),
		vigilTracer("vigil-falco-all-events", "vigil run with Falco's three upstream files --events (counts delivered events)", vigil, noDNS, rulesFalcoAll, true),
		vigilTracer("base", "the -baseline build: as vigil", baseline, nil, rulesDefault, false),
		vigilTracer("base-events", "the -baseline build: as vigil-events", baseline, nil, rulesDefault, true),
		vigilTracer("base-falco", "the -baseline build: as vigil-falco", baseline, nil, rulesFalco, false),
		vigilTracer("base-falco-events", "the -baseline build: as vigil-falco-events", baseline, nil, rulesFalco, true),
		vigilTracer("base-falco-all", "the -baseline build: as vigil-falco-all", baseline, nil, rulesFalcoAll, false),
		toolTracer("bpftrace", "bpftrace printing each event (sys_enter tracepoint of the loop's syscall)", nil,
			func(l loadgen.Loop) []string { return []string{"bpftrace", "-B", "none", "-e", bpftraceScript(l)} },
			func(l loadgen.Loop) lineMatcher {
				if l == loadgen.LoopExec {
					return fieldIs(1) // the parent's tgid
				}
				return fieldIs(0)
			}),
		toolTracer("opensnoop", "libbpf-tools opensnoop, line-buffered output", []loadgen.Loop{loadgen.LoopOpen},
			func(loadgen.Loop) []string { return []string{"stdbuf", "-oL", "opensnoop"} },
			func(loadgen.Loop) lineMatcher { return fieldIs(0) }), // PID COMM FD ERR PATH
		toolTracer("execsnoop", "libbpf-tools execsnoop, line-buffered output", []loadgen.Loop{loadgen.LoopExec},
			func(loadgen.Loop) []string { return []string{"stdbuf", "-oL", "execsnoop"} },
			func(loadgen.Loop) lineMatcher { return fieldIs(2) }), // PCOMM PID PPID RET ARGS
	}
}

// bpftraceScript is the one-liner a user would write to watch the loop's
// syscall, printing the attributed pid first (for exec: the parent's).
func bpftraceScript(l loadgen.Loop) string {
	switch l {
	case loadgen.LoopExec:
		return `tracepoint:syscalls:sys_enter_execve { printf("%d %d %s\n", pid, curtask->real_parent->tgid, str(args->filename)); }`
	case loadgen.LoopConnect:
		return `tracepoint:syscalls:sys_enter_connect { printf("%d %s %d\n", pid, comm, args->fd); }`
	case loadgen.LoopFS:
		return `tracepoint:syscalls:sys_enter_unlinkat { printf("%d %s %s\n", pid, comm, str(args->pathname)); }`
	case loadgen.LoopUDP, loadgen.LoopTCP:
		return `tracepoint:syscalls:sys_enter_sendto { printf("%d %s %d %d\n", pid, comm, args->fd, args->len); }`
	case loadgen.LoopDup2:
		return `tracepoint:syscalls:sys_enter_dup2 { printf("%d %s %d %d\n", pid, comm, args->oldfd, args->newfd); }`
	}
	return `tracepoint:syscalls:sys_enter_openat { printf("%d %s %s\n", pid, comm, str(args->filename)); }`
}

// quickConfigs is -quick's default: one configuration of each kind (the
// Falco one with --events exercises both flags), to stay under a minute.
func quickConfigs() []string {
	return []string{"none", "floor-counter", "floor-ringbuf", "vigil", "vigil-falco-events", "bpftrace"}
}

// selectTracers resolves a comma-separated list of names. "default" (or an
// empty list) is every configuration whose programs are present, except
// that vigil's are always included so a missing binary fails loudly;
// "quick" is the same restricted to quickConfigs.
func selectTracers(list string, p *paths) ([]*tracer, error) {
	all := tracers()
	if list == "" || list == "default" || list == "quick" {
		var out []*tracer
		for _, t := range all {
			if list == "quick" && !slices.Contains(quickConfigs(), t.name) {
				continue
			}
			if t.command != nil && !strings.HasPrefix(t.name, "vigil") {
				if _, err := t.command(p); err != nil {
					continue // an optional tool that is not installed
				}
			}
			out = append(out, t)
		}
		return out, nil
	}
	var out []*tracer
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		var found *tracer
		for _, t := range all {
			if t.name == name {
				found = t
			}
		}
		if found == nil {
			return nil, fmt.Errorf("unknown config %q (see -list)", name)
		}
		if found.name == "none" && len(out) > 0 {
			continue
		}
		out = append(out, found)
	}
	if len(out) == 0 || out[0].name != "none" {
		// Every ratio divides by it.
		out = append([]*tracer{all[0]}, out...)
	}
	return out, nil
}

// checkTracers fails when a selected configuration cannot run, naming it
// and the fix, before any time is spent measuring.
func checkTracers(ts []*tracer, p *paths) error {
	var msgs []string
	for _, t := range ts {
		if t.command == nil {
			continue
		}
		if _, err := t.command(p); err != nil {
			msgs = append(msgs, fmt.Sprintf("config %s: %v", t.name, err))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("configs that cannot run (drop them with -configs, e.g. -configs none,floor-counter,floor-ringbuf):\n  %s",
			strings.Join(msgs, "\n  "))
	}
	return nil
}
