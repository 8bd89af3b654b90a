package rules

import (
	"cmp"
	"encoding/hex"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// check compiles one comparison. cheap says the predicate costs no more
// than a cached lookup of its result would.
func (cc *compiler) check(ch *ast.Check) (p pred, cheap bool, err error) {
	if fr, ok := ch.Left.(*ast.Field); ok && fr.Name == "evt.type" && !fr.HasArg {
		if p, ok := evtTypePred(ch); ok {
			return p, true, nil
		}
	}
	left, err := cc.operand(ch.Left)
	if err != nil {
		return nil, false, err
	}
	if ch.Op == "exists" {
		return existsPred(left), false, nil
	}
	var t test
	switch left.typ {
	case event.FieldString:
		t, err = cc.strTest(ch, left)
	case event.FieldIP, event.FieldIPNet:
		t, err = cc.ipTest(ch, left)
	default:
		t, err = cc.numTest(ch, left)
	}
	if err != nil {
		return nil, false, err
	}
	return apply(left, t, allValues(ch, left)), isCheap(ch, left), nil
}

// test is an operator compiled with its right side. It makes the
// predicate that applies them to the value of one source, so one
// compilation serves a field with one value and each value of a field
// with several. The operators the hot path meets most (equality, in,
// pmatch, startswith, endswith, contains, numeric order) read the cached
// value inline: one indirect call per check.
//
// The functions that return tests are go:noinline. They run only at
// compile time, and when one is inlined the compiler does not inline
// calls in the closures it copies: every predicate would then call
// slotStr instead of inlining it.
type test func(src *fieldSrc) pred

// strMatch, numMatch and ipMatch make the test of the rarer operators
// from a function of the value.
//
//go:noinline
func strMatch(match func(v string) bool) test {
	return func(src *fieldSrc) pred {
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && match(sl.s) }
	}
}

//go:noinline
func numMatch(match func(v int64) bool) test {
	return func(src *fieldSrc) pred {
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && match(sl.n) }
	}
}

//go:noinline
func ipMatch(match func(v netip.Addr) bool) test {
	return func(src *fieldSrc) pred {
		return func(c *evalCtx) bool { sl := c.slotIP(src); return sl.ok && match(sl.ip) }
	}
}

// apply makes the predicate of t on o. For a field with several values, t
// holds for any present value or, with all, when at least one value is
// present and t holds for every present value.
func apply(o *operand, t test, all bool) pred {
	if o.multi == nil {
		return t(o.srcs[0])
	}
	srcs, count := o.srcs, o.count
	ps := make([]pred, len(srcs))
	for i, src := range srcs {
		ps[i] = t(src)
	}
	if all {
		return func(c *evalCtx) bool {
			n, seen := count(c), false
			for i := 0; i < n; i++ {
				if c.has(srcs[i]) {
					if !ps[i](c) {
						return false
					}
					seen = true
				}
			}
			return seen
		}
	}
	return func(c *evalCtx) bool {
		n := count(c)
		for i := 0; i < n; i++ {
			if ps[i](c) {
				return true
			}
		}
		return false
	}
}

// isCheap says whether a check is a field with one value compared with a
// literal by equality, or a number by order: then its test costs no more
// than a cached lookup of its result would.
func isCheap(ch *ast.Check, left *operand) bool {
	if _, lit := ch.Right.(*ast.Value); !lit || !left.plain {
		return false
	}
	switch ch.Op {
	case "=", "==", "!=":
		return left.typ == event.FieldString || left.typ.Numeric()
	case "<", "<=", ">", ">=":
		return left.typ.Numeric()
	}
	return false
}

// evtTypePred compiles `evt.type = x`, `!= x` and `in (...)` to a bit test
// of the event type; names vigil does not produce never match.
func evtTypePred(ch *ast.Check) (pred, bool) {
	var names []string
	switch v := ch.Right.(type) {
	case *ast.Value:
		if ch.Op != "=" && ch.Op != "==" && ch.Op != "!=" {
			return nil, false
		}
		names = []string{v.Text}
	case *ast.List:
		if ch.Op != "in" && ch.Op != "intersects" {
			return nil, false
		}
		for _, it := range v.Items {
			names = append(names, it.Text)
		}
	default:
		return nil, false
	}
	mask, _ := typeSetOf(names)
	if ch.Op == "!=" {
		mask = event.AllTypes().Minus(mask)
	}
	return func(c *evalCtx) bool { return mask.Has(c.e.Type) }, true
}

// existsPred compiles "exists". Like the makers of tests, it is
// go:noinline so that its predicates inline the slot reads.
//
//go:noinline
func existsPred(o *operand) pred {
	if o.multi == nil {
		src := o.srcs[0]
		return func(c *evalCtx) bool { return c.has(src) }
	}
	srcs, count := o.srcs, o.count
	return func(c *evalCtx) bool {
		n := count(c)
		for i := 0; i < n; i++ {
			if c.has(srcs[i]) {
				return true
			}
		}
		return false
	}
}

// allValues says whether a check of a field with several values must hold
// for every value rather than for any: "!=" on an event.Multi with
// NotEqualAll (fd.ip != x: neither end is x).
func allValues(ch *ast.Check, o *operand) bool {
	return o.multi != nil && o.multi.NotEqualAll && ch.Op == "!="
}

// rightField compiles the right side of a field-to-field comparison
// (val(field) or a transformer), or returns nil for a literal.
func (cc *compiler) rightField(ch *ast.Check, left *operand) (*operand, error) {
	t, ok := ch.Right.(*ast.Transform)
	if !ok {
		return nil, nil
	}
	var r *operand
	var err error
	if t.Name == "val" {
		r, err = cc.operand(t.Arg)
	} else {
		r, err = cc.operand(t)
	}
	if err != nil {
		return nil, err
	}
	if r.multi != nil {
		return nil, errAt(t.Pos, "'%s' has one value per %s and cannot be on the right of a comparison", r.name, r.multi.Of)
	}
	if (left.typ == event.FieldString) != (r.typ == event.FieldString) ||
		(left.typ == event.FieldIP || left.typ == event.FieldIPNet) != (r.typ == event.FieldIP || r.typ == event.FieldIPNet) {
		return nil, errAt(t.Pos, "cannot compare %s field '%s' with %s field '%s'", left.typ, left.name, r.typ, r.name)
	}
	return r, nil
}

// literal returns the single value on the right of ch.
func literal(ch *ast.Check) (*ast.Value, error) {
	switch v := ch.Right.(type) {
	case *ast.Value:
		return v, nil
	case *ast.List:
		return nil, errAt(v.Pos, "operator '%s' takes a single value, not a list", ch.Op)
	}
	return nil, errAt(ch.Right.Position(), "operator '%s' takes a value", ch.Op)
}

// values returns the values on the right of a list operator.
func values(ch *ast.Check) []*ast.Value {
	switch v := ch.Right.(type) {
	case *ast.List:
		return v.Items
	case *ast.Value:
		return []*ast.Value{v}
	}
	return nil
}

// strTest compiles the operator of a check of a string operand.
func (cc *compiler) strTest(ch *ast.Check, left *operand) (test, error) {
	right, err := cc.rightField(ch, left)
	if err != nil {
		return nil, err
	}
	if right != nil {
		return strFieldTest(ch, right.srcs[0])
	}
	if ast.IsListOperator(ch.Op) {
		var vals []string
		for _, v := range values(ch) {
			vals = append(vals, v.Text)
		}
		switch ch.Op {
		case "in", "intersects":
			return inTest(vals), nil
		case "pmatch":
			t := newPathTrie(vals)
			return func(src *fieldSrc) pred {
				return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && t.match(sl.s) }
			}, nil
		}
	}
	lit, err := literal(ch)
	if err != nil {
		return nil, err
	}
	s := lit.Text
	switch ch.Op {
	case "=", "==":
		return equalTest(s), nil
	case "!=":
		return func(src *fieldSrc) pred {
			return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && sl.s != s }
		}, nil
	case "contains":
		return func(src *fieldSrc) pred {
			return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && strings.Contains(sl.s, s) }
		}, nil
	case "startswith":
		return func(src *fieldSrc) pred {
			return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && strings.HasPrefix(sl.s, s) }
		}, nil
	case "endswith":
		return func(src *fieldSrc) pred {
			return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && strings.HasSuffix(sl.s, s) }
		}, nil
	case "icontains":
		lower := strings.ToLower(s)
		return strMatch(func(v string) bool { return containsFold(v, lower) }), nil
	case "bcontains", "bstartswith":
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, errAt(lit.Pos, "operator '%s' needs hex bytes, not '%s'", ch.Op, s)
		}
		sub := string(b)
		if ch.Op == "bcontains" {
			return strMatch(func(v string) bool { return strings.Contains(v, sub) }), nil
		}
		return strMatch(func(v string) bool { return strings.HasPrefix(v, sub) }), nil
	case "glob":
		return strMatch(func(v string) bool { return globMatch(s, v, false) }), nil
	case "iglob":
		return strMatch(func(v string) bool { return globMatch(s, v, true) }), nil
	case "regex":
		re, err := regexp.Compile(`^(?:` + s + `)$`)
		if err != nil {
			return nil, errAt(lit.Pos, "invalid regular expression '%s': %v", s, err)
		}
		return strMatch(re.MatchString), nil
	case "<", "<=", ">", ">=":
		cmp := orderedCmp[string](ch.Op)
		return strMatch(func(v string) bool { return cmp(v, s) }), nil
	}
	return nil, errAt(ch.Pos, "operator '%s' is not supported for string field '%s'", ch.Op, left.name)
}

// equalTest is "=" against a literal string.
//
//go:noinline
func equalTest(s string) test {
	return func(src *fieldSrc) pred {
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && sl.s == s }
	}
}

// inTest is "in" against literal strings.
//
//go:noinline
func inTest(vals []string) test {
	set := newStrSet(vals)
	if len(set.small) == 1 {
		return equalTest(set.small[0])
	}
	return func(src *fieldSrc) pred {
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && set.has(sl.s) }
	}
}

// orderedCmp returns the comparison of two values of one field type for
// the equality and ordering operators, nil for any other.
func orderedCmp[T cmp.Ordered](op string) func(v, r T) bool {
	switch op {
	case "=", "==", "in", "intersects":
		return func(v, r T) bool { return v == r }
	case "!=":
		return func(v, r T) bool { return v != r }
	case "<":
		return func(v, r T) bool { return v < r }
	case "<=":
		return func(v, r T) bool { return v <= r }
	case ">":
		return func(v, r T) bool { return v > r }
	case ">=":
		return func(v, r T) bool { return v >= r }
	}
	return nil
}

// strFieldTest compares with another string field of the same event.
func strFieldTest(ch *ast.Check, right *fieldSrc) (test, error) {
	cmp := orderedCmp[string](ch.Op)
	switch ch.Op {
	case "=", "==", "in", "intersects", "!=", "<", "<=", ">", ">=":
	case "contains", "bcontains":
		cmp = strings.Contains
	case "icontains":
		cmp = func(v, r string) bool { return containsFold(v, strings.ToLower(r)) }
	case "startswith", "bstartswith":
		cmp = strings.HasPrefix
	case "endswith":
		cmp = strings.HasSuffix
	case "glob":
		cmp = func(v, r string) bool { return globMatch(r, v, false) }
	case "iglob":
		cmp = func(v, r string) bool { return globMatch(r, v, true) }
	case "pmatch":
		cmp = func(v, r string) bool { return pathMatch(r, v) }
	default:
		return nil, errAt(ch.Pos, "operator '%s' cannot compare two fields", ch.Op)
	}
	return fieldTest(right, (*evalCtx).slotStr, func(v, r *slot) bool { return cmp(v.s, r.s) }), nil
}

// fieldTest compares the value of a source with the value of right,
// another field of the same type in the same event, reading both with
// read. It fails when either value is missing.
//
//go:noinline
func fieldTest(right *fieldSrc, read func(c *evalCtx, f *fieldSrc) *slot, cmp func(v, r *slot) bool) test {
	return func(src *fieldSrc) pred {
		return func(c *evalCtx) bool {
			v := read(c, src)
			if !v.ok {
				return false
			}
			r := read(c, right)
			return r.ok && cmp(v, r)
		}
	}
}

// parseNum parses a literal for a numeric field.
func parseNum(typ event.FieldType, lit *ast.Value, field string) (int64, error) {
	s := lit.Text
	if typ == event.FieldBool {
		switch strings.ToLower(s) {
		case "true", "1":
			return 1, nil
		case "false", "0":
			return 0, nil
		}
		return 0, errAt(lit.Pos, "field '%s' is a bool: compare it with true or false, not '%s'", field, s)
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		u, uerr := strconv.ParseUint(s, 0, 64)
		if uerr != nil {
			return 0, errAt(lit.Pos, "field '%s' is a %s: '%s' is not a number", field, typ, s)
		}
		n = int64(u)
	}
	if typ == event.FieldPort && (n < 0 || n > 65535) {
		return 0, errAt(lit.Pos, "field '%s' is a port: %d is out of range", field, n)
	}
	return n, nil
}

// numTest compiles the operator of a check of a numeric operand.
func (cc *compiler) numTest(ch *ast.Check, left *operand) (test, error) {
	right, err := cc.rightField(ch, left)
	if err != nil {
		return nil, err
	}
	if right != nil {
		cmp := orderedCmp[int64](ch.Op)
		if cmp == nil {
			return nil, errAt(ch.Pos, "operator '%s' is not supported for %s field '%s'", ch.Op, left.typ, left.name)
		}
		return fieldTest(right.srcs[0], (*evalCtx).slotNum, func(v, r *slot) bool { return cmp(v.n, r.n) }), nil
	}
	if ch.Op == "in" || ch.Op == "intersects" {
		var set []int64
		for _, v := range values(ch) {
			n, err := parseNum(left.typ, v, left.name)
			if err != nil {
				return nil, err
			}
			set = append(set, n)
		}
		return numMatch(func(v int64) bool { return slices.Contains(set, v) }), nil
	}
	switch ch.Op {
	case "=", "==", "!=", "<", "<=", ">", ">=":
	default:
		return nil, errAt(ch.Pos, "operator '%s' is not supported for %s field '%s'", ch.Op, left.typ, left.name)
	}
	lit, err := literal(ch)
	if err != nil {
		return nil, err
	}
	n, err := parseNum(left.typ, lit, left.name)
	if err != nil {
		return nil, err
	}
	if left.typ == event.FieldUint || left.typ == event.FieldPort {
		return orderTest(ch.Op, uint64(n)), nil
	}
	return orderTest(ch.Op, n), nil
}

// orderTest compares a number with a literal in T's order: int64 for
// signed fields, uint64 for unsigned ones (whose values are stored as
// int64 bits). op is an equality or ordering operator.
//
//go:noinline
func orderTest[T int64 | uint64](op string, lit T) test {
	return func(src *fieldSrc) pred {
		switch op {
		case "!=":
			return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && T(sl.n) != lit }
		case "<":
			return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && T(sl.n) < lit }
		case "<=":
			return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && T(sl.n) <= lit }
		case ">":
			return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && T(sl.n) > lit }
		case ">=":
			return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && T(sl.n) >= lit }
		}
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && T(sl.n) == lit }
	}
}

// ipMatcher is an address or a network literal.
type ipMatcher struct {
	addr netip.Addr
	net  netip.Prefix
}

func (m ipMatcher) match(v netip.Addr) bool {
	if m.net.IsValid() {
		return m.net.Contains(v.Unmap())
	}
	return m.addr == v.Unmap()
}

func parseIP(lit *ast.Value, field string) (ipMatcher, error) {
	if strings.Contains(lit.Text, "/") {
		p, err := netip.ParsePrefix(lit.Text)
		if err != nil {
			return ipMatcher{}, errAt(lit.Pos, "field '%s' compares with addresses or networks: '%s' is neither", field, lit.Text)
		}
		return ipMatcher{net: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(lit.Text)
	if err != nil {
		return ipMatcher{}, errAt(lit.Pos, "field '%s' compares with addresses or networks: '%s' is neither", field, lit.Text)
	}
	return ipMatcher{addr: a.Unmap()}, nil
}

// ipTest compiles the operator of a check of an address operand.
func (cc *compiler) ipTest(ch *ast.Check, left *operand) (test, error) {
	right, err := cc.rightField(ch, left)
	if err != nil {
		return nil, err
	}
	if right != nil {
		var equal bool
		switch ch.Op {
		case "=", "==", "in", "intersects":
			equal = true
		case "!=":
		default:
			return nil, errAt(ch.Pos, "operator '%s' is not supported for %s field '%s'", ch.Op, left.typ, left.name)
		}
		return fieldTest(right.srcs[0], (*evalCtx).slotIP, func(v, r *slot) bool { return (r.ip.Unmap() == v.ip.Unmap()) == equal }), nil
	}
	switch ch.Op {
	case "in", "intersects":
		var ms []ipMatcher
		for _, v := range values(ch) {
			m, err := parseIP(v, left.name)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		return ipMatch(func(v netip.Addr) bool {
			for _, m := range ms {
				if m.match(v) {
					return true
				}
			}
			return false
		}), nil
	case "=", "==", "!=":
		lit, err := literal(ch)
		if err != nil {
			return nil, err
		}
		m, err := parseIP(lit, left.name)
		if err != nil {
			return nil, err
		}
		if ch.Op == "!=" {
			return ipMatch(func(v netip.Addr) bool { return !m.match(v) }), nil
		}
		return ipMatch(m.match), nil
	}
	return nil, errAt(ch.Pos, "operator '%s' is not supported for %s field '%s'", ch.Op, left.typ, left.name)
}
