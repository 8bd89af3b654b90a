package rules

import (
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// Deriving the open filter: opens are most of the events a host makes, and
// most cannot match any rule. For each rule, openClauses computes clauses
// (an "or" of "and"s, like the event types of evttypes.go but finer) that
// every open event matching the rule satisfies; Ruleset.OpenFilter joins
// them, and the sensor drops in the kernel the opens that satisfy none.
//
// Soundness is the one requirement: a clause may admit more than its rule
// matches, never less. Checks the kernel cannot judge (process, container,
// user fields, "contains" on fd.name, transforms, negated paths) constrain
// nothing. The raw path (fd.nameraw) gives one more bound: a string it
// must contain, which the kernel searches for.

// maxRuleClauses bounds the clauses of one rule; past it they are merged
// into one, which admits at least what each did.
const maxRuleClauses = 64

// anyOpen is the clause that admits every open.
func anyOpen() event.OpenClause {
	return event.OpenClause{Types: event.OpenAllTypes, Classes: event.OpenAllAccess, Results: event.AllResults, AnyPath: true}
}

// openClauses returns the clauses of a resolved, pruned condition; nil
// tree (always true) gives the clause that admits everything. No clauses
// means the rule matches no open.
func openClauses(tree ast.Expr) []event.OpenClause {
	if tree == nil {
		return []event.OpenClause{anyOpen()}
	}
	return openExpr(tree, false)
}

// openExpr works like typeVisitor.expr: negations are pushed to the
// leaves, "and" is a product, "or" a union.
func openExpr(e ast.Expr, neg bool) []event.OpenClause {
	switch x := e.(type) {
	case *ast.And:
		if neg {
			return openUnion(x.Children, neg)
		}
		return openProduct(x.Children, neg)
	case *ast.Or:
		if neg {
			return openProduct(x.Children, neg)
		}
		return openUnion(x.Children, neg)
	case *ast.Not:
		return openExpr(x.Child, !neg)
	case *ast.Check:
		c, ok := openCheck(x, neg)
		if !ok {
			return nil
		}
		return []event.OpenClause{c}
	}
	return []event.OpenClause{anyOpen()}
}

func openUnion(es []ast.Expr, neg bool) []event.OpenClause {
	var out []event.OpenClause
	for _, c := range es {
		out = append(out, openExpr(c, neg)...)
	}
	return capClauses(out)
}

func openProduct(es []ast.Expr, neg bool) []event.OpenClause {
	out := []event.OpenClause{anyOpen()}
	for _, c := range es {
		right := openExpr(c, neg)
		var next []event.OpenClause
		for _, a := range out {
			for _, b := range right {
				if c, ok := intersectClauses(a, b); ok {
					next = append(next, c)
				}
			}
		}
		out = capClauses(next)
		if len(out) == 0 {
			return nil
		}
	}
	return out
}

// capClauses merges clauses into one when there are too many.
func capClauses(cs []event.OpenClause) []event.OpenClause {
	if len(cs) <= maxRuleClauses {
		return cs
	}
	m := cs[0]
	for _, c := range cs[1:] {
		m = event.MergeClauses(m, c)
	}
	return []event.OpenClause{m}
}

// intersectClauses returns a clause admitting at least what both admit;
// false when nothing satisfies both.
func intersectClauses(a, b event.OpenClause) (event.OpenClause, bool) {
	c := event.OpenClause{Types: a.Types & b.Types, Classes: a.Classes & b.Classes, Results: a.Results & b.Results}
	// Either needle is necessary; one is enough.
	c.RawContains = a.RawContains
	if c.RawContains == "" {
		c.RawContains = b.RawContains
	}
	switch {
	case a.AnyPath:
		c.AnyPath, c.Prefixes, c.Names = b.AnyPath, b.Prefixes, b.Names
	case b.AnyPath:
		c.Prefixes, c.Names = a.Prefixes, a.Names
	case len(a.Names) == 0 && len(b.Names) == 0:
		// Both are prefix sets: a path starts with one of each exactly
		// when it starts with the longer of a pair that nests.
		for _, p := range a.Prefixes {
			for _, q := range b.Prefixes {
				switch {
				case strings.HasPrefix(p, q):
					c.Prefixes = appendUnique(c.Prefixes, p)
				case strings.HasPrefix(q, p):
					c.Prefixes = appendUnique(c.Prefixes, q)
				}
			}
		}
	case len(a.Prefixes) == 0 && len(b.Prefixes) == 0:
		for _, n := range a.Names {
			if slices.Contains(b.Names, n) {
				c.Names = append(c.Names, n)
			}
		}
	default:
		// Mixed: either side alone is a sound bound; keep the smaller.
		if len(a.Prefixes)+len(a.Names) <= len(b.Prefixes)+len(b.Names) {
			c.Prefixes, c.Names = a.Prefixes, a.Names
		} else {
			c.Prefixes, c.Names = b.Prefixes, b.Names
		}
	}
	if !c.AnyPath && len(c.Prefixes) == 0 && len(c.Names) == 0 {
		// No path satisfies both: only failed opens can.
		c.Results &^= event.ResultSucceeded
	}
	return c, c.Types != 0 && c.Classes != 0 && c.Results != 0
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// openCheck returns the clause of one check (negated when neg); false when
// no open satisfies it.
func openCheck(ch *ast.Check, neg bool) (event.OpenClause, bool) {
	c := anyOpen()
	fr, ok := ch.Left.(*ast.Field)
	if !ok || fr.HasArg {
		return c, true
	}
	f, ok := event.LookupField(fr.Name)
	if !ok {
		return c, true
	}
	vals, ok := checkValues(ch.Right)
	if !ok {
		return c, true
	}
	switch f.Name {
	case "evt.type":
		s := (&typeVisitor{}).check(ch, neg)
		var types uint16
		for _, t := range s.types() {
			if t.Kind() == event.KindOpen {
				types |= 1 << t
			}
		}
		c.Types = types
	case "evt.is_open_read", "evt.is_open_write", "evt.failed":
		want, ok := boolCheck(ch.Op, vals, neg)
		if !ok {
			return c, true
		}
		switch {
		case f.Name == "evt.failed" && want:
			c.Results = event.ResultFailed
		case f.Name == "evt.failed":
			c.Results = event.ResultSucceeded
		case f.Name == "evt.is_open_read" && want:
			c.Classes = event.OpenReadAccess
		case f.Name == "evt.is_open_read":
			c.Classes = event.OpenAllAccess &^ event.OpenReadAccess
		case want:
			c.Classes = event.OpenWriteAccess
		default:
			c.Classes = event.OpenAllAccess &^ event.OpenWriteAccess
		}
	case "fd.num", "evt.rawres":
		if len(vals) != 1 {
			return c, true
		}
		v, err := strconv.ParseInt(vals[0], 0, 64)
		if err != nil {
			return c, true
		}
		op := ch.Op
		if neg {
			op = negateNumOp(op)
		}
		// fd.num is the result, or -1 on failure; evt.rawres is the
		// result, negative on failure.
		failLo, failHi := int64(-4095), int64(-1)
		if f.Name == "fd.num" {
			failLo = -1
		}
		c.Results = 0
		if numSatisfiable(op, v, 0, 1<<31) {
			c.Results |= event.ResultSucceeded
		}
		if numSatisfiable(op, v, failLo, failHi) {
			c.Results |= event.ResultFailed
		}
	case "evt.res":
		if len(vals) != 1 || (ch.Op != "=" && ch.Op != "==" && ch.Op != "!=") {
			return c, true
		}
		success := vals[0] == "SUCCESS"
		if (ch.Op == "!=") != neg {
			success = !success
		}
		if success {
			c.Results = event.ResultSucceeded
		} else {
			c.Results = event.ResultFailed
		}
	case "fd.name", "fd.directory", "fd.filename":
		if neg {
			return c, true
		}
		prefixes, names, ok := pathAtoms(f.Name, ch.Op, vals)
		if !ok {
			return c, true
		}
		c.AnyPath, c.Prefixes, c.Names = false, prefixes, names
	case "fd.nameraw":
		// A raw path equal to, starting or ending with, or containing
		// a string contains it.
		switch ch.Op {
		case "=", "==", "contains", "startswith", "endswith":
		default:
			return c, true
		}
		if neg || len(vals) != 1 || vals[0] == "" {
			return c, true
		}
		c.RawContains = vals[0]
	}
	return c, c.Types != 0 && c.Classes != 0 && c.Results != 0
}

// checkValues returns the literal values on the right of a check; false for
// a field or transform (compared by value) or no operand.
func checkValues(o ast.Operand) ([]string, bool) {
	switch r := o.(type) {
	case *ast.Value:
		return []string{r.Text}, true
	case *ast.List:
		out := make([]string, len(r.Items))
		for i, it := range r.Items {
			out[i] = it.Text
		}
		return out, true
	}
	return nil, false
}

// boolCheck returns the value a boolean field must have for the check to
// hold; false when the check is not a plain comparison with true or false.
func boolCheck(op string, vals []string, neg bool) (want, ok bool) {
	if len(vals) != 1 || (op != "=" && op != "==" && op != "!=") {
		return false, false
	}
	switch vals[0] {
	case "true":
		want = true
	case "false":
	default:
		return false, false
	}
	if (op == "!=") != neg {
		want = !want
	}
	return want, true
}

func negateNumOp(op string) string {
	switch op {
	case "=", "==":
		return "!="
	case "!=":
		return "="
	case "<":
		return ">="
	case "<=":
		return ">"
	case ">":
		return "<="
	case ">=":
		return "<"
	}
	return ""
}

// numSatisfiable reports whether some x in [lo, hi] satisfies x op v; an
// operator it does not know may be satisfied.
func numSatisfiable(op string, v, lo, hi int64) bool {
	switch op {
	case "=", "==":
		return lo <= v && v <= hi
	case "!=":
		return lo != hi || lo != v
	case "<":
		return lo < v
	case "<=":
		return lo <= v
	case ">":
		return hi > v
	case ">=":
		return hi >= v
	}
	return true
}

// pathAtoms turns a positive check of fd.name, fd.directory or
// fd.filename into path prefixes or file names that every matching path
// has; false when the operator gives no such bound.
func pathAtoms(field, op string, vals []string) (prefixes, names []string, ok bool) {
	switch field {
	case "fd.filename":
		if op != "=" && op != "==" && op != "in" {
			return nil, nil, false
		}
		for _, v := range vals {
			names = appendUnique(names, v)
		}
		return nil, names, true
	case "fd.directory":
		switch op {
		case "=", "==", "in":
			for _, v := range vals {
				// The directory of /a/b is /a: its files start
				// with "/a/" ("/" for the root).
				if !strings.HasSuffix(v, "/") {
					v += "/"
				}
				prefixes = appendUnique(prefixes, v)
			}
			return prefixes, nil, true
		case "startswith":
			for _, v := range vals {
				prefixes = appendUnique(prefixes, v)
			}
			return prefixes, nil, true
		case "pmatch":
			for _, v := range vals {
				prefixes = appendUnique(prefixes, pmatchPrefix(v))
			}
			return prefixes, nil, true
		}
		return nil, nil, false
	}
	switch op {
	case "=", "==", "in", "startswith":
		// An exact name starts with itself.
		for _, v := range vals {
			prefixes = appendUnique(prefixes, v)
		}
	case "pmatch":
		for _, v := range vals {
			prefixes = appendUnique(prefixes, pmatchPrefix(v))
		}
	case "glob":
		for _, v := range vals {
			lit := v[:strings.IndexAny(v+"*", "*?[\\")]
			if lit == "" {
				return nil, nil, false
			}
			prefixes = appendUnique(prefixes, lit)
		}
	default:
		return nil, nil, false
	}
	return prefixes, nil, true
}

// pmatchPrefix returns the prefix of every kernel path (absolute, without
// empty components) that pmatch pattern p matches: pmatch compares whole
// components and skips empty ones (match.go), so the pattern's components
// are joined canonically, up to the first that is a glob.
func pmatchPrefix(p string) string {
	var b strings.Builder
	for comp, rest, ok := nextComponent(p); ok; comp, rest, ok = nextComponent(rest) {
		if strings.ContainsAny(comp, "?*[") {
			break
		}
		b.WriteByte('/')
		b.WriteString(comp)
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}
