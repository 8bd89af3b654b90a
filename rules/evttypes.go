package rules

import (
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// typeSet is a set of event types.
type typeSet = event.TypeSet

// typeSetOf maps event type names to a set; unknown lists the names vigil
// does not produce, which Falco would evaluate to "never happens here".
func typeSetOf(names []string) (s typeSet, unknown []string) {
	for _, n := range names {
		if t, ok := event.TypeByName(n); ok {
			s.Add(t)
		} else {
			unknown = append(unknown, n)
		}
	}
	return s, unknown
}

// eventTypes returns the event types for which a resolved condition can
// hold, as libsinsp computes them: "and" intersects, "or" unites, checks of
// evt.type with =, ==, != and in give their types, every other check is
// neutral (all types), and negations are pushed to the leaves by De
// Morgan's laws so that `not evt.type = open` is every type but open while
// `not proc.name = x` stays every type. unknown collects the type names
// that vigil does not produce.
func eventTypes(e ast.Expr) (s typeSet, unknown []string) {
	v := &typeVisitor{}
	s = v.expr(e, false)
	return s, v.unknown
}

type typeVisitor struct {
	unknown []string
}

func (v *typeVisitor) expr(e ast.Expr, neg bool) typeSet {
	switch x := e.(type) {
	case *ast.And:
		if neg {
			return v.union(x.Children, neg)
		}
		return v.intersect(x.Children, neg)
	case *ast.Or:
		if neg {
			return v.intersect(x.Children, neg)
		}
		return v.union(x.Children, neg)
	case *ast.Not:
		return v.expr(x.Child, !neg)
	case *ast.Check:
		return v.check(x, neg)
	}
	return event.AllTypes()
}

func (v *typeVisitor) union(es []ast.Expr, neg bool) typeSet {
	var s typeSet
	for _, c := range es {
		s = s.Union(v.expr(c, neg))
	}
	return s
}

func (v *typeVisitor) intersect(es []ast.Expr, neg bool) typeSet {
	s := event.AllTypes()
	for _, c := range es {
		s = s.Intersect(v.expr(c, neg))
	}
	return s
}

func (v *typeVisitor) check(ch *ast.Check, neg bool) typeSet {
	f, ok := ch.Left.(*ast.Field)
	if !ok || f.Name != "evt.type" || f.HasArg {
		return event.AllTypes()
	}
	var names []string
	switch ch.Op {
	case "=", "==", "!=", "in":
	default:
		return event.AllTypes()
	}
	switch r := ch.Right.(type) {
	case *ast.Value:
		names = []string{r.Text}
	case *ast.List:
		for _, it := range r.Items {
			names = append(names, it.Text)
		}
	default:
		return event.AllTypes()
	}
	s, unknown := typeSetOf(names)
	v.unknown = appendNew(v.unknown, unknown...)
	if neg != (ch.Op == "!=") {
		return event.AllTypes().Minus(s)
	}
	return s
}

// appendNew appends the strings of add not already in list.
func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		dup := false
		for _, l := range list {
			if l == a {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, a)
		}
	}
	return list
}

// constness says whether a tree is known to be always false or always
// true on the event types vigil produces.
type constness uint8

const (
	notConst constness = iota
	constFalse
	constTrue
)

// prune removes the parts of a resolved tree that cannot matter on vigil:
// a subtree that can only hold for event types vigil does not produce is
// false, one whose negation can only hold for such types is true, and
// and/or/not fold those constants away. So `(evt.type = connect or
// (evt.type = sendto and fd.name_changed = true)) and ...` keeps only the
// connect branch, and the field that only the sendto branch used no
// longer makes the rule unloadable. When the whole tree folds to a
// constant, the tree returned is nil.
func prune(e ast.Expr) (ast.Expr, constness) {
	p, k, _, _ := (&typeVisitor{}).prune(e)
	return p, k
}

// prune works bottom-up, computing with each node the types for which it
// can hold (pos) and for which its negation can (neg), as expr does for the
// two polarities.
func (v *typeVisitor) prune(e ast.Expr) (out ast.Expr, k constness, pos, neg typeSet) {
	switch x := e.(type) {
	case *ast.And, *ast.Or:
		isAnd := false
		var children []ast.Expr
		if a, ok := x.(*ast.And); ok {
			isAnd, children = true, a.Children
		} else {
			children = x.(*ast.Or).Children
		}
		// For "and", true children drop out and a false one decides; for
		// "or" the other way round.
		absorbing, neutral := constFalse, constTrue
		if !isAnd {
			absorbing, neutral = constTrue, constFalse
		}
		var kept []ast.Expr
		pos, neg = typeSet{}, typeSet{}
		if isAnd {
			pos = event.AllTypes()
		} else {
			neg = event.AllTypes()
		}
		changed := false
		for _, c := range children {
			p, ck, cpos, cneg := v.prune(c)
			switch ck {
			case absorbing:
				return nil, absorbing, typeSet{}, typeSet{}
			case neutral:
				changed = true
				continue
			}
			if p != c {
				changed = true
			}
			kept = append(kept, p)
			if isAnd {
				pos = pos.Intersect(cpos)
				neg = neg.Union(cneg)
			} else {
				pos = pos.Union(cpos)
				neg = neg.Intersect(cneg)
			}
		}
		if len(kept) == 0 {
			return nil, neutral, typeSet{}, typeSet{}
		}
		switch {
		case pos.Empty():
			return nil, constFalse, typeSet{}, typeSet{}
		case neg.Empty():
			return nil, constTrue, typeSet{}, typeSet{}
		case len(kept) == 1:
			return kept[0], notConst, pos, neg
		case !changed:
			return e, notConst, pos, neg
		case isAnd:
			return &ast.And{Pos: e.Position(), Children: kept}, notConst, pos, neg
		}
		return &ast.Or{Pos: e.Position(), Children: kept}, notConst, pos, neg
	case *ast.Not:
		p, ck, cpos, cneg := v.prune(x.Child)
		switch ck {
		case constFalse:
			return nil, constTrue, typeSet{}, typeSet{}
		case constTrue:
			return nil, constFalse, typeSet{}, typeSet{}
		}
		if p == x.Child {
			return e, notConst, cneg, cpos
		}
		return &ast.Not{Pos: x.Pos, Child: p}, notConst, cneg, cpos
	case *ast.Check:
		pos, neg = v.check(x, false), v.check(x, true)
	default:
		pos, neg = event.AllTypes(), event.AllTypes()
	}
	switch {
	case pos.Empty():
		return nil, constFalse, typeSet{}, typeSet{}
	case neg.Empty():
		return nil, constTrue, typeSet{}, typeSet{}
	}
	return e, notConst, pos, neg
}
