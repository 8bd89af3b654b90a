package rules

import (
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// itemOrder is where a list, macro or rule stands in the files: index is
// the order of its first definition, visibility the order of its last
// change. A list item names another list, and a macro uses another macro,
// only if that one was defined before (Falco's rule).
type itemOrder struct {
	index, visibility int
}

func (o *itemOrder) order() *itemOrder { return o }

// listInfo is a list as the files define it.
type listInfo struct {
	name  string
	items []string
	itemOrder
	at   where
	used bool

	// Set by the resolver.
	state    resolveState
	expanded []string
	err      error
}

// macroInfo is a macro as the files define it; its condition is parsed and
// resolved by the compiler.
type macroInfo struct {
	name string
	cond *textSource
	itemOrder
	at   where
	used bool

	// Set by the resolver.
	state    resolveState
	resolved ast.Expr
	err      error
}

// ruleInfo is a rule as the files define it.
type ruleInfo struct {
	name         string
	desc         string
	cond         *textSource
	output       *textSource
	priority     Priority
	source       string
	enabled      bool
	warnEvttypes bool
	skipUnknown  bool
	tags         []string
	exceptions   []*exceptionInfo
	itemOrder
	at            where
	file          *file
	unknownSource bool
	// threshold and sequence are vigil's keys (aggregate.go); cond is nil
	// for a sequence without a condition of its own.
	threshold *thresholdInfo
	sequence  *sequenceInfo
}

// ruleUpdate is an append to or a replace of a rule's keys.
type ruleUpdate struct {
	name          string
	at            where
	cond, output  *textSource
	desc          *string
	tags          []string
	hasTags       bool
	exceptions    []*exceptionInfo
	hasExceptions bool
	priority      *Priority
	enabled       *bool
	warnEvttypes  *bool
	skipUnknown   *bool
	threshold     *thresholdInfo
}

func (u *ruleUpdate) empty() bool {
	return u.cond == nil && u.output == nil && u.desc == nil && !u.hasTags && !u.hasExceptions &&
		u.priority == nil && u.enabled == nil && u.warnEvttypes == nil && u.skipUnknown == nil && u.threshold == nil
}

// setThreshold gives prev the threshold of an update; appending one
// requires that the rule has none yet.
func setThreshold(prev *ruleInfo, u *ruleUpdate, appending bool) error {
	if u.threshold == nil {
		return nil
	}
	if prev.sequence != nil {
		return u.threshold.at.errorf(ErrValidate, "Rule '%s' is a sequence: it cannot have a threshold", prev.name)
	}
	if appending && prev.threshold != nil {
		return u.threshold.at.errorf(ErrValidate, "Rule '%s' has a threshold already; replace it with 'threshold: replace' under 'override'", prev.name)
	}
	prev.threshold = u.threshold
	return nil
}

// exceptionInfo is one exception of a rule: values of fields, compared
// with comps, for which the rule must not fire.
type exceptionInfo struct {
	name   string
	fields entry
	comps  entry
	values []entry
	at     where
}

// entry is a scalar or a list of entries from an exception.
type entry struct {
	set    bool
	isList bool
	item   string
	items  []entry
	node   *yaml.Node
	file   *file
}

// ordered is a name-indexed collection that keeps definition order.
type ordered[T any] struct {
	byName map[string]*T
	order  []*T
}

func (o *ordered[T]) get(name string) *T { return o.byName[name] }

// define adds v under name or, when the name is defined already, puts v in
// place of the earlier definition, keeping its index. id is v's
// visibility, and its index when new.
func define[T any, P interface {
	*T
	order() *itemOrder
}](o *ordered[T], name string, v P, id int) {
	if prev := P(o.get(name)); prev != nil {
		*v.order() = itemOrder{index: prev.order().index, visibility: id}
		*prev = *v
		return
	}
	*v.order() = itemOrder{index: id, visibility: id}
	if o.byName == nil {
		o.byName = map[string]*T{}
	}
	o.byName[name] = v
	o.order = append(o.order, v)
}

// collector gathers lists, macros and rules over every file, applying
// defines, appends and replaces in order as Falco's rule_loader does.
type collector struct {
	next   int
	lists  ordered[listInfo]
	macros ordered[macroInfo]
	rules  ordered[ruleInfo]
}

func (c *collector) id() int {
	c.next++
	return c.next
}

func (c *collector) defineList(info *listInfo) { define(&c.lists, info.name, info, c.id()) }

func (c *collector) appendList(info *listInfo) error {
	prev := c.lists.get(info.name)
	if prev == nil {
		return info.at.errorf(ErrValidate, "List has 'append' key or an append override but no list by that name already exists")
	}
	prev.items = append(prev.items, info.items...)
	prev.visibility = c.id()
	return nil
}

func (c *collector) defineMacro(info *macroInfo) { define(&c.macros, info.name, info, c.id()) }

func (c *collector) appendMacro(info *macroInfo) error {
	prev := c.macros.get(info.name)
	if prev == nil {
		return info.at.errorf(ErrValidate, "Macro has 'append' key or an append override but no macro by that name already exists")
	}
	prev.cond = concatSources(prev.cond, info.cond, " ")
	prev.visibility = c.id()
	return nil
}

func (c *collector) defineRule(l *loader, info *ruleInfo) error {
	prev := c.rules.get(info.name)
	if prev != nil && prev.source != info.source {
		return info.at.errorf(ErrValidate, "Rule has been re-defined with a different source")
	}
	if info.source != "syscall" {
		info.unknownSource = true
		l.warn(info.at, WarnUnknownSource, "Unknown source "+info.source+", skipping")
	}
	for _, ex := range info.exceptions {
		if !ex.fields.set {
			return ex.at.errorf(ErrYAMLValidate, "Rule exception item must have fields property with a list of fields")
		}
		if err := validateException(ex); err != nil {
			return err
		}
	}
	define(&c.rules, info.name, info, c.id())
	return nil
}

func (c *collector) appendRule(l *loader, u *ruleUpdate) error {
	prev := c.rules.get(u.name)
	if prev == nil {
		return u.at.errorf(ErrValidate, "Rule has 'append' key or an append override but no rule by that name already exists")
	}
	if u.empty() {
		return u.at.errorf(ErrValidate, "Appended rule must have exceptions or condition property")
	}
	if u.cond != nil && u.cond.text != "" {
		if prev.cond == nil {
			prev.cond = u.cond
		} else {
			prev.cond = concatSources(prev.cond, u.cond, " ")
		}
	}
	if err := setThreshold(prev, u, true); err != nil {
		return err
	}
	if u.output != nil && u.output.text != "" {
		prev.output = concatSources(prev.output, u.output, " ")
	}
	if u.desc != nil && *u.desc != "" {
		prev.desc += " " + *u.desc
	}
	if u.hasTags {
		prev.tags = mergeTags(prev.tags, u.tags)
	}
	for _, ex := range u.exceptions {
		var old *exceptionInfo
		for _, p := range prev.exceptions {
			if p.name == ex.name {
				old = p
			}
		}
		if old == nil {
			if !ex.fields.set {
				return ex.at.errorf(ErrValidate, "Rule exception must have fields property with a list of fields")
			}
			if len(ex.values) == 0 {
				return ex.at.errorf(ErrValidate, "Rule exception must have values property with a list of values")
			}
			if err := validateException(ex); err != nil {
				return err
			}
			prev.exceptions = append(prev.exceptions, ex)
			continue
		}
		if ex.fields.set {
			return ex.at.errorf(ErrValidate, "Can not append exception fields to existing exception, only values")
		}
		if ex.comps.set {
			return ex.at.errorf(ErrValidate, "Can not append exception comps to existing exception, only values")
		}
		// Copy before appending: the exception may be shared with an
		// earlier definition of the rule.
		merged := *old
		merged.values = append(append([]entry(nil), old.values...), ex.values...)
		*old = merged
	}
	prev.visibility = c.id()
	return nil
}

func (c *collector) replaceRule(l *loader, u *ruleUpdate) error {
	prev := c.rules.get(u.name)
	if prev == nil {
		return u.at.errorf(ErrValidate, "An replace to a rule was requested but no rule by that name already exists")
	}
	if u.empty() {
		return u.at.errorf(ErrValidate, "The rule must have at least one field that can be replaced")
	}
	if u.cond != nil {
		prev.cond = u.cond
	}
	if err := setThreshold(prev, u, false); err != nil {
		return err
	}
	if u.output != nil {
		prev.output = u.output
	}
	if u.desc != nil {
		prev.desc = *u.desc
	}
	if u.hasTags {
		prev.tags = u.tags
	}
	if u.hasExceptions {
		for _, ex := range u.exceptions {
			if !ex.fields.set {
				return ex.at.errorf(ErrValidate, "Rule exception must have fields property with a list of fields")
			}
			if err := validateException(ex); err != nil {
				return err
			}
		}
		prev.exceptions = u.exceptions
	}
	if u.priority != nil {
		prev.priority = *u.priority
	}
	if u.enabled != nil {
		prev.enabled = *u.enabled
	}
	if u.warnEvttypes != nil {
		prev.warnEvttypes = *u.warnEvttypes
	}
	if u.skipUnknown != nil {
		prev.skipUnknown = *u.skipUnknown
	}
	prev.visibility = c.id()
	return nil
}

func (c *collector) enableRule(name string, enabled bool, at where) error {
	prev := c.rules.get(name)
	if prev == nil {
		return at.errorf(ErrValidate, "Rule has 'enabled' key but no rule by that name already exists")
	}
	prev.enabled = enabled
	return nil
}

// validateException checks fields and comps and fills in the default
// comparisons: "=" for each of a list of fields, "in" for a single field.
// Whether the fields exist is the compiler's business: a rule with an
// unknown exception field is skipped like one with an unknown condition
// field.
func validateException(ex *exceptionInfo) error {
	if ex.fields.isList {
		if !ex.comps.set {
			ex.comps = entry{set: true, isList: true}
			for range ex.fields.items {
				ex.comps.items = append(ex.comps.items, entry{set: true, item: "="})
			}
		}
		if !ex.comps.isList || len(ex.comps.items) != len(ex.fields.items) {
			return ex.at.errorf(ErrValidate, "Fields and comps lists must have equal length")
		}
		for _, f := range ex.fields.items {
			if f.isList {
				return ex.at.errorf(ErrValidate, "Fields must be strings")
			}
		}
		for _, cmp := range ex.comps.items {
			if cmp.isList || !ast.IsOperator(cmp.item) || cmp.item == "exists" {
				return ex.at.errorf(ErrValidate, "'%s' is not a supported comparison operator", cmp.item)
			}
		}
		return nil
	}
	if !ex.comps.set {
		ex.comps = entry{set: true, item: "in"}
	}
	if ex.comps.isList {
		return ex.at.errorf(ErrValidate, "Fields and comps must both be strings")
	}
	switch ex.comps.item {
	case "in", "pmatch", "intersects":
	default:
		return ex.at.errorf(ErrValidate, "When fields is a single value, comps must be one of (in, pmatch, intersects)")
	}
	return nil
}

func mergeTags(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range append(append([]string(nil), a...), b...) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}
