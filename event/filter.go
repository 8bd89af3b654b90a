package event

import (
	"bytes"
	"slices"
)

// Filter is a necessary condition for an event of one kind to matter to the
// loaded rules: an event that satisfies none of its clauses cannot match
// any of them, so the sensor may leave it in the kernel. It is derived from
// rule conditions (rules.Ruleset) and may admit more than the rules need,
// never less. The zero value, All unset and no clauses, admits nothing.
//
// The model is the same for every kind a filter covers; what differs is
// how an event gives its facts (filterFactsOf): a class (for opens, the
// access class), the path it names, and the path as the caller passed it.
type Filter struct {
	// All admits every event: some rule can match events that no clause
	// describes (or every event is wanted).
	All bool
	// Clauses: an event is admitted when it satisfies one of them.
	Clauses []Clause
	// Ports are the server ports (fd.sport) the rules on sends and
	// receives name: an event's sendrecv key (SendRecvKey) says whether
	// its server port is one of them.
	Ports []uint16
}

// Clause is a conjunction of conditions on an event. A failed event
// satisfies it on Types, Classes, Results and RawContains alone: its path
// is joined in userspace, so paths cannot be checked in the kernel.
type Clause struct {
	// Types is the set of event types.
	Types TypeSet
	// Classes is the set of the kind's classes, bit 1<<class: a small
	// number an event's arguments give (opens: OpenAccessOf).
	Classes uint64
	// Results is the set of ResultSucceeded and ResultFailed bits.
	Results uint8
	// AnyPath: the path is not constrained. Otherwise a successful event
	// must have a path (fd.name) starting with one of Prefixes, a file
	// name (fd.filename) equal to one of Names, or a path ending with one
	// of Suffixes.
	AnyPath  bool
	Prefixes []string
	Names    []string
	Suffixes []string
	// RawContains, when not empty, is a string the path as the caller
	// passed it (fd.nameraw) must contain, failed events included.
	RawContains string
}

// Result bits of Clause.Results.
const (
	ResultSucceeded = 1 << 0
	ResultFailed    = 1 << 1
	// AllResults is both.
	AllResults = ResultSucceeded | ResultFailed
)

// filterFacts are what a filter judges of an event besides its type and
// result. A nil name or raw is unknown, and satisfies any bound on it.
type filterFacts struct {
	class     int
	name, raw []byte
}

// filterFactsOf returns the facts of e; false for a kind no filter covers.
// A kind becomes filterable with a case here and its kernel side.
func filterFactsOf(e *Event, f *Filter) (filterFacts, bool) {
	switch e.Type.Kind() {
	case KindOpen:
		f := filterFacts{class: OpenAccessOf(e.Open.Flags), raw: e.Open.Raw}
		if !e.Open.NameTruncated {
			f.name = e.Open.Name
		}
		return f, true
	case KindPriv:
		// No path: path bounds are unknown facts, which admit.
		return filterFacts{class: PrivKey(e.Type, uint32(e.Priv.Args[0]))}, true
	case KindSocket:
		return filterFacts{class: SocketKey(e)}, true
	case KindDup:
		return filterFacts{class: DupKey(e)}, true
	case KindSendRecv:
		// The needles the kernel found stand for the data: a clause's
		// needle must be among them, and none found is unknown.
		s := &e.SendRecv
		return filterFacts{class: SendRecvKey(e, f.Ports), raw: s.Needles[:min(int(s.NeedlesLen), len(s.Needles))]}, true
	case KindFS:
		// The paths are joined in userspace: unknown facts, which admit.
		return filterFacts{class: FSKey(e)}, true
	}
	return filterFacts{}, false
}

// Admits reports whether e satisfies the filter; events of kinds no filter
// covers are always admitted. It is the reference for the kernel's
// evaluation of the same filter, which also admits what it cannot judge
// (a truncated or empty path, a raw path it could not read).
func (f *Filter) Admits(e *Event) bool {
	if f.All {
		return true
	}
	facts, ok := filterFactsOf(e, f)
	if !ok {
		return true
	}
	for i := range f.Clauses {
		if f.Clauses[i].admits(e, &facts) {
			return true
		}
	}
	return false
}

func (c *Clause) admits(e *Event, facts *filterFacts) bool {
	if !c.Types.Has(e.Type) || facts.class < 0 || facts.class > 63 || c.Classes&(1<<facts.class) == 0 {
		return false
	}
	if c.RawContains != "" && len(facts.raw) > 0 && !bytes.Contains(facts.raw, []byte(c.RawContains)) {
		return false
	}
	if e.Res < 0 {
		return c.Results&ResultFailed != 0
	}
	if c.Results&ResultSucceeded == 0 {
		return false
	}
	name := facts.name
	if c.AnyPath || len(name) == 0 {
		return true
	}
	for _, p := range c.Prefixes {
		if bytes.HasPrefix(name, []byte(p)) {
			return true
		}
	}
	base := name[bytes.LastIndexByte(name, '/')+1:]
	for _, n := range c.Names {
		if string(base) == n {
			return true
		}
	}
	for _, sfx := range c.Suffixes {
		if bytes.HasSuffix(name, []byte(sfx)) {
			return true
		}
	}
	return false
}

// Equal reports whether two clauses are the same.
func (c Clause) Equal(o Clause) bool {
	return c.Types == o.Types && c.Classes == o.Classes && c.Results == o.Results && c.AnyPath == o.AnyPath &&
		slices.Equal(c.Prefixes, o.Prefixes) && slices.Equal(c.Names, o.Names) && slices.Equal(c.Suffixes, o.Suffixes) &&
		c.RawContains == o.RawContains
}

// MergeClauses returns one clause that admits whatever a or b admits.
func MergeClauses(a, b Clause) Clause {
	m := Clause{Types: a.Types.Union(b.Types), Classes: a.Classes | b.Classes, Results: a.Results | b.Results}
	// A needle both need stays; otherwise neither needs one.
	if a.RawContains == b.RawContains {
		m.RawContains = a.RawContains
	}
	if a.AnyPath || b.AnyPath {
		m.AnyPath = true
		return m
	}
	m.Prefixes = appendNew(slices.Clone(a.Prefixes), b.Prefixes...)
	m.Names = appendNew(slices.Clone(a.Names), b.Names...)
	m.Suffixes = appendNew(slices.Clone(a.Suffixes), b.Suffixes...)
	return m
}

// Reduce returns a filter of at most n clauses that admits whatever f
// admits: clauses with the same types, classes, results and raw-path
// needle are merged first, then the smallest neighbours, until n remain.
func (f *Filter) Reduce(n int) *Filter {
	if f.All || len(f.Clauses) <= n {
		return f
	}
	var out []Clause
	for _, c := range f.Clauses {
		i := slices.IndexFunc(out, func(o Clause) bool {
			return o.Types == c.Types && o.Classes == c.Classes && o.Results == c.Results && o.RawContains == c.RawContains
		})
		if i < 0 {
			out = append(out, c)
			continue
		}
		out[i] = MergeClauses(out[i], c)
	}
	for len(out) > max(n, 1) {
		last := len(out) - 1
		out[last-1] = MergeClauses(out[last-1], out[last])
		out = out[:last]
	}
	return &Filter{Clauses: out, Ports: f.Ports}
}

func appendNew(list []string, add ...string) []string {
	for _, s := range add {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}
