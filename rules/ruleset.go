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
	// hostNames are the names its condition compares fd.*ip.name with,
	// idPaths the files it compares fd.identity with.
	hostNames []string
	idPaths   []string
	pred      pred
	out       *template
	// threshold and seq are the vigil keys (aggregate.go, state.go);
	// state indexes the rule's groups in a Matcher, -1 for a stateless
	// rule; stepFields names a sequence's per-step output fields.
	threshold  *threshold
	seq        *sequence
	state      int32
	stepFields []string

	// ports are the server ports its condition names (fd.sport), for the
	// sendrecv filter's Ports.
	ports []uint16
}

// Threshold reports whether the rule has a threshold, with its count and
// window as written.
func (r *Rule) Threshold() (count int, window string, ok bool) {
	if r.threshold == nil {
		return 0, "", false
	}
	return int(r.threshold.count), r.threshold.windowText, true
}

// Sequence reports whether the rule is a sequence, with its number of
// steps, what it follows (proc, proc.tree or container) and its window.
func (r *Rule) Sequence() (steps int, by, window string, ok bool) {
	if r.seq == nil {
		return 0, "", "", false
	}
	return len(r.seq.steps), r.seq.by.String(), r.seq.windowText, true
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
	// limits bounds the groups of stateful (threshold, sequence) rules,
	// nstateful of them.
	limits    GroupLimits
	nstateful int32
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

// AppendAggregateFields is Matcher.AppendAggregateFields of the matcher
// Match uses.
func (rs *Ruleset) AppendAggregateFields(dst []FieldValue, r *Rule) []FieldValue {
	return rs.def.AppendAggregateFields(dst, r)
}

// Groups is the number of threshold groups and sequences in progress that
// Match keeps; it may be read from any goroutine.
func (rs *Ruleset) Groups() int64 {
	if rs.def.groups == nil {
		return 0
	}
	return rs.def.groups.live.Load()
}

// GroupStats counts the groups evicted (GroupLimits.Stats, if set).
func (rs *Ruleset) GroupStats() *GroupStats { return rs.limits.Stats }

// NewMatcher returns a matcher with its own field cache, for matching
// from another goroutine.
func (rs *Ruleset) NewMatcher() *Matcher {
	m := &Matcher{rs: rs, ctx: evalCtx{slots: make([]slot, rs.nslots), results: make([]result, rs.nresults)}}
	if rs.nstateful > 0 {
		m.groups = newGroupState(rs)
	}
	return m
}

// Matcher matches events against a Ruleset. It is not safe for concurrent
// use. It keeps the state of threshold and sequence rules: each Matcher
// counts on its own.
type Matcher struct {
	rs     *Ruleset
	ctx    evalCtx
	groups *groupState
}

// AppendAggregateFields appends what a threshold or sequence rule reports
// besides its output fields (README, "Thresholds and sequences"); nothing
// for other rules. It is valid in Match's callback, for the rule it is
// called with.
func (m *Matcher) AppendAggregateFields(dst []FieldValue, r *Rule) []FieldValue {
	if m.groups == nil || r.state < 0 {
		return dst
	}
	return m.groups.appendAggregate(dst, r)
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
		// A threshold or sequence rule matches when it fires: until then
		// the next rules still run.
		if r.seq != nil {
			if !m.groups.sequence(r, c) {
				continue
			}
		} else if !r.pred(c) || r.threshold != nil && !m.groups.threshold(r, e) {
			continue
		}
		n++
		if fn != nil {
			fn(r)
		}
		if !m.rs.matchAll {
			break
		}
	}
	c.e = nil
	return n
}
