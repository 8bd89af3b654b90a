package rules

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// pred is a compiled condition.
type pred func(c *evalCtx) bool

// operand is a compiled left or right side of a check: a field or a
// transformed field, read through the per-event cache. It has one source,
// or, for a field with several values (event.Multi) used without an
// argument, one per value, read as srcs[0..count).
type operand struct {
	typ   event.FieldType
	srcs  []*fieldSrc
	multi *event.Multi
	count func(c *evalCtx) int
	name  string
	// plain says the operand is a field with one value, without a
	// transformer.
	plain bool
}

// compileError is an error at a node of the condition.
type compileError struct {
	pos ast.Pos
	msg string
}

func (e *compileError) Error() string { return e.msg }

func errAt(p ast.Pos, format string, args ...any) *compileError {
	return &compileError{pos: p, msg: fmt.Sprintf(format, args...)}
}

// compiler turns resolved condition trees into predicates bound to the
// field table. Its slot table is shared by every rule of a ruleset so a
// field read by several rules is extracted once per event.
type compiler struct {
	slots   map[slotKey]int
	nslots  int
	noCache bool
	// counts holds the slot of each Multi's value count: the proc.a*
	// fields share one, so the ancestors are counted once per event.
	counts map[*event.Multi]int

	// Structurally equal subtrees (one macro used by several rules, the
	// same check or the same macro body written twice, as Falco's
	// open_read and vigil_open_read) get one id: they compile once and,
	// when reached from several places and dearer than a lookup, cache
	// their result per event.
	ids      map[ast.Expr]int
	sigs     map[string]int
	kids     [][]int
	uses     []int
	done     map[int]pred
	nresults int
}

type slotKey struct {
	field string
	arg   event.Arg
}

func newCompiler(noCache bool) *compiler {
	return &compiler{
		slots: map[slotKey]int{}, noCache: noCache, counts: map[*event.Multi]int{},
		ids: map[ast.Expr]int{}, sigs: map[string]int{}, done: map[int]pred{},
	}
}

// intern gives e (and its subtrees) an id shared by every structurally
// equal subtree.
func (cc *compiler) intern(e ast.Expr) int {
	if id, ok := cc.ids[e]; ok {
		return id
	}
	var sig []byte
	var kids []int
	addKids := func(op byte, cs []ast.Expr) {
		sig = append(sig, op)
		for _, c := range cs {
			k := cc.intern(c)
			kids = append(kids, k)
			sig = strconv.AppendInt(append(sig, ','), int64(k), 10)
		}
	}
	switch x := e.(type) {
	case *ast.And:
		addKids('&', x.Children)
	case *ast.Or:
		addKids('|', x.Children)
	case *ast.Not:
		addKids('!', []ast.Expr{x.Child})
	default:
		sig = append([]byte{'c'}, e.String()...)
	}
	id, ok := cc.sigs[string(sig)]
	if !ok {
		id = len(cc.kids)
		cc.sigs[string(sig)] = id
		cc.kids = append(cc.kids, kids)
		cc.uses = append(cc.uses, 0)
	}
	cc.ids[e] = id
	return id
}

// count records the subtrees a rule's condition reaches. A subtree
// reached again is not descended: its parts are reached through it.
func (cc *compiler) count(e ast.Expr) { cc.countID(cc.intern(e)) }

func (cc *compiler) countID(id int) {
	cc.uses[id]++
	if cc.uses[id] > 1 {
		return
	}
	for _, k := range cc.kids[id] {
		cc.countID(k)
	}
}

// memo caches p's result per event in a new result slot.
func (cc *compiler) memo(p pred) pred {
	id := cc.nresults
	cc.nresults++
	return func(c *evalCtx) bool {
		r := &c.results[id]
		if r.gen != c.gen {
			r.v = p(c)
			r.gen = c.gen
		}
		return r.v
	}
}

// bind gives src, the value named name (a field or a transformer of one)
// with src.arg, a slot shared by every use of the same value. With
// noCache every use gets its own slot, so each check extracts the value
// itself (the benchmarks compare both).
func (cc *compiler) bind(name string, src fieldSrc) *fieldSrc {
	k := slotKey{field: name, arg: src.arg}
	id, ok := cc.slots[k]
	if !ok || cc.noCache {
		id = cc.nslots
		cc.slots[k] = id
		cc.nslots++
	}
	src.id = id
	return &src
}

// bindField binds field f with argument a.
func (cc *compiler) bindField(f *event.Field, a event.Arg) *fieldSrc {
	return cc.bind(f.Name, fieldSrc{arg: a, str: f.Str, num: f.Num, ip: f.IP})
}

// bindCount makes the value count of m, cached in a slot shared by every
// field of m.
func (cc *compiler) bindCount(m *event.Multi) func(c *evalCtx) int {
	id, ok := cc.counts[m]
	if !ok || cc.noCache {
		id = cc.nslots
		cc.counts[m] = id
		cc.nslots++
	}
	count, most := m.Count, m.Max
	src := &fieldSrc{id: id, num: func(e *event.Event, _ event.Arg) (int64, bool) { return int64(min(count(e), most)), true }}
	return func(c *evalCtx) int { return int(c.slotNum(src).n) }
}

// lookupField resolves a field reference and its argument.
func lookupField(fr *ast.Field) (*event.Field, event.Arg, error) {
	f, ok := event.LookupField(fr.Name)
	if !ok {
		return nil, event.Arg{}, errAt(fr.Pos, "unknown field '%s'", fr.Name)
	}
	var a event.Arg
	if fr.HasArg {
		a.Set = true
		switch f.Arg {
		case event.ArgNone:
			return nil, a, errAt(fr.Pos, "field '%s' does not take an argument", fr.Name)
		case event.ArgIndex:
			n, err := strconv.Atoi(fr.Arg)
			if err != nil || n < 0 {
				return nil, a, errAt(fr.Pos, "field '%s' needs a non-negative index, not '%s'", fr.Name, fr.Arg)
			}
			a.Index = n
		case event.ArgKey:
			a.Key = fr.Arg
		}
	} else if f.ArgRequired {
		return nil, a, errAt(fr.Pos, "field '%s' requires an argument", fr.Name)
	}
	if f.Str == nil && f.Num == nil && f.IP == nil {
		return nil, a, errAt(fr.Pos, "field '%s' has no extractor", fr.Name)
	}
	return f, a, nil
}

func fieldKey(fr *ast.Field) string {
	if fr.HasArg {
		return fr.Name + "[" + fr.Arg + "]"
	}
	return fr.Name
}

// operand compiles a field or a transformed field.
func (cc *compiler) operand(o ast.Operand) (*operand, error) {
	switch x := o.(type) {
	case *ast.Field:
		f, a, err := lookupField(x)
		if err != nil {
			return nil, err
		}
		op := &operand{typ: f.Type, name: fieldKey(x)}
		if m := f.Multi; m != nil && !x.HasArg {
			op.multi, op.count = m, cc.bindCount(m)
			for i := range m.Max {
				op.srcs = append(op.srcs, cc.bindField(f, event.Arg{Set: true, Index: m.First + i}))
			}
			return op, nil
		}
		op.srcs, op.plain = []*fieldSrc{cc.bindField(f, a)}, true
		return op, nil
	case *ast.Transform:
		if x.Name == "val" {
			return nil, errAt(x.Pos, "'val' may only be used on the right of a comparison")
		}
		inner, err := cc.operand(x.Arg)
		if err != nil {
			return nil, err
		}
		src, typ, err := transform(x, inner)
		if err != nil {
			return nil, err
		}
		name := x.Name + "(" + inner.name + ")"
		return &operand{typ: typ, srcs: []*fieldSrc{cc.bind(name, src)}, name: name}, nil
	}
	return nil, errAt(o.Position(), "expected a field, found %s", o.String())
}

// transform makes the (unbound) source of transformer t applied to inner,
// which must be a string with one value.
func transform(t *ast.Transform, inner *operand) (fieldSrc, event.FieldType, error) {
	var in fieldSrc
	if inner.multi == nil {
		in = *inner.srcs[0]
	}
	get := in.str
	if t.Name == "len" {
		if get == nil {
			return fieldSrc{}, 0, errAt(t.Pos, "transformer 'len' needs a string field")
		}
		return fieldSrc{arg: in.arg, num: func(e *event.Event, a event.Arg) (int64, bool) {
			s, ok := get(e, a)
			return int64(len(s)), ok
		}}, event.FieldUint, nil
	}
	if get == nil {
		return fieldSrc{}, 0, errAt(t.Pos, "transformer '%s' needs a string field", t.Name)
	}
	var fn func(string) (string, bool)
	switch t.Name {
	case "tolower":
		fn = func(s string) (string, bool) { return strings.ToLower(s), true }
	case "toupper":
		fn = func(s string) (string, bool) { return strings.ToUpper(s), true }
	case "basename":
		fn = func(s string) (string, bool) { return s[strings.LastIndexByte(s, '/')+1:], true }
	case "b64":
		fn = func(s string) (string, bool) {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return "", false
			}
			return string(b), true
		}
	default:
		return fieldSrc{}, 0, errAt(t.Pos, "unsupported transformer '%s'", t.Name)
	}
	return fieldSrc{arg: in.arg, str: func(e *event.Event, a event.Arg) (string, bool) {
		s, ok := get(e, a)
		if !ok {
			return "", false
		}
		return fn(s)
	}}, event.FieldString, nil
}

// compile compiles a resolved tree (no macros, lists expanded).
func (cc *compiler) compile(e ast.Expr) (pred, error) {
	id := cc.intern(e)
	if p, ok := cc.done[id]; ok {
		return p, nil
	}
	var p pred
	var err error
	cheap := false
	switch x := e.(type) {
	case *ast.And:
		var ps []pred
		if ps, err = cc.compileAll(x.Children); err == nil {
			p = andPred(ps)
		}
	case *ast.Or:
		var ps []pred
		if ps, err = cc.compileOr(x.Children); err == nil {
			p = orPred(ps)
		}
	case *ast.Not:
		var child pred
		if child, err = cc.compile(x.Child); err == nil {
			p = func(c *evalCtx) bool { return !child(c) }
		}
	case *ast.Check:
		p, cheap, err = cc.check(x)
	case *ast.Macro:
		return nil, errAt(x.Pos, "undefined macro '%s'", x.Name)
	default:
		return nil, errAt(e.Position(), "unexpected node %T", e)
	}
	if err != nil {
		return nil, err
	}
	if cc.uses[id] > 1 && !cheap {
		p = cc.memo(p)
	}
	cc.done[id] = p
	return p, nil
}

func (cc *compiler) compileAll(es []ast.Expr) ([]pred, error) {
	ps := make([]pred, 0, len(es))
	for _, e := range es {
		p, err := cc.compile(e)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func andPred(ps []pred) pred {
	switch len(ps) {
	case 1:
		return ps[0]
	case 2:
		a, b := ps[0], ps[1]
		return func(c *evalCtx) bool { return a(c) && b(c) }
	case 3:
		a, b, d := ps[0], ps[1], ps[2]
		return func(c *evalCtx) bool { return a(c) && b(c) && d(c) }
	}
	return func(c *evalCtx) bool {
		for _, p := range ps {
			if !p(c) {
				return false
			}
		}
		return true
	}
}

func orPred(ps []pred) pred {
	switch len(ps) {
	case 1:
		return ps[0]
	case 2:
		a, b := ps[0], ps[1]
		return func(c *evalCtx) bool { return a(c) || b(c) }
	case 3:
		a, b, d := ps[0], ps[1], ps[2]
		return func(c *evalCtx) bool { return a(c) || b(c) || d(c) }
	}
	return func(c *evalCtx) bool {
		for _, p := range ps {
			if p(c) {
				return true
			}
		}
		return false
	}
}

// memberGroup merges the checks of an "or" that test one plain string
// field against literals (=, in, startswith) into one set lookup and one
// prefix table: `proc.name = a or proc.name in (b, c) or proc.name
// startswith d` reads the field once and does no linear scan.
type memberGroup struct {
	src      *fieldSrc
	equals   []string
	prefixes []string
	at       int
}

// asMember recognizes a check a memberGroup can take.
func (cc *compiler) asMember(e ast.Expr) (key string, eq, prefix []string, ok bool) {
	ch, isCheck := e.(*ast.Check)
	if !isCheck {
		return "", nil, nil, false
	}
	fr, isField := ch.Left.(*ast.Field)
	if !isField || fr.Name == "evt.type" {
		return "", nil, nil, false
	}
	f, _, err := lookupField(fr)
	if err != nil || f.Type != event.FieldString || f.Str == nil || f.Multi != nil && !fr.HasArg {
		return "", nil, nil, false
	}
	switch v := ch.Right.(type) {
	case *ast.Value:
		switch ch.Op {
		case "=", "==":
			return fieldKey(fr), []string{v.Text}, nil, true
		case "startswith":
			return fieldKey(fr), nil, []string{v.Text}, true
		}
	case *ast.List:
		if ch.Op == "in" || ch.Op == "intersects" {
			vals := make([]string, len(v.Items))
			for i, it := range v.Items {
				vals[i] = it.Text
			}
			return fieldKey(fr), vals, nil, true
		}
	}
	return "", nil, nil, false
}

func (cc *compiler) compileOr(children []ast.Expr) ([]pred, error) {
	groups := map[string]*memberGroup{}
	counts := map[string]int{}
	for _, ch := range children {
		if key, _, _, ok := cc.asMember(ch); ok {
			counts[key]++
		}
	}
	var ps []pred
	for _, ch := range children {
		if key, eq, prefix, ok := cc.asMember(ch); ok && counts[key] > 1 {
			g := groups[key]
			if g == nil {
				op, err := cc.operand(ch.(*ast.Check).Left)
				if err != nil {
					return nil, err
				}
				g = &memberGroup{src: op.srcs[0], at: len(ps)}
				groups[key] = g
				ps = append(ps, nil)
			}
			g.equals = append(g.equals, eq...)
			g.prefixes = append(g.prefixes, prefix...)
			continue
		}
		p, err := cc.compile(ch)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	for _, g := range groups {
		src := g.src
		if len(g.prefixes) == 0 {
			ps[g.at] = inTest(g.equals)(src)
			continue
		}
		pt := newPrefixTable(g.prefixes)
		if len(g.equals) == 0 {
			ps[g.at] = func(c *evalCtx) bool {
				sl := c.slotStr(src)
				return sl.ok && pt.match(sl.s)
			}
			continue
		}
		set := newStrSet(g.equals)
		ps[g.at] = func(c *evalCtx) bool {
			sl := c.slotStr(src)
			return sl.ok && (set.has(sl.s) || pt.match(sl.s))
		}
	}
	return ps, nil
}
