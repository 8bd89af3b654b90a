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
//
// Which path the path bounds (AnyPath, Prefixes, Names, Suffixes,
// Contains) judge is Paths: 0 is the kind's one path (an open's fd.name);
// the fs kind names its two paths FSPath1 and FSPath2 (FSPathField), and a
// clause with both is satisfied by either. The fs kind's paths are the
// caller's strings, judged only where they already are their final name
// (FSFilterPath); any other is unknown, which satisfies every bound.
type Clause struct {
	// Types is the set of event types.
	Types TypeSet
	// Classes is the set of the kind's classes, bit 1<<class: a small
	// number an event's arguments give (opens: OpenAccessOf).
	Classes uint64
	// Results is the set of result classes, ResultLow, ResultHigh and
	// ResultFailed bits (ResultOf).
	Results uint8
	// AnyPath: the path is not constrained. Otherwise a successful event
	// must have a path starting with one of Prefixes, a file name equal to
	// one of Names, or a path ending with one of Suffixes.
	AnyPath  bool
	Prefixes []string
	Names    []string
	Suffixes []string
	// Resolved: the path bounds are on the path the kernel resolved
	// (fd.realpath), which the kernel judges exactly. Otherwise they are
	// on the caller's name (fd.name), which the kernel judges only when
	// the caller passed the resolved path itself (the raw path, whole and
	// byte-equal to it: absolute, clean, no symlink on the way); any other
	// open satisfies them. Such a clause admits at least what the same
	// bounds on the resolved path admit.
	Resolved bool
	// RawContains, when not empty, is a string the path as the caller
	// passed it (fd.nameraw) must contain, failed events included.
	RawContains string
	// Paths is the set of the event's paths the path bounds judge (see
	// above).
	Paths uint8
	// Contains, when not empty, is a string the path of Paths must
	// contain besides its other bounds (fs kind only).
	Contains string
	// Identities are files (absolute paths, opens only) whose identity
	// (device and inode, FileIdentities) a successful event's file may
	// have instead of satisfying the path bounds: the rules compare
	// fd.identity with them, which holds for another name of the file.
	Identities []string
}

// Result bits of Clause.Results: the classes of a result the kernel tells
// apart before it reads anything else (bpf/events.h, enum filter_result).
const (
	// ResultHigh is a success with a result above LowResult.
	ResultHigh = 1 << 0
	// ResultFailed is a failure, a negative result.
	ResultFailed = 1 << 1
	// ResultLow is a result of 0 to LowResult: the 0 most syscalls
	// return on success, or a descriptor of a standard stream (Falco's
	// rules look for a dup onto 0, 1 or 2).
	ResultLow = 1 << 2
	// ResultSucceeded is any success.
	ResultSucceeded = ResultLow | ResultHigh
	// AllResults is every result.
	AllResults = ResultSucceeded | ResultFailed
)

// LowResult is the greatest result of the ResultLow class.
const LowResult = 2

// ResultOf returns the Clause.Results bit of the class of result res.
func ResultOf(res int64) uint8 {
	switch {
	case res < 0:
		return ResultFailed
	case res <= LowResult:
		return ResultLow
	}
	return ResultHigh
}

// filterFacts are what a filter judges of an event besides its type and
// result: the resolved path (real) and the path as the caller passed it
// (raw). A nil real or raw is unknown, and satisfies any bound on it.
type filterFacts struct {
	class           int
	real, raw, name []byte
	// identity is the name of a file the rules name by identity that the
	// event's file is, "" for none.
	identity string
	// byArg: the clauses' bounds judge paths (the fs kind's, as
	// FSFilterPath gives them) by Clause.Paths, not the open's names.
	byArg bool
	paths [2][]byte
}

// filterFactsOf returns the facts of e; false for a kind no filter covers.
// A kind becomes filterable with a case here and its kernel side.
func filterFactsOf(e *Event, f *Filter) (filterFacts, bool) {
	switch e.Type.Kind() {
	case KindOpen:
		f := filterFacts{class: OpenAccessOf(e.Open.Flags)}
		if !e.Open.RawTruncated {
			f.raw = e.Open.Raw
		}
		if !e.Open.RealPathTruncated {
			f.real = e.Open.RealPath
		}
		if !e.Open.NameTruncated {
			f.name = e.Open.Name
		}
		f.identity, _ = e.Identities.Name(FileID{Dev: e.Open.Dev, Ino: e.Open.Ino})
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
		// The paths as the caller passed them, where that is already
		// their final name: the kernel judges no others.
		return filterFacts{class: FSKey(e), byArg: true, paths: [2][]byte{
			FSFilterPath(e.FS.Raw1, e.FS.Truncated1), FSFilterPath(e.FS.Raw2, e.FS.Truncated2),
		}}, true
	case KindIOUring:
		// Judged on the opcode only: the paths are unknown facts.
		return filterFacts{class: IOURingKey(e)}, true
	}
	return filterFacts{}, false
}

// Admits reports whether e satisfies the filter; events of kinds no filter
// covers are always admitted. It is the reference for the kernel's
// evaluation of the same filter, which also admits what it cannot judge
// (a truncated or empty path, a raw path it could not read, a caller's
// name that is not the resolved path).
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
	if c.Results&ResultOf(e.Res) == 0 {
		return false
	}
	if facts.byArg {
		return c.admitsPaths(facts)
	}
	name := facts.real
	if c.AnyPath || len(name) == 0 {
		return true
	}
	if facts.identity != "" && slices.Contains(c.Identities, facts.identity) {
		// The file the rules name, by another name: the kernel finds
		// its identity in the filter (filter_ident_clauses).
		return true
	}
	if !c.Resolved && !callerNamesResolved(facts) {
		// The caller named the file otherwise, or the kernel cannot
		// tell: its name is not judged.
		return true
	}
	return c.bounds(name)
}

// admitsPaths judges the paths of Paths of a successful event whose facts
// name them by argument: one that is unknown, or that satisfies the bounds,
// admits.
func (c *Clause) admitsPaths(facts *filterFacts) bool {
	if c.AnyPath && c.Contains == "" {
		return true
	}
	if c.Paths&(FSPath1|FSPath2) == 0 {
		// Bounds on no path of the event: nothing judges them.
		return true
	}
	for i, bit := range [2]uint8{FSPath1, FSPath2} {
		if c.Paths&bit == 0 {
			continue
		}
		p := facts.paths[i]
		if p == nil {
			return true
		}
		if (c.AnyPath || c.bounds(p)) && (c.Contains == "" || bytes.Contains(p, []byte(c.Contains))) {
			return true
		}
	}
	return false
}

// bounds reports whether path name satisfies the clause's prefixes, names
// or suffixes.
func (c *Clause) bounds(name []byte) bool {
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

// callerNamesResolved reports whether the kernel can tell that an open's
// caller's name is its resolved path (bpf/lib/filter.h,
// filter_caller_is_walked): an absolute raw path equal to it, or a relative
// one that is its end after a slash, joined from a directory that is the
// rest (the kernel climbs the raw path's names from the file and finds the
// directory). Either way the raw path has no empty, "." or ".." component,
// which the resolved path never has. The kernel's own bounds (how much of
// the raw path it reads, how many names it climbs) are the sensor's.
func callerNamesResolved(f *filterFacts) bool {
	raw, real := f.raw, f.real
	switch {
	case len(raw) == 0 || len(real) == 0:
		return false
	case raw[0] == '/':
		return bytes.Equal(raw, real)
	}
	n := len(real) - len(raw)
	return n > 0 && real[n-1] == '/' && bytes.Equal(real[n:], raw) && bytes.Equal(f.name, real)
}

// Equal reports whether two clauses are the same.
func (c Clause) Equal(o Clause) bool {
	return c.Types == o.Types && c.Classes == o.Classes && c.Results == o.Results && c.AnyPath == o.AnyPath &&
		slices.Equal(c.Prefixes, o.Prefixes) && slices.Equal(c.Names, o.Names) && slices.Equal(c.Suffixes, o.Suffixes) &&
		c.RawContains == o.RawContains && c.Paths == o.Paths && c.Contains == o.Contains && c.Resolved == o.Resolved &&
		slices.Equal(c.Identities, o.Identities)
}

// MergeClauses returns one clause that admits whatever a or b admits.
func MergeClauses(a, b Clause) Clause {
	m := Clause{Types: a.Types.Union(b.Types), Classes: a.Classes | b.Classes, Results: a.Results | b.Results}
	// A needle both need stays; otherwise neither needs one.
	if a.RawContains == b.RawContains {
		m.RawContains = a.RawContains
	}
	// Either clause's paths, judged by the bounds of both, admit; the
	// kind's one path (0) and paths named by argument do not mix.
	m.Paths = a.Paths | b.Paths
	if a.Contains == b.Contains {
		m.Contains = a.Contains
	}
	if a.Paths != b.Paths && (a.Paths == 0 || b.Paths == 0) {
		m.Paths, m.Contains = 0, ""
		m.AnyPath = true
		return m
	}
	if a.AnyPath || b.AnyPath {
		m.AnyPath = true
		return m
	}
	// Bounds on the caller's name admit at least what the same bounds on
	// the resolved path do: one side on the caller's name makes the
	// merged bounds so.
	m.Resolved = a.Resolved && b.Resolved
	m.Prefixes = appendNew(slices.Clone(a.Prefixes), b.Prefixes...)
	m.Names = appendNew(slices.Clone(a.Names), b.Names...)
	m.Suffixes = appendNew(slices.Clone(a.Suffixes), b.Suffixes...)
	m.Identities = appendNew(slices.Clone(a.Identities), b.Identities...)
	return m
}

// Reduce returns a filter of at most n clauses that admits whatever f
// admits: clauses with the same types, classes, results and needles
// (RawContains, Contains) are merged first, then the smallest neighbours,
// until n remain.
func (f *Filter) Reduce(n int) *Filter {
	if f.All || len(f.Clauses) <= n {
		return f
	}
	var out []Clause
	for _, c := range f.Clauses {
		i := slices.IndexFunc(out, func(o Clause) bool {
			return o.Types == c.Types && o.Classes == c.Classes && o.Results == c.Results && o.RawContains == c.RawContains &&
				o.Contains == c.Contains
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
