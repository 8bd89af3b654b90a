package dedup

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/config"
)

// DefaultMaxGroups bounds the groups held at once when the configuration
// sets no max_groups.
const DefaultMaxGroups = 10000

// Config is the configuration file's dedup key.
type Config struct {
	// Window is how long identical alerts are held back after the first;
	// zero leaves the rules without a window of their own undeduplicated.
	Window time.Duration `yaml:"window"`
	// Fields are the fields that make two alerts of a rule identical; empty
	// means the rule's output fields without times and evt.num.
	Fields []string `yaml:"fields"`
	// MaxGroups bounds the groups (distinct alerts within their window)
	// held at once; the oldest is evicted, its count reported, to make room.
	MaxGroups int `yaml:"max_groups"`
	// Rules override Window and Fields for the rules they name (exactly).
	Rules map[string]RuleConfig `yaml:"rules"`
}

// RuleConfig is one rule's dedup settings.
type RuleConfig struct {
	// Window replaces the global window for the rule; 0 turns dedup off
	// for it.
	Window *time.Duration `yaml:"window"`
	// Fields replace the global fields for the rule.
	Fields []string `yaml:"fields"`
}

// Enabled reports whether any rule is deduplicated.
func (c *Config) Enabled() bool {
	if c.Window > 0 {
		return true
	}
	for _, r := range c.Rules {
		if r.Window != nil && *r.Window > 0 {
			return true
		}
	}
	return false
}

// UnmarshalConfig decodes the dedup key and checks each value where it is:
// windows not negative, max_groups positive, every field one vigil knows
// with the argument it takes.
func (c *Config) UnmarshalConfig(n config.Node) error {
	n.DecodeFields(nil, c)
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	if wn, ok := n.Key("window"); ok && c.Window < 0 {
		keep(wn.Errorf("must not be negative"))
	}
	if mn, ok := n.Key("max_groups"); ok && c.MaxGroups <= 0 {
		keep(mn.Errorf("must be positive"))
	}
	if fn, ok := n.Key("fields"); ok {
		keep(checkFields(fn, c.Fields))
	}
	if rn, ok := n.Key("rules"); ok {
		for name, r := range c.Rules {
			at, _ := rn.Key(name)
			if wn, ok := at.Key("window"); ok && r.Window != nil && *r.Window < 0 {
				keep(wn.Errorf("must not be negative"))
			}
			if fn, ok := at.Key("fields"); ok {
				keep(checkFields(fn, r.Fields))
			}
		}
	}
	return first
}

// checkFields reports, at each list item, a field that does not compile.
func checkFields(n config.Node, names []string) error {
	var first error
	for i, name := range names {
		if _, err := compileField(name); err != nil {
			at, _ := n.Item(i)
			if e := at.Errorf("%v", err); first == nil {
				first = e
			}
		}
	}
	return first
}

// fieldRef is a field of the key, with its argument.
type fieldRef struct {
	name  string
	field *event.Field
	arg   event.Arg
}

// compileField resolves "name" or "name[arg]" against vigil's field table.
func compileField(text string) (fieldRef, error) {
	name, arg, hasArg := text, "", false
	if i := strings.IndexByte(text, '['); i >= 0 {
		if !strings.HasSuffix(text, "]") || i == len(text)-2 {
			return fieldRef{}, fmt.Errorf("field %q: want name or name[argument]", text)
		}
		name, arg, hasArg = text[:i], text[i+1:len(text)-1], true
	}
	f, ok := event.LookupField(name)
	if !ok {
		return fieldRef{}, fmt.Errorf("unknown field %q (vigil fields lists them)", name)
	}
	ref := fieldRef{name: text, field: f, arg: event.Arg{Set: hasArg}}
	switch {
	case !hasArg && f.ArgRequired:
		return fieldRef{}, fmt.Errorf("field %q needs an argument, as in %s[...]", name, name)
	case !hasArg:
	case f.Arg == event.ArgIndex:
		i, err := strconv.Atoi(arg)
		if err != nil || i < 0 {
			return fieldRef{}, fmt.Errorf("field %q needs a non-negative index, not %q", name, arg)
		}
		ref.arg.Index = i
	case f.Arg == event.ArgKey:
		ref.arg.Key = arg
	default:
		return fieldRef{}, fmt.Errorf("field %q takes no argument", name)
	}
	return ref, nil
}
