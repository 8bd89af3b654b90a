package rules

import (
	"cmp"
	"encoding/hex"
	"net/netip"
	"regexp"
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
	switch left.typ {
	case event.FieldString:
		t, err := cc.strTest(ch, left)
		if err != nil {
			return nil, false, err
		}
		if p := fastStrPred(ch, left); p != nil {
			return p, ch.Op == "=" || ch.Op == "==" || ch.Op == "!=", nil
		}
		return strPred(left, t, allValues(ch, left)), false, nil
	case event.FieldIP, event.FieldIPNet:
		t, err := cc.ipTest(ch, left)
		if err != nil {
			return nil, false, err
		}
		return ipPred(left, t, allValues(ch, left)), false, nil
	}
	t, err := cc.numTest(ch, left)
	if err != nil {
		return nil, false, err
	}
	if p := fastNumPred(ch, left); p != nil {
		return p, true, nil
	}
	return numPred(left, t, allValues(ch, left)), false, nil
}

// fastStrPred compiles the common string checks of a plain field against
// literals into one closure each; nil when the check is not one of them.
// The literals were validated by strTest.
func fastStrPred(ch *ast.Check, left *operand) pred {
	src := left.src
	if src == nil || src.str == nil {
		return nil
	}
	if _, isField := ch.Right.(*ast.Transform); isField {
		return nil
	}
	if ast.IsListOperator(ch.Op) {
		var vals []string
		for _, v := range values(ch) {
			vals = append(vals, v.Text)
		}
		switch ch.Op {
		case "in", "intersects":
			set := newStrSet(vals)
			if len(set.small) == 1 {
				lit := set.small[0]
				return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && sl.s == lit }
			}
			return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && set.has(sl.s) }
		case "pmatch":
			t := newPathTrie(vals)
			return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && t.match(sl.s) }
		}
		return nil
	}
	v, ok := ch.Right.(*ast.Value)
	if !ok {
		return nil
	}
	lit := v.Text
	switch ch.Op {
	case "=", "==":
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && sl.s == lit }
	case "!=":
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && sl.s != lit }
	case "startswith":
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && strings.HasPrefix(sl.s, lit) }
	case "endswith":
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && strings.HasSuffix(sl.s, lit) }
	case "contains":
		return func(c *evalCtx) bool { sl := c.slotStr(src); return sl.ok && strings.Contains(sl.s, lit) }
	}
	return nil
}

// fastNumPred is fastStrPred for signed numeric fields compared with a
// literal.
func fastNumPred(ch *ast.Check, left *operand) pred {
	src := left.src
	if src == nil || src.num == nil || left.typ == event.FieldUint || left.typ == event.FieldPort {
		return nil
	}
	v, ok := ch.Right.(*ast.Value)
	if !ok {
		return nil
	}
	n, err := parseNum(left.typ, v, left.name)
	if err != nil {
		return nil
	}
	switch ch.Op {
	case "=", "==":
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && sl.n == n }
	case "!=":
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && sl.n != n }
	case "<":
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && sl.n < n }
	case "<=":
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && sl.n <= n }
	case ">":
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && sl.n > n }
	case ">=":
		return func(c *evalCtx) bool { sl := c.slotNum(src); return sl.ok && sl.n >= n }
	}
	return nil
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
		mask = allTypes &^ mask
	}
	return func(c *evalCtx) bool { return mask.has(c.e.Type) }, true
}

func existsPred(o *operand) pred {
	if o.multi != nil {
		vals, count := o.vals, o.count
		return func(c *evalCtx) bool {
			n := count(c)
			for i := 0; i < n; i++ {
				if present(vals[i], c) {
					return true
				}
			}
			return false
		}
	}
	g := o.getter
	return func(c *evalCtx) bool { return present(g, c) }
}

func present(g getter, c *evalCtx) bool {
	switch {
	case g.str != nil:
		_, ok := g.str(c)
		return ok
	case g.num != nil:
		_, ok := g.num(c)
		return ok
	}
	_, ok := g.ip(c)
	return ok
}

// allValues says whether a check of a field with several values must hold
// for every value rather than for any: "!=" on an event.Multi with
// NotEqualAll (fd.ip != x: neither end is x).
func allValues(ch *ast.Check, o *operand) bool {
	return o.multi != nil && o.multi.NotEqualAll && ch.Op == "!="
}

// multiPred tests the values of a field with several values: true when t
// holds for any present value or, with all, when at least one value is
// present and t holds for every present value.
func multiPred[T any](o *operand, read func(g *getter, c *evalCtx) (T, bool), t func(c *evalCtx, v T) bool, all bool) pred {
	vals, count := o.vals, o.count
	if all {
		return func(c *evalCtx) bool {
			n, seen := count(c), false
			for i := 0; i < n; i++ {
				if v, ok := read(&vals[i], c); ok {
					if !t(c, v) {
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
			if v, ok := read(&vals[i], c); ok && t(c, v) {
				return true
			}
		}
		return false
	}
}

func readStr(g *getter, c *evalCtx) (string, bool)    { return g.str(c) }
func readNum(g *getter, c *evalCtx) (int64, bool)     { return g.num(c) }
func readIP(g *getter, c *evalCtx) (netip.Addr, bool) { return g.ip(c) }

func strPred(o *operand, t func(c *evalCtx, v string) bool, all bool) pred {
	if o.multi != nil {
		return multiPred(o, readStr, t, all)
	}
	get := o.str
	return func(c *evalCtx) bool {
		v, ok := get(c)
		return ok && t(c, v)
	}
}

func numPred(o *operand, t func(c *evalCtx, v int64) bool, all bool) pred {
	if o.multi != nil {
		return multiPred(o, readNum, t, all)
	}
	get := o.num
	return func(c *evalCtx) bool {
		v, ok := get(c)
		return ok && t(c, v)
	}
}

func ipPred(o *operand, t func(c *evalCtx, v netip.Addr) bool, all bool) pred {
	if o.multi != nil {
		return multiPred(o, readIP, t, all)
	}
	get := o.ip
	return func(c *evalCtx) bool {
		v, ok := get(c)
		return ok && t(c, v)
	}
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

func (cc *compiler) strTest(ch *ast.Check, left *operand) (func(c *evalCtx, v string) bool, error) {
	r, err := cc.rightField(ch, left)
	if err != nil {
		return nil, err
	}
	if r != nil {
		return strFieldTest(ch, r.str)
	}
	if ast.IsListOperator(ch.Op) {
		var vals []string
		for _, v := range values(ch) {
			vals = append(vals, v.Text)
		}
		switch ch.Op {
		case "in", "intersects":
			set := newStrSet(vals)
			return func(_ *evalCtx, v string) bool { return set.has(v) }, nil
		case "pmatch":
			t := newPathTrie(vals)
			return func(_ *evalCtx, v string) bool { return t.match(v) }, nil
		}
	}
	lit, err := literal(ch)
	if err != nil {
		return nil, err
	}
	s := lit.Text
	switch ch.Op {
	case "=", "==":
		return func(_ *evalCtx, v string) bool { return v == s }, nil
	case "!=":
		return func(_ *evalCtx, v string) bool { return v != s }, nil
	case "contains":
		return func(_ *evalCtx, v string) bool { return strings.Contains(v, s) }, nil
	case "icontains":
		lower := strings.ToLower(s)
		return func(_ *evalCtx, v string) bool { return containsFold(v, lower) }, nil
	case "startswith":
		return func(_ *evalCtx, v string) bool { return strings.HasPrefix(v, s) }, nil
	case "endswith":
		return func(_ *evalCtx, v string) bool { return strings.HasSuffix(v, s) }, nil
	case "bcontains", "bstartswith":
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, errAt(lit.Pos, "operator '%s' needs hex bytes, not '%s'", ch.Op, s)
		}
		sub := string(b)
		if ch.Op == "bcontains" {
			return func(_ *evalCtx, v string) bool { return strings.Contains(v, sub) }, nil
		}
		return func(_ *evalCtx, v string) bool { return strings.HasPrefix(v, sub) }, nil
	case "glob":
		return func(_ *evalCtx, v string) bool { return globMatch(s, v, false) }, nil
	case "iglob":
		return func(_ *evalCtx, v string) bool { return globMatch(s, v, true) }, nil
	case "regex":
		re, err := regexp.Compile(`^(?:` + s + `)$`)
		if err != nil {
			return nil, errAt(lit.Pos, "invalid regular expression '%s': %v", s, err)
		}
		return func(_ *evalCtx, v string) bool { return re.MatchString(v) }, nil
	case "<":
		return func(_ *evalCtx, v string) bool { return v < s }, nil
	case "<=":
		return func(_ *evalCtx, v string) bool { return v <= s }, nil
	case ">":
		return func(_ *evalCtx, v string) bool { return v > s }, nil
	case ">=":
		return func(_ *evalCtx, v string) bool { return v >= s }, nil
	}
	return nil, errAt(ch.Pos, "operator '%s' is not supported for string field '%s'", ch.Op, left.name)
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
func strFieldTest(ch *ast.Check, get func(c *evalCtx) (string, bool)) (func(c *evalCtx, v string) bool, error) {
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
	return func(c *evalCtx, v string) bool {
		r, ok := get(c)
		return ok && cmp(v, r)
	}, nil
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

func (cc *compiler) numTest(ch *ast.Check, left *operand) (func(c *evalCtx, v int64) bool, error) {
	r, err := cc.rightField(ch, left)
	if err != nil {
		return nil, err
	}
	if r != nil {
		cmp := orderedCmp[int64](ch.Op)
		if cmp == nil {
			return nil, errAt(ch.Pos, "operator '%s' is not supported for %s field '%s'", ch.Op, left.typ, left.name)
		}
		get := r.num
		return func(c *evalCtx, v int64) bool {
			rv, ok := get(c)
			return ok && cmp(v, rv)
		}, nil
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
		return func(_ *evalCtx, v int64) bool {
			for _, x := range set {
				if x == v {
					return true
				}
			}
			return false
		}, nil
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
	unsigned := left.typ == event.FieldUint || left.typ == event.FieldPort
	switch ch.Op {
	case "=", "==":
		return func(_ *evalCtx, v int64) bool { return v == n }, nil
	case "!=":
		return func(_ *evalCtx, v int64) bool { return v != n }, nil
	case "<":
		if unsigned {
			return func(_ *evalCtx, v int64) bool { return uint64(v) < uint64(n) }, nil
		}
		return func(_ *evalCtx, v int64) bool { return v < n }, nil
	case "<=":
		if unsigned {
			return func(_ *evalCtx, v int64) bool { return uint64(v) <= uint64(n) }, nil
		}
		return func(_ *evalCtx, v int64) bool { return v <= n }, nil
	case ">":
		if unsigned {
			return func(_ *evalCtx, v int64) bool { return uint64(v) > uint64(n) }, nil
		}
		return func(_ *evalCtx, v int64) bool { return v > n }, nil
	}
	if unsigned {
		return func(_ *evalCtx, v int64) bool { return uint64(v) >= uint64(n) }, nil
	}
	return func(_ *evalCtx, v int64) bool { return v >= n }, nil
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

func (cc *compiler) ipTest(ch *ast.Check, left *operand) (func(c *evalCtx, v netip.Addr) bool, error) {
	r, err := cc.rightField(ch, left)
	if err != nil {
		return nil, err
	}
	if r != nil {
		get := r.ip
		switch ch.Op {
		case "=", "==", "in", "intersects":
			return func(c *evalCtx, v netip.Addr) bool {
				rv, ok := get(c)
				return ok && rv.Unmap() == v.Unmap()
			}, nil
		case "!=":
			return func(c *evalCtx, v netip.Addr) bool {
				rv, ok := get(c)
				return ok && rv.Unmap() != v.Unmap()
			}, nil
		}
		return nil, errAt(ch.Pos, "operator '%s' is not supported for %s field '%s'", ch.Op, left.typ, left.name)
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
		return func(_ *evalCtx, v netip.Addr) bool {
			for _, m := range ms {
				if m.match(v) {
					return true
				}
			}
			return false
		}, nil
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
			return func(_ *evalCtx, v netip.Addr) bool { return !m.match(v) }, nil
		}
		return func(_ *evalCtx, v netip.Addr) bool { return m.match(v) }, nil
	}
	return nil, errAt(ch.Pos, "operator '%s' is not supported for %s field '%s'", ch.Op, left.typ, left.name)
}
