package rules

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sensor/vigil/event"
)

// The vigil-only rule keys threshold and sequence: a rule that alerts on
// many matches in a window, and a rule that alerts on steps that happen in
// order. Falco warns about them as unknown keys and ignores them; vigil
// reads them here and keeps their state in each Matcher (state.go).

// Limits that keep a rule's state small whatever a file asks for.
const (
	maxThresholdCount = 1 << 20
	maxWindow         = 24 * time.Hour
	maxSequenceSteps  = 8
	maxThresholdBy    = 8
)

// thresholdInfo is a threshold as the file writes it.
type thresholdInfo struct {
	count      int
	window     time.Duration
	windowText string
	// by are the field tokens the groups are keyed by, as written.
	by []byFieldInfo
	at where
}

// byFieldInfo is one field a threshold groups by.
type byFieldInfo struct {
	name  string
	field *event.Field
	arg   event.Arg
}

// sequenceBy is what a sequence follows from step to step.
type sequenceBy uint8

const (
	// byProc: every step by the same process (pid).
	byProc sequenceBy = iota + 1
	// byProcTree: every step by the first step's process's parent or one
	// of its descendants (siblings and children of the first step's
	// process included), as the process table's parent chain says.
	byProcTree
	// byContainer: every step in the same container (the host is one).
	byContainer
)

func (b sequenceBy) String() string {
	switch b {
	case byProc:
		return "proc"
	case byProcTree:
		return "proc.tree"
	case byContainer:
		return "container"
	}
	return "?"
}

// sequenceInfo is a sequence as the file writes it.
type sequenceInfo struct {
	by         sequenceBy
	window     time.Duration
	windowText string
	steps      []*textSource
	at         where
}

// readDuration reads a positive duration (Go's syntax: 30s, 5m, 1h30m).
func readDuration(at where, parent, key string, m *mapping) (time.Duration, string, error) {
	s, n, _, err := m.scalar(at, key, false)
	if err != nil {
		return 0, "", err
	}
	valueAt := at.with("value for", parent+"."+key, n)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, "", valueAt.errorf(ErrYAMLValidate, "%s.%s: '%s' is not a duration (e.g. 30s, 5m, 1h)", parent, key, s)
	}
	if d <= 0 {
		return 0, "", valueAt.errorf(ErrYAMLValidate, "%s.%s must be positive, not '%s'", parent, key, s)
	}
	if d > maxWindow {
		return 0, "", valueAt.errorf(ErrYAMLValidate, "%s.%s must be at most %s, not '%s'", parent, key, maxWindow, s)
	}
	return d, s, nil
}

// checkSubKeys refuses keys of a vigil mapping it does not know: a typo
// there would silently change what the rule means.
func checkSubKeys(at where, parent string, m *mapping, known ...string) error {
	for _, k := range m.keys {
		ok := false
		for _, want := range known {
			ok = ok || k == want
		}
		if !ok {
			return at.with("value for", parent+"."+k, m.keyAt[k]).errorf(ErrYAMLValidate,
				"Unknown key '%s' in %s; it takes %s", k, parent, strings.Join(known, ", "))
		}
	}
	return nil
}

// readThreshold reads a rule's threshold key:
// {count: N, window: D, by: [field, ...]}.
func readThreshold(at where, m *mapping) (*thresholdInfo, error) {
	n := deref(m.values["threshold"])
	tAt := at.with("threshold", "", n)
	tm, err := readMapping(tAt, n, "Value of threshold must be a mapping: {count: N, window: D, by: [field, ...]}")
	if err != nil {
		return nil, err
	}
	if err := checkSubKeys(tAt, "threshold", tm, "count", "window", "by"); err != nil {
		return nil, err
	}
	t := &thresholdInfo{at: tAt}
	s, cn, _, err := tm.scalar(tAt, "count", false)
	if err != nil {
		return nil, err
	}
	c, err := strconv.Atoi(s)
	countAt := tAt.with("value for", "threshold.count", cn)
	switch {
	case err != nil:
		return nil, countAt.errorf(ErrYAMLValidate, "threshold.count: '%s' is not an integer", s)
	case c <= 0:
		return nil, countAt.errorf(ErrYAMLValidate, "threshold.count must be positive, not %d", c)
	case c > maxThresholdCount:
		return nil, countAt.errorf(ErrYAMLValidate, "threshold.count must be at most %d, not %d", maxThresholdCount, c)
	}
	t.count = c
	if t.window, t.windowText, err = readDuration(tAt, "threshold", "window", tm); err != nil {
		return nil, err
	}
	if tm.has("by") {
		bn := deref(tm.values["by"])
		if bn.Kind != yaml.SequenceNode {
			return nil, tAt.with("value for", "threshold.by", bn).errorf(ErrYAMLValidate, "threshold.by must be a sequence of fields")
		}
		if len(bn.Content) > maxThresholdBy {
			return nil, tAt.with("value for", "threshold.by", bn).errorf(ErrYAMLValidate, "threshold.by takes at most %d fields", maxThresholdBy)
		}
		for _, item := range bn.Content {
			item = deref(item)
			fAt := tAt.with("value for", "threshold.by", item)
			if item.Kind != yaml.ScalarNode || item.Value == "" {
				return nil, fAt.errorf(ErrYAMLValidate, "threshold.by must be a sequence of fields")
			}
			bf, err := lookupByField(item.Value)
			if err != nil {
				return nil, fAt.errorf(ErrYAMLValidate, "threshold.by: %s", err.Error())
			}
			t.by = append(t.by, bf)
		}
	}
	return t, nil
}

type byFieldError string

func (e byFieldError) Error() string { return string(e) }

// lookupByField binds a field token, with its [argument], from the field
// table.
func lookupByField(token string) (byFieldInfo, error) {
	base, argText, hasArg := splitArg(token)
	f, ok := event.LookupField(base)
	if !ok {
		return byFieldInfo{}, byFieldError("unknown field '" + token + "'")
	}
	bf := byFieldInfo{name: token, field: f, arg: event.Arg{Set: hasArg}}
	if hasArg {
		switch f.Arg {
		case event.ArgIndex:
			n, err := strconv.Atoi(argText)
			if err != nil || n < 0 {
				return byFieldInfo{}, byFieldError("field '" + base + "' needs a non-negative index, not '" + argText + "'")
			}
			bf.arg.Index = n
		case event.ArgKey:
			bf.arg.Key = argText
		default:
			return byFieldInfo{}, byFieldError("field '" + base + "' does not take an argument")
		}
	}
	return bf, nil
}

// readSequence reads a rule's sequence key:
// {by: proc|proc.tree|container, window: D, steps: [condition, ...]}.
func readSequence(f *file, at where, m *mapping) (*sequenceInfo, error) {
	n := deref(m.values["sequence"])
	sAt := at.with("sequence", "", n)
	sm, err := readMapping(sAt, n, "Value of sequence must be a mapping: {by: proc|proc.tree|container, window: D, steps: [condition, ...]}")
	if err != nil {
		return nil, err
	}
	if err := checkSubKeys(sAt, "sequence", sm, "by", "window", "steps"); err != nil {
		return nil, err
	}
	s := &sequenceInfo{at: sAt}
	by, bn, _, err := sm.scalar(sAt, "by", false)
	if err != nil {
		return nil, err
	}
	switch by {
	case "proc":
		s.by = byProc
	case "proc.tree":
		s.by = byProcTree
	case "container":
		s.by = byContainer
	default:
		return nil, sAt.with("value for", "sequence.by", bn).errorf(ErrYAMLValidate,
			"sequence.by must be proc, proc.tree or container, not '%s'", by)
	}
	if s.window, s.windowText, err = readDuration(sAt, "sequence", "window", sm); err != nil {
		return nil, err
	}
	if !sm.has("steps") {
		return nil, sAt.errorf(ErrYAMLValidate, "Item has no mapping for key 'sequence.steps'")
	}
	stn := deref(sm.values["steps"])
	stepsAt := sAt.with("value for", "sequence.steps", stn)
	if stn.Kind != yaml.SequenceNode {
		return nil, stepsAt.errorf(ErrYAMLValidate, "sequence.steps must be a sequence of conditions")
	}
	if len(stn.Content) < 2 || len(stn.Content) > maxSequenceSteps {
		return nil, stepsAt.errorf(ErrYAMLValidate, "sequence.steps takes 2 to %d conditions, not %d", maxSequenceSteps, len(stn.Content))
	}
	for _, item := range stn.Content {
		item = deref(item)
		if item.Kind != yaml.ScalarNode || item.Value == "" {
			return nil, sAt.with("value for", "sequence.steps", item).errorf(ErrYAMLValidate, "a sequence step must be a condition (a non-empty string)")
		}
		s.steps = append(s.steps, scalarSource(f, item))
	}
	return s, nil
}
