package rules

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// Deriving the kernel filters: opens are most of the events a host makes,
// and most cannot match any rule. For each rule and each kind the kernel
// filters, the derivation computes clauses (an "or" of "and"s, like the
// event types of evttypes.go but finer) that every event of the kind
// matching the rule satisfies; the ruleset joins them, and the sensor drops
// in the kernel the events that satisfy none. Opens are the first kind so
// filtered; a kind becomes one with a filterKind (filterKindOf).
//
// Soundness is the one requirement: a clause may admit more than its rule
// matches, never less. Checks the kernel cannot judge (process, container,
// user fields, "contains" on fd.name, transforms, negated paths) constrain
// nothing. The raw path (fd.nameraw) gives one more bound: a string it
// must contain, which the kernel searches for. Path bounds remember which
// name they are on (event.Clause.Resolved): fd.realpath and its parts bound
// the path the kernel resolved; fd.name, fd.directory and fd.filename the
// caller's name, which the kernel judges only where it can tell that name
// is the resolved path. fd.identity equal to a path bounds the resolved
// path by it, or the file by that path's identity (event.Clause.Identities),
// which the sensor learns and the kernel looks up.

// maxRuleClauses bounds the clauses of one rule; past it they are merged
// into one, which admits at least what each did.
const maxRuleClauses = 64

// filterKind is what the derivation knows of a kind whose events the
// kernel filters, beside the fields every such kind shares (evt.type, the
// result fields, the path fields).
type filterKind struct {
	// types and classes are the kind's event types and event.Clause
	// classes: what a clause that bounds nothing admits.
	types   event.TypeSet
	classes uint64
	// classFields are boolean fields that are true exactly for the
	// events of these classes.
	classFields map[string]uint64
	// failedFD: the kind's result is a new descriptor, so fd.num is
	// the result, or -1 on failure.
	failedFD bool
	// argClasses, when set, gives the classes of the events that a
	// positive check of an argument field can hold for; false when the
	// check bounds no class.
	argClasses func(field, op string, vals []string) (uint64, bool)
	// pathArg, when set, names the kind's paths by argument
	// (event.Clause.Paths): for a field that is one, the event types
	// that have it and which path it is. The fd.* path fields are then
	// not the kind's and bound nothing.
	pathArg func(field string) (event.TypeSet, uint8, bool)
}

// openKind is the filter kind of opens: classes are access classes.
func openKind() *filterKind {
	return &filterKind{
		types:   event.KindOpen.Types(),
		classes: event.OpenAllAccess,
		classFields: map[string]uint64{
			"evt.is_open_read":  event.OpenReadAccess,
			"evt.is_open_write": event.OpenWriteAccess,
		},
		failedFD: true,
	}
}

// any is the clause that admits every event of the kind.
func (k *filterKind) any() event.Clause {
	return event.Clause{Types: k.types, Classes: k.classes, Results: event.AllResults, AnyPath: true}
}

// filterKindOf returns what the derivation knows of kind, nil for a kind
// the kernel does not filter. A kind becomes filterable with a case here.
func filterKindOf(kind event.Kind) *filterKind {
	switch kind {
	case event.KindOpen:
		return openKind()
	case event.KindPriv:
		return &filterKind{types: event.KindPriv.Types(), classes: ^uint64(0), argClasses: privArgClasses}
	case event.KindSocket:
		return &filterKind{types: event.KindSocket.Types(), classes: ^uint64(0), argClasses: socketArgClasses}
	case event.KindDup:
		return &filterKind{types: event.KindDup.Types(), classes: ^uint64(0), argClasses: socketArgClasses}
	case event.KindFS:
		return &filterKind{types: event.KindFS.Types(), classes: 1<<8 - 1, argClasses: fsArgClasses, pathArg: event.FSPathField}
	case event.KindSendRecv:
		return sendRecvKind()
	case event.KindIOUring:
		return &filterKind{types: event.KindIOUring.Types(), classes: ^uint64(0), argClasses: iouringArgClasses}
	}
	return nil
}

// privArgClasses bounds the priv kind's classes (event.PrivKey) by a check
// of ptrace's request or bpf's command, which Falco's rules name as text
// ("evt.arg.request contains PTRACE_ATTACH", "evt.arg.cmd=BPF_PROG_LOAD"):
// the classes of every request or command whose rendering satisfies the
// check, and always the class of the values the keys fold together.
func privArgClasses(field, op string, vals []string) (uint64, bool) {
	var typ event.Type
	var name func(int64) string
	var args []uint32
	switch field {
	case "evt.arg.request":
		typ, name = event.TypePtrace, event.PtraceRequestName
		for a := range uint32(event.PrivKeyPtraceExt) {
			args = append(args, a)
		}
		for a := range uint32(event.PrivKeyOther - event.PrivKeyPtraceExt) {
			args = append(args, event.PrivPtraceExtBase+a)
		}
	case "evt.arg.cmd":
		typ, name = event.TypeBpf, event.BPFCommandName
		for a := range uint32(event.PrivKeyOther) {
			args = append(args, a)
		}
	default:
		return 0, false
	}
	match, ok := textMatch(op)
	if !ok {
		return 0, false
	}
	classes := uint64(1) << event.PrivKeyOther
	for _, a := range args {
		s := name(int64(a))
		if slices.ContainsFunc(vals, func(v string) bool { return match(s, v) }) {
			classes |= 1 << event.PrivKey(typ, a)
		}
	}
	return classes, true
}

// kindClauses are a rule's clauses for each filtered kind, indexed by kind.
type kindClauses [event.NumKinds][]event.Clause

// ruleClauses returns the clauses of a resolved, pruned condition for
// every kind the kernel filters.
func ruleClauses(tree ast.Expr) kindClauses {
	var out kindClauses
	for kind := range event.Kind(event.NumKinds) {
		if k := filterKindOf(kind); k != nil {
			out[kind] = k.clauses(tree)
		}
	}
	return out
}

// clauses returns the clauses of a resolved, pruned condition; nil tree
// (always true) gives the clause that admits everything. No clauses means
// the rule matches no event of the kind.
func (k *filterKind) clauses(tree ast.Expr) []event.Clause {
	if tree == nil {
		return []event.Clause{k.any()}
	}
	return k.expr(tree, false)
}

// expr works like typeVisitor.expr: negations are pushed to the leaves,
// "and" is a product, "or" a union.
func (k *filterKind) expr(e ast.Expr, neg bool) []event.Clause {
	switch x := e.(type) {
	case *ast.And:
		if neg {
			return k.union(x.Children, neg)
		}
		return k.product(x.Children, neg)
	case *ast.Or:
		if neg {
			return k.product(x.Children, neg)
		}
		return k.union(x.Children, neg)
	case *ast.Not:
		return k.expr(x.Child, !neg)
	case *ast.Check:
		c, ok := k.check(x, neg)
		if !ok {
			return nil
		}
		return []event.Clause{c}
	}
	return []event.Clause{k.any()}
}

func (k *filterKind) union(es []ast.Expr, neg bool) []event.Clause {
	var out []event.Clause
	for _, c := range es {
		out = append(out, k.expr(c, neg)...)
	}
	return capClauses(out)
}

func (k *filterKind) product(es []ast.Expr, neg bool) []event.Clause {
	out := []event.Clause{k.any()}
	for _, c := range es {
		right := k.expr(c, neg)
		var next []event.Clause
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
func capClauses(cs []event.Clause) []event.Clause {
	if len(cs) <= maxRuleClauses {
		return cs
	}
	m := cs[0]
	for _, c := range cs[1:] {
		m = event.MergeClauses(m, c)
	}
	return []event.Clause{m}
}

// intersectClauses returns a clause admitting at least what both admit;
// false when nothing satisfies both.
func intersectClauses(a, b event.Clause) (event.Clause, bool) {
	c := event.Clause{Types: a.Types.Intersect(b.Types), Classes: a.Classes & b.Classes, Results: a.Results & b.Results}
	// Either needle is necessary; one is enough.
	c.RawContains = a.RawContains
	if c.RawContains == "" {
		c.RawContains = b.RawContains
	}
	if a.Paths|b.Paths != 0 {
		return intersectArgPaths(c, a, b)
	}
	switch {
	case a.AnyPath:
		c.AnyPath, c.Prefixes, c.Names, c.Suffixes, c.Resolved = b.AnyPath, b.Prefixes, b.Names, b.Suffixes, b.Resolved
		c.Identities = b.Identities
	case b.AnyPath:
		c.Prefixes, c.Names, c.Suffixes, c.Resolved = a.Prefixes, a.Names, a.Suffixes, a.Resolved
		c.Identities = a.Identities
	case len(a.Identities)+len(b.Identities) > 0:
		// A file may satisfy one side by its identity and the other by
		// its path: either side alone is a sound bound; keep the one
		// that names files by identity, the smaller if both do.
		r := a
		if len(a.Identities) == 0 || len(b.Identities) > 0 && pathBounds(b) < pathBounds(a) {
			r = b
		}
		c.Prefixes, c.Names, c.Suffixes, c.Resolved, c.Identities = r.Prefixes, r.Names, r.Suffixes, r.Resolved, r.Identities
	case a.Resolved != b.Resolved:
		// One bounds the resolved path, the other the caller's name:
		// either alone is sound; the resolved one the kernel judges on
		// every open.
		r := a
		if b.Resolved {
			r = b
		}
		c.Prefixes, c.Names, c.Suffixes, c.Resolved = r.Prefixes, r.Names, r.Suffixes, true
	case len(a.Names)+len(a.Suffixes) == 0 && len(b.Names)+len(b.Suffixes) == 0:
		c.Resolved = a.Resolved
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
	case len(a.Prefixes)+len(a.Suffixes) == 0 && len(b.Prefixes)+len(b.Suffixes) == 0:
		c.Resolved = a.Resolved
		for _, n := range a.Names {
			if slices.Contains(b.Names, n) {
				c.Names = append(c.Names, n)
			}
		}
	default:
		// Mixed: either side alone is a sound bound; keep the smaller.
		c.Resolved = a.Resolved
		if len(a.Prefixes)+len(a.Names)+len(a.Suffixes) <= len(b.Prefixes)+len(b.Names)+len(b.Suffixes) {
			c.Prefixes, c.Names, c.Suffixes = a.Prefixes, a.Names, a.Suffixes
		} else {
			c.Prefixes, c.Names, c.Suffixes = b.Prefixes, b.Names, b.Suffixes
		}
	}
	if !c.AnyPath && len(c.Prefixes) == 0 && len(c.Names) == 0 && len(c.Suffixes) == 0 {
		// No path satisfies both: only failed events can.
		c.Results &^= event.ResultSucceeded
	}
	return c, !c.Types.Empty() && c.Classes != 0 && c.Results != 0
}

// intersectArgPaths completes c, the intersection of a and b but for their
// paths, when they bound paths named by argument (event.Clause.Paths).
func intersectArgPaths(c, a, b event.Clause) (event.Clause, bool) {
	take := func(x event.Clause) {
		c.Paths, c.Contains = x.Paths, x.Contains
		c.AnyPath, c.Prefixes, c.Names, c.Suffixes = x.AnyPath, x.Prefixes, x.Names, x.Suffixes
	}
	switch {
	case !judgesPath(a):
		take(b)
	case !judgesPath(b):
		take(a)
	case a.Paths != b.Paths || a.Paths&(a.Paths-1) != 0:
		// Bounds on different paths, or on either of two, may hold
		// for different paths of one event: either side alone is a
		// sound bound; keep the smaller.
		if pathBounds(a) <= pathBounds(b) {
			take(a)
		} else {
			take(b)
		}
	default:
		// Both bound the same one path, which satisfies both: their
		// bounds meet as those of the kind's one path do, and either
		// needle is necessary.
		paths, contains := a.Paths, a.Contains
		if contains == "" {
			contains = b.Contains
		}
		a.Paths, b.Paths, a.Contains, b.Contains = 0, 0, "", ""
		r, ok := intersectClauses(a, b)
		r.Paths, r.Contains = paths, contains
		return r, ok
	}
	return c, !c.Types.Empty() && c.Classes != 0 && c.Results != 0
}

// notAbsolute reports whether a value is not an absolute path.
func notAbsolute(v string) bool { return !strings.HasPrefix(v, "/") }

// judgesPath reports whether c bounds a path at all.
func judgesPath(c event.Clause) bool { return !c.AnyPath || c.Contains != "" }

// pathBounds counts the bounds of c's path.
func pathBounds(c event.Clause) int { return len(c.Prefixes) + len(c.Names) + len(c.Suffixes) }

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// check returns the clause of one check (negated when neg); false when no
// event of the kind satisfies it.
func (k *filterKind) check(ch *ast.Check, neg bool) (event.Clause, bool) {
	c := k.any()
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
	if k.pathArg != nil {
		if types, path, ok := k.pathArg(f.Name); ok {
			return argPathCheck(c, ch.Op, vals, neg, types, path)
		}
		switch f.Name {
		case "fd.name", "fd.directory", "fd.filename", "fd.nameraw", "fd.identity":
			return c, true
		}
	}
	switch f.Name {
	case "evt.type":
		c.Types = k.types.Intersect((&typeVisitor{}).check(ch, neg))
	case "evt.failed":
		want, ok := boolCheck(ch.Op, vals, neg)
		if !ok {
			return c, true
		}
		c.Results = event.ResultSucceeded
		if want {
			c.Results = event.ResultFailed
		}
	case "fd.num", "evt.rawres":
		if f.Name == "fd.num" && !k.failedFD {
			return c, true
		}
		results, ok := numResults(f.Name == "fd.num", ch.Op, vals, neg)
		if !ok {
			return c, true
		}
		c.Results = results
	case "evt.res":
		if len(vals) != 1 || (ch.Op != "=" && ch.Op != "==" && ch.Op != "!=") {
			return c, true
		}
		// SUCCESS is every success; an error's name is one failure,
		// and every other result differs from it.
		success, equal := vals[0] == "SUCCESS", (ch.Op == "!=") == neg
		switch {
		case success && equal:
			c.Results = event.ResultSucceeded
		case success || equal:
			c.Results = event.ResultFailed
		}
	case "fd.name", "fd.directory", "fd.filename", "fd.realpath", "fd.realdirectory", "fd.realfilename":
		if neg {
			return c, true
		}
		// The fd.real* fields bound the resolved path; the others the
		// caller's name, which the kernel judges less often.
		field, resolved := pathField(f.Name)
		if ch.Op == "endswith" && field != "fd.directory" {
			// A path (or file name) ending with a string ends with it.
			if slices.Contains(vals, "") {
				return c, true
			}
			c.AnyPath, c.Suffixes, c.Resolved = false, vals, resolved
			break
		}
		prefixes, names, ok := pathAtoms(field, ch.Op, vals)
		if !ok {
			return c, true
		}
		c.AnyPath, c.Prefixes, c.Names, c.Resolved = false, prefixes, names, resolved
	case "fd.identity":
		// fd.identity is the path of a file the rules name by identity
		// when the file is one, else fd.realpath: equal to a path, the
		// file has that path or that file's identity. The names are
		// learned only from such checks (IdentityPaths); other
		// operators bound nothing.
		if neg || (ch.Op != "=" && ch.Op != "==" && ch.Op != "in") || slices.ContainsFunc(vals, notAbsolute) {
			return c, true
		}
		c.AnyPath, c.Prefixes, c.Resolved = false, nil, true
		for _, v := range vals {
			c.Prefixes = appendUnique(c.Prefixes, v)
			c.Identities = appendUnique(c.Identities, v)
		}
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
	case "evt.buffer":
		if needle, ok := bufferNeedle(ch.Op, vals, neg); ok {
			c.RawContains = needle
		}
	default:
		if k.argClasses != nil && !neg {
			if classes, ok := k.argClasses(f.Name, ch.Op, vals); ok {
				c.Classes = classes
				break
			}
		}
		classes, ok := k.classFields[f.Name]
		if !ok {
			return c, true
		}
		want, ok := boolCheck(ch.Op, vals, neg)
		if !ok {
			return c, true
		}
		if !want {
			classes = k.classes &^ classes
		}
		c.Classes = classes
	}
	return c, !c.Types.Empty() && c.Classes != 0 && c.Results != 0
}

// argPathCheck is the clause of a check of a path argument field (the fs
// kind's evt.arg.path, oldpath, ...) that types have, on their path path.
// A positive check holds on no other type, where the field is absent; a
// negated one holds there and bounds nothing. The bounds are those of
// fd.name, and a string the path contains.
func argPathCheck(c event.Clause, op string, vals []string, neg bool, types event.TypeSet, path uint8) (event.Clause, bool) {
	if neg {
		return c, true
	}
	c.Types = c.Types.Intersect(types)
	switch op {
	case "endswith":
		if !slices.Contains(vals, "") {
			c.AnyPath, c.Suffixes, c.Paths = false, vals, path
		}
	case "contains":
		if len(vals) == 1 && vals[0] != "" {
			c.Contains, c.Paths = vals[0], path
		}
	default:
		if prefixes, _, ok := pathAtoms("fd.name", op, vals); ok {
			c.AnyPath, c.Prefixes, c.Paths = false, prefixes, path
		}
	}
	return c, !c.Types.Empty()
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

// numResults returns the result classes (event.ResultOf) in which some
// result satisfies a check of fd.num (the result, or -1 on failure) or of
// evt.rawres (the result, a negative errno on failure), negated when neg;
// false when the check bounds no class (an operator or value it cannot
// judge).
func numResults(fdNum bool, op string, vals []string, neg bool) (uint8, bool) {
	nums := make([]int64, len(vals))
	for i, v := range vals {
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			return 0, false
		}
		nums[i] = n
	}
	failLo := int64(-4095)
	if fdNum {
		failLo = -1
	}
	classes := [...]struct {
		bit    uint8
		lo, hi int64
	}{
		{event.ResultFailed, failLo, -1},
		{event.ResultLow, 0, event.LowResult},
		{event.ResultHigh, event.LowResult + 1, math.MaxInt64},
	}
	var out uint8
	for _, cl := range classes {
		if op == "in" {
			// One of the values, or (negated) none of them.
			if inSatisfiable(nums, neg, cl.lo, cl.hi) {
				out |= cl.bit
			}
			continue
		}
		if len(nums) != 1 {
			return 0, false
		}
		o := op
		if neg {
			o = negateNumOp(op)
		}
		if numSatisfiable(o, nums[0], cl.lo, cl.hi) {
			out |= cl.bit
		}
	}
	return out, true
}

// inSatisfiable reports whether some x in [lo, hi] is one of vals, or,
// when neg, none of them.
func inSatisfiable(vals []int64, neg bool, lo, hi int64) bool {
	var in uint64
	for i, v := range vals {
		if lo <= v && v <= hi && !slices.Contains(vals[:i], v) {
			in++
		}
	}
	if !neg {
		return in > 0
	}
	// Some x of the range is left out: it holds more than the values.
	return uint64(hi-lo) >= in
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

// pathField maps a path field to the caller's-name field of the same part
// (fd.name, fd.directory, fd.filename), and says whether it is on the
// resolved path.
func pathField(name string) (field string, resolved bool) {
	switch name {
	case "fd.realpath":
		return "fd.name", true
	case "fd.realdirectory":
		return "fd.directory", true
	case "fd.realfilename":
		return "fd.filename", true
	}
	return name, false
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
