package rules

import (
	"slices"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// nameSet is a set of event type names, Falco's and vigil's alike: the
// names listed, or with co every name but those.
type nameSet struct {
	names []string
	co    bool
}

func (a nameSet) and(b nameSet) nameSet {
	switch {
	case !a.co && !b.co:
		return nameSet{names: keep(a.names, b.names, true)}
	case !a.co:
		return nameSet{names: keep(a.names, b.names, false)}
	case !b.co:
		return nameSet{names: keep(b.names, a.names, false)}
	}
	return nameSet{names: union(a.names, b.names), co: true}
}

func (a nameSet) or(b nameSet) nameSet {
	switch {
	case !a.co && !b.co:
		return nameSet{names: union(a.names, b.names)}
	case !a.co:
		return nameSet{names: keep(b.names, a.names, false), co: true}
	case !b.co:
		return nameSet{names: keep(a.names, b.names, false), co: true}
	}
	return nameSet{names: keep(a.names, b.names, true), co: true}
}

// keep returns the names of a that are (in) or are not (!in) in b.
func keep(a, b []string, in bool) []string {
	var out []string
	for _, n := range a {
		if slices.Contains(b, n) == in {
			out = append(out, n)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// falcoTypes is the set of event type names for which e can hold in
// Falco, derived as eventTypes derives vigil's: negations pushed to the
// leaves, evt.type checks give their names, any other check all names.
func falcoTypes(e ast.Expr, neg bool) nameSet {
	all := nameSet{co: true}
	switch x := e.(type) {
	case *ast.And, *ast.Or:
		var kids []ast.Expr
		isAnd := false
		if a, ok := x.(*ast.And); ok {
			kids, isAnd = a.Children, true
		} else {
			kids = x.(*ast.Or).Children
		}
		// De Morgan: under a negation, and unites and or intersects.
		if neg {
			isAnd = !isAnd
		}
		var s nameSet
		for i, k := range kids {
			ks := falcoTypes(k, neg)
			switch {
			case i == 0:
				s = ks
			case isAnd:
				s = s.and(ks)
			default:
				s = s.or(ks)
			}
		}
		return s
	case *ast.Not:
		return falcoTypes(x.Child, !neg)
	case *ast.Check:
		f, ok := x.Left.(*ast.Field)
		if !ok || f.Name != "evt.type" || (x.Op != "=" && x.Op != "==" && x.Op != "!=" && x.Op != "in") {
			return all
		}
		names, ok := checkValues(x.Right)
		if !ok {
			return all
		}
		return nameSet{names: names, co: neg != (x.Op == "!=")}
	}
	return all
}

// untracedTypes lists the event types vigil does not trace for which a
// resolved condition could hold in Falco: the events of the branches that
// never fire here. A condition that holds for every type but some is not
// listed (it would name every syscall vigil leaves alone).
func untracedTypes(tree ast.Expr) []string {
	s := falcoTypes(tree, false)
	if s.co {
		return nil
	}
	var out []string
	for _, n := range s.names {
		if _, ok := event.TypeByName(n); !ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
