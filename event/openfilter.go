package event

import (
	"bytes"
	"slices"

	"golang.org/x/sys/unix"
)

// OpenFilter is a necessary condition for an open event to matter to the
// loaded rules: an open that satisfies none of its clauses cannot match
// any of them, so the sensor may leave it in the kernel. It is derived
// from rule conditions (rules.Ruleset.OpenFilter) and may admit more than
// the rules need, never less. The zero value, All unset and no clauses,
// admits nothing.
type OpenFilter struct {
	// All admits every open: some rule can match opens that no clause
	// describes (or every event is wanted).
	All bool
	// Clauses: an open is admitted when it satisfies one of them.
	Clauses []OpenClause
}

// OpenClause is a conjunction of conditions on an open event. A failed
// open satisfies it on Types, Access and Results alone: its fd.name is
// joined in userspace, so paths cannot be checked in the kernel.
type OpenClause struct {
	// Types is the set of open event types, bit 1<<Type.
	Types uint16
	// Access is the set of access classes (OpenAccessOf), bit 1<<class.
	Access uint8
	// Results is the set of OpenSucceeded and OpenFailed bits.
	Results uint8
	// AnyPath: the path is not constrained. Otherwise a successful open
	// must have fd.name starting with one of Prefixes or fd.filename equal
	// to one of Names.
	AnyPath  bool
	Prefixes []string
	Names    []string
	// RawContains, when not empty, is a string the path as the caller
	// passed it (fd.nameraw) must contain, failed opens included. The
	// kernel searches the first OpenRawScan bytes of the raw path for at
	// most OpenRawNeedle bytes of it; a longer raw path, or one it could
	// not read, is admitted.
	RawContains string
}

// Bounds of the kernel's raw-path search (bpf/events.h).
const (
	// OpenRawScan is how many bytes of a raw path the kernel searches.
	OpenRawScan = 256
	// OpenRawNeedle is the longest needle the kernel compares: a clause's
	// RawContains is cut to it (containing a string implies containing
	// its head).
	OpenRawNeedle = 8
)

// Access classes of an open, from its flags: what evt.is_open_read and
// evt.is_open_write tell apart.
const (
	OpenReadOnly  = 0 // O_RDONLY without O_PATH: read
	OpenPathOnly  = 1 // O_RDONLY|O_PATH: neither read nor write
	OpenWriteOnly = 2 // O_WRONLY: write
	OpenReadWrite = 3 // O_RDWR: read and write
	// OpenAllAccess is the set of every class.
	OpenAllAccess = 1<<OpenReadOnly | 1<<OpenPathOnly | 1<<OpenWriteOnly | 1<<OpenReadWrite
)

// Result bits of OpenClause.Results.
const (
	OpenSucceeded = 1 << 0
	OpenFailed    = 1 << 1
	// OpenAllResults is both.
	OpenAllResults = OpenSucceeded | OpenFailed
)

// OpenAllTypes is the set of every open event type.
const OpenAllTypes = 1<<TypeOpen | 1<<TypeOpenat | 1<<TypeOpenat2 | 1<<TypeCreat

// OpenAccessOf returns the access class of open flags. O_WRONLY|O_RDWR (3)
// is invalid, and is neither read nor write like O_PATH.
func OpenAccessOf(flags uint32) int {
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		if flags&unix.O_PATH != 0 {
			return OpenPathOnly
		}
		return OpenReadOnly
	case unix.O_WRONLY:
		return OpenWriteOnly
	case unix.O_RDWR:
		return OpenReadWrite
	}
	return OpenPathOnly
}

// Admits reports whether e, an open event, satisfies the filter; events of
// other kinds are always admitted. It is the reference for the kernel's
// evaluation of the same filter, which also admits what it cannot judge
// (a truncated or empty path).
func (f *OpenFilter) Admits(e *Event) bool {
	if f.All || e.Type.Kind() != KindOpen {
		return true
	}
	for i := range f.Clauses {
		if f.Clauses[i].admits(e) {
			return true
		}
	}
	return false
}

func (c *OpenClause) admits(e *Event) bool {
	if c.Types&(1<<e.Type) == 0 || c.Access&(1<<OpenAccessOf(e.Open.Flags)) == 0 {
		return false
	}
	if raw := e.Open.Raw; c.RawContains != "" && len(raw) > 0 && len(raw) <= OpenRawScan &&
		!bytes.Contains(raw, []byte(c.RawContains[:min(len(c.RawContains), OpenRawNeedle)])) {
		return false
	}
	if e.Res < 0 {
		return c.Results&OpenFailed != 0
	}
	if c.Results&OpenSucceeded == 0 {
		return false
	}
	name := e.Open.Name
	if c.AnyPath || len(name) == 0 || e.Open.NameTruncated {
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
	return false
}

// Equal reports whether two clauses are the same.
func (c OpenClause) Equal(o OpenClause) bool {
	return c.Types == o.Types && c.Access == o.Access && c.Results == o.Results && c.AnyPath == o.AnyPath &&
		slices.Equal(c.Prefixes, o.Prefixes) && slices.Equal(c.Names, o.Names) && c.RawContains == o.RawContains
}

// MergeOpenClauses returns one clause that admits whatever a or b admits.
func MergeOpenClauses(a, b OpenClause) OpenClause {
	m := OpenClause{Types: a.Types | b.Types, Access: a.Access | b.Access, Results: a.Results | b.Results}
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
	return m
}

// Reduce returns a filter of at most n clauses that admits whatever f
// admits: clauses with the same types, access, results and raw-path needle
// are merged first, then the smallest neighbours, until n remain.
func (f *OpenFilter) Reduce(n int) *OpenFilter {
	if f.All || len(f.Clauses) <= n {
		return f
	}
	var out []OpenClause
	for _, c := range f.Clauses {
		i := slices.IndexFunc(out, func(o OpenClause) bool {
			return o.Types == c.Types && o.Access == c.Access && o.Results == c.Results && o.RawContains == c.RawContains
		})
		if i < 0 {
			out = append(out, c)
			continue
		}
		out[i] = MergeOpenClauses(out[i], c)
	}
	for len(out) > max(n, 1) {
		last := len(out) - 1
		out[last-1] = MergeOpenClauses(out[last-1], out[last])
		out = out[:last]
	}
	return &OpenFilter{Clauses: out}
}

func appendNew(list []string, add ...string) []string {
	for _, s := range add {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}
