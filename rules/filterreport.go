package rules

import "github.com/vigil-sensor/vigil/event"

// What the kernel filters let through, rule by rule: for reports of which
// rules keep which events flowing to userspace (vigil validate). Read from
// the same clauses Ruleset.Filters joins.

// KernelFiltered reports whether the kernel filters events of kind by what
// the loaded rules constrain (Ruleset.Filters). The events of other kinds
// flow whole to userspace whenever an active rule applies to the kind.
func KernelFiltered(kind event.Kind) bool { return filterKindOf(kind) != nil }

// Unbounded returns the event types of kind for which r's part of the
// kernel filter admits every event, whatever its arguments, path or
// result: with r active, every event of those types reaches userspace. For
// a kind the kernel does not filter, it is every type of the kind r applies
// to. A clause bounded on anything (a class, a path, a result, a raw-path
// needle) does not count, even where the bound happens to hold for every
// event the machine makes.
func (r *Rule) Unbounded(kind event.Kind) event.TypeSet {
	types := r.types.Intersect(kind.Types())
	k := filterKindOf(kind)
	if k == nil || types.Empty() {
		return types
	}
	var out event.TypeSet
	for _, c := range r.filters[kind] {
		if c.Classes&k.classes == k.classes && c.Results == event.AllResults && c.AnyPath && c.RawContains == "" {
			out = out.Union(c.Types.Intersect(types))
		}
	}
	return out
}

// AnyPath returns the event types of kind for which r's part of the kernel
// filter admits some events whatever their path: only their class (for
// opens, the access mode) or result bounds them. It includes Unbounded's.
// For a kind whose events the kernel never judges by path it is every type
// r applies to; BoundsPaths tells the kinds apart.
func (r *Rule) AnyPath(kind event.Kind) event.TypeSet {
	types := r.types.Intersect(kind.Types())
	if filterKindOf(kind) == nil || types.Empty() {
		return types
	}
	var out event.TypeSet
	for _, c := range r.filters[kind] {
		if c.AnyPath && c.RawContains == "" {
			out = out.Union(c.Types.Intersect(types))
		}
	}
	return out
}

// BoundsPaths reports whether r's part of kind's kernel filter bounds some
// events of the kind by their path (prefixes, names, suffixes, or a string
// the path as passed must contain).
func (r *Rule) BoundsPaths(kind event.Kind) bool {
	types := r.types.Intersect(kind.Types())
	if filterKindOf(kind) == nil || types.Empty() {
		return false
	}
	for _, c := range r.filters[kind] {
		if (!c.AnyPath || c.RawContains != "") && !c.Types.Intersect(types).Empty() {
			return true
		}
	}
	return false
}

// AppliesTo reports whether r runs on some event type of kind.
func (r *Rule) AppliesTo(kind event.Kind) bool { return !r.types.Intersect(kind.Types()).Empty() }
