package rules

import (
	"slices"

	"github.com/vigil-sensor/vigil/event"
)

// Rule is a compiled rule. Its exported fields are read-only.
type Rule struct {
	Name string
	Desc string
	// Priority is the rule's severity.
	Priority Priority
	// Tags are sorted and unique, as Falco keeps them.
	Tags []string
	// Source is the event source; vigil runs only "syscall" rules.
	Source string
	// Enabled is the rule's enabled key after every override; a disabled
	// rule is compiled but never matched.
	Enabled bool
	// Condition and Output are the texts after appends and overrides;
	// Condition does not include the exceptions.
	Condition string
	Output    string
	// Pos is where the rule is (last) defined.
	Pos Position

	types   typeSet
	filters kindClauses
	// hostNames are the names its condition compares fd.*ip.name with.
	hostNames []string
	pred      pred
	out       *template

	// ports are the server ports its condition names (fd.sport), for the
	// sendrecv filter's Ports.
	ports []uint16
}

// Types returns the event types the rule applies to, derived from its
// condition as Falco does.
func (r *Rule) Types() []event.Type { return r.types.Types() }

// AppendOutput renders the rule's output for e into b: each %field is
// replaced by its value, "<NA>" when the event has none. It is the text
// Falco prints after the time and priority.
func (r *Rule) AppendOutput(b []byte, e *event.Event) []byte { return r.out.appendText(b, e) }

// AppendOutputFields appends the typed value of each distinct field of the
// output, in template order, for Falco's JSON output_fields. With enough
// capacity in dst it does not allocate.
func (r *Rule) AppendOutputFields(dst []FieldValue, e *event.Event) []FieldValue {
	return r.out.appendFields(dst, e)
}

// OutputFieldNames lists the distinct fields of the output, in order.
func (r *Rule) OutputFieldNames() []string {
	out := make([]string, len(r.out.fields))
	for i, s := range r.out.fields {
		out[i] = s.name
	}
	return out
}

// Ruleset is a set of compiled rules indexed by event type. It is
// immutable; Match on the Ruleset itself is not safe for concurrent use
// (it reuses one cache of field values), NewMatcher gives each goroutine
// its own.
type Ruleset struct {
	rules    []*Rule
	active   []*Rule
	byType   [event.NumTypes][]*Rule
	nslots   int
	nresults int
	matchAll bool
	def      Matcher
}

// Rules returns every compiled rule, enabled or not, in definition order.
func (rs *Ruleset) Rules() []*Rule { return rs.rules }

// Rule returns the compiled rule named name, or nil.
func (rs *Ruleset) Rule(name string) *Rule {
	for _, r := range rs.rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Active returns the rules Match evaluates: enabled and at least as severe
// as the minimum priority, in definition order.
func (rs *Ruleset) Active() []*Rule { return rs.active }

// Types returns the event types some active rule applies to.
func (rs *Ruleset) Types() []event.Type {
	var out []event.Type
	for t, rules := range rs.byType {
		if len(rules) > 0 {
			out = append(out, event.Type(t))
		}
	}
	return out
}

// Kinds returns the event kinds the active rules need, so the sensor can
// leave the others off in the kernel.
func (rs *Ruleset) Kinds() []event.Kind {
	var seen [event.NumKinds]bool
	for _, t := range rs.Types() {
		seen[t.Kind()] = true
	}
	var out []event.Kind
	for k, ok := range seen {
		if ok {
			out = append(out, event.Kind(k))
		}
	}
	return out
}

// Filters returns, for each kind the kernel filters, a necessary
// condition for an event of the kind to match an active rule, for the
// sensor to drop the others in the kernel: the union of each rule's
// clauses (openfilter.go). A kind's filter admits nothing when no active
// rule applies to it.
func (rs *Ruleset) Filters() map[event.Kind]*event.Filter {
	out := map[event.Kind]*event.Filter{}
	for kind := range event.Kind(event.NumKinds) {
		if filterKindOf(kind) != nil {
			out[kind] = rs.filter(kind)
		}
	}
	return out
}

// filter is the filter of one kind the kernel filters.
func (rs *Ruleset) filter(kind event.Kind) *event.Filter {
	f := &event.Filter{}
	for _, r := range rs.active {
		// The rule runs only on its event types.
		types := r.types.Intersect(kind.Types())
		if types.Empty() {
			continue
		}
		if kind == event.KindSendRecv {
			f.Ports = append(f.Ports, r.ports...)
		}
		for _, c := range r.filters[kind] {
			if c.Types = c.Types.Intersect(types); !c.Types.Empty() && !slices.ContainsFunc(f.Clauses, c.Equal) {
				f.Clauses = append(f.Clauses, c)
			}
		}
	}
	slices.Sort(f.Ports)
	f.Ports = slices.Compact(f.Ports)
	return f
}

// Match evaluates the active rules of e's type in definition order and
// calls fn for the first that matches, or for every match when the
// ruleset was loaded with Options.MatchAll. It returns the number of
// matches. An event that matches nothing costs no allocation.
func (rs *Ruleset) Match(e *event.Event, fn func(*Rule)) int { return rs.def.Match(e, fn) }

// NewMatcher returns a matcher with its own field cache, for matching
// from another goroutine.
func (rs *Ruleset) NewMatcher() *Matcher {
	return &Matcher{rs: rs, ctx: evalCtx{slots: make([]slot, rs.nslots), results: make([]result, rs.nresults)}}
}

// Matcher matches events against a Ruleset. It is not safe for concurrent
// use.
type Matcher struct {
	rs  *Ruleset
	ctx evalCtx
}

// Match is Ruleset.Match with this matcher's cache.
func (m *Matcher) Match(e *event.Event, fn func(*Rule)) int {
	if int(e.Type) >= len(m.rs.byType) {
		return 0
	}
	rules := m.rs.byType[e.Type]
	if len(rules) == 0 {
		return 0
	}
	c := &m.ctx
	c.reset(e)
	n := 0
	for _, r := range rules {
		if r.pred(c) {
			n++
			if fn != nil {
				fn(r)
			}
			if !m.rs.matchAll {
				break
			}
		}
	}
	c.e = nil
	return n
}
