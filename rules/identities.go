package rules

import (
	"slices"
	"strings"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// appendIdentityPaths appends to dst the absolute paths that e compares
// fd.identity with (=, in, and their negations): the files whose identity
// must be learned for those comparisons to hold for the files' other names
// (hard links, bind mounts).
func appendIdentityPaths(dst []string, e ast.Expr) []string {
	ast.Inspect(e, func(x ast.Expr) bool {
		ch, ok := x.(*ast.Check)
		if !ok {
			return true
		}
		f, ok := ch.Left.(*ast.Field)
		if !ok || !event.IsIdentityField(f.Name) || (ch.Op != "=" && ch.Op != "==" && ch.Op != "in") {
			return false
		}
		vals, _ := checkValues(ch.Right)
		for _, v := range vals {
			if strings.HasPrefix(v, "/") {
				dst = append(dst, v)
			}
		}
		return false
	})
	return dst
}

// IdentityPaths returns the files the active rules compare fd.identity
// with, sorted and unique: the files whose identities (device and inode)
// the caller must keep learned into the events' event.FileIdentities and
// the sensor's filter, so that the rules recognise them by another name.
func (rs *Ruleset) IdentityPaths() []string {
	var paths []string
	for _, r := range rs.active {
		paths = append(paths, r.idPaths...)
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}
