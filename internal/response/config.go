package response

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/vigil-sensor/vigil/internal/config"
)

// Modes of the responder (vigil run --response).
const (
	// ModeRun runs the actions.
	ModeRun = "run"
	// ModeLog records what would run without running it (a dry run).
	ModeLog = "log"
	// ModeOff ignores the actions.
	ModeOff = "off"
)

// Defaults of an action's keys.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultRuns per DefaultPer is the default per-rule rate limit.
	DefaultRuns = 1
	DefaultPer  = time.Minute
)

// CheckMode validates a --response value.
func CheckMode(m string) error {
	switch m {
	case ModeRun, ModeLog, ModeOff:
		return nil
	}
	return fmt.Errorf("%q: want run, log (record what would run, run nothing) or off", m)
}

// Action is one item of the configuration file's actions list.
type Action struct {
	// Name identifies the action in records and metrics.
	Name string `yaml:"name"`
	// Rules (exact names) and Tags (any of them) choose the rules whose
	// alerts run the action; at least one of the two is needed.
	Rules []string `yaml:"rules"`
	Tags  []string `yaml:"tags"`
	// Command is the program and its arguments (no shell).
	Command []string `yaml:"command"`
	// Timeout bounds a run: at it, the program's process group is killed.
	Timeout time.Duration `yaml:"timeout"`
	// RateLimit bounds the runs for one rule.
	RateLimit RateLimit `yaml:"rate_limit"`
}

// RateLimit allows Runs runs per Per for each rule, refilled evenly (a
// token bucket of Runs tokens).
type RateLimit struct {
	Runs int           `yaml:"runs"`
	Per  time.Duration `yaml:"per"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// UnmarshalConfig decodes one action and checks its keys where they are.
func (a *Action) UnmarshalConfig(n config.Node) error {
	n.DecodeFields(nil, a)
	var first error
	fail := func(key, format string, args ...any) {
		at := n
		if kn, ok := n.Key(key); ok {
			at = kn
		} else {
			format = key + ": " + format
		}
		if err := at.Errorf(format, args...); first == nil {
			first = err
		}
	}
	switch {
	case a.Name == "":
		fail("name", "an action needs a name")
	case !validName.MatchString(a.Name):
		fail("name", "%q: use letters, digits, '_', '.' and '-'", a.Name)
	}
	if len(a.Command) == 0 || a.Command[0] == "" {
		fail("command", "an action needs a command (a list: program and arguments)")
	}
	if len(a.Rules) == 0 && len(a.Tags) == 0 {
		fail("rules", "an action needs rules (names) or tags that choose the alerts it runs for")
	}
	for key, list := range map[string][]string{"rules": a.Rules, "tags": a.Tags} {
		for i, s := range list {
			if strings.TrimSpace(s) == "" {
				ln, _ := n.Key(key)
				at, _ := ln.Item(i)
				if err := at.Errorf("empty"); first == nil {
					first = err
				}
			}
		}
	}
	if _, ok := n.Key("timeout"); ok && a.Timeout <= 0 {
		fail("timeout", "must be positive")
	}
	if a.Timeout == 0 {
		a.Timeout = DefaultTimeout
	}
	if rn, ok := n.Key("rate_limit"); ok {
		if pn, ok := rn.Key("runs"); ok && a.RateLimit.Runs <= 0 {
			if err := pn.Errorf("must be positive"); first == nil {
				first = err
			}
		}
		if pn, ok := rn.Key("per"); ok && a.RateLimit.Per <= 0 {
			if err := pn.Errorf("must be positive"); first == nil {
				first = err
			}
		}
	}
	if a.RateLimit.Runs == 0 {
		a.RateLimit.Runs = DefaultRuns
	}
	if a.RateLimit.Per == 0 {
		a.RateLimit.Per = DefaultPer
	}
	return first
}

// Actions is the actions list; names must be unique.
type Actions []Action

// UnmarshalConfig decodes the actions list.
func (as *Actions) UnmarshalConfig(n config.Node) error {
	var items []Action
	n.Decode(&items)
	*as = items
	seen := map[string]bool{}
	for i, a := range items {
		if a.Name == "" {
			continue
		}
		if seen[a.Name] {
			at, _ := n.Item(i)
			nn, _ := at.Key("name")
			return nn.Errorf("a second action named %q", a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

// Check reports what would keep the actions from running, without running
// them: a program not found.
func Check(as []Action) error {
	var errs []error
	for _, a := range as {
		if _, err := exec.LookPath(a.Command[0]); err != nil {
			errs = append(errs, fmt.Errorf("action %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}
