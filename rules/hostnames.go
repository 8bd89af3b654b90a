package rules

import (
	"slices"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// appendHostNames appends to dst the names that e compares the
// fd.*ip.name fields with (=, in, and their negations): the names to
// resolve for those comparisons to mean what they mean in Falco.
func appendHostNames(dst []string, e ast.Expr) []string {
	switch x := e.(type) {
	case *ast.And:
		for _, c := range x.Children {
			dst = appendHostNames(dst, c)
		}
	case *ast.Or:
		for _, c := range x.Children {
			dst = appendHostNames(dst, c)
		}
	case *ast.Not:
		dst = appendHostNames(dst, x.Child)
	case *ast.Check:
		if f, ok := x.Left.(*ast.Field); ok && event.IsHostNameField(f.Name) {
			names, _ := checkValues(x.Right)
			dst = append(dst, names...)
		}
	}
	return dst
}

// HostNames returns the host names the active rules compare fd.*ip.name
// fields with, sorted and unique: the names a resolver must keep resolved
// into the events' event.HostNames.
func (rs *Ruleset) HostNames() []string {
	var names []string
	for _, r := range rs.active {
		names = append(names, r.hostNames...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
