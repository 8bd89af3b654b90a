package rules

import (
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// Passes over condition trees, each with one job: expand lists, replace
// macros by their conditions, and turn exceptions into conditions. Trees
// are not modified; rewritten nodes are new.

type resolveState uint8

const (
	unresolved resolveState = iota
	resolving
	resolved
)

// Bounds on expansion, so a hostile rules file (lists of lists doubling at
// each level, macros using macros twice) cannot make loading explode.
const (
	maxListItems = 1 << 20
	maxTreeNodes = 1 << 20
)

// expandedList returns the items of a list with the items that name other
// lists replaced by their items, computed once per list. Falco expands
// lists defined before the referring list's last change; condition texts
// then substitute every list name, so any list reached that way expands
// too. A list reached again while being expanded stays a plain item.
func (l *loader) expandedList(li *listInfo) ([]string, error) {
	switch li.state {
	case resolved:
		return li.expanded, li.err
	case resolving:
		return nil, nil
	}
	li.state = resolving
	var out []string
	for _, it := range li.items {
		ref := l.col.lists.get(it)
		if ref == nil || ref == li || ref.state == resolving {
			out = append(out, it)
			continue
		}
		ref.used = true
		items, err := l.expandedList(ref)
		if err != nil {
			li.state, li.err = resolved, err
			return nil, err
		}
		out = append(out, items...)
		if len(out) > maxListItems {
			li.state, li.err = resolved, li.at.errorf(ErrValidate, "List '%s' has more than %d items once expanded", li.name, maxListItems)
			return nil, li.err
		}
	}
	li.state, li.expanded = resolved, out
	return out, nil
}

// listValue turns a list item into a value: items written in quotes are
// unquoted as the condition parser would read them.
func listValue(text string, pos ast.Pos) *ast.Value {
	if len(text) >= 2 && (text[0] == '"' || text[0] == '\'') && text[len(text)-1] == text[0] {
		if e, err := ast.ParseConfig("x.x = "+text, ast.Config{}); err == nil {
			if ch, ok := e.(*ast.Check); ok {
				if v, ok := ch.Right.(*ast.Value); ok {
					return &ast.Value{Pos: pos, Text: v.Text, Quoted: true}
				}
			}
		}
	}
	return &ast.Value{Pos: pos, Text: text}
}

// expandValues replaces the bare values naming lists by the lists' items.
func (l *loader) expandValues(items []*ast.Value) ([]*ast.Value, bool, error) {
	var out []*ast.Value
	changed := false
	for _, v := range items {
		if !v.Quoted {
			if li := l.col.lists.get(v.Text); li != nil {
				li.used = true
				expanded, err := l.expandedList(li)
				if err != nil {
					return nil, false, err
				}
				if len(out)+len(expanded) > maxListItems {
					return nil, false, errAt(v.Pos, "list '%s' is too large once expanded", v.Text)
				}
				for _, it := range expanded {
					out = append(out, listValue(it, v.Pos))
				}
				changed = true
				continue
			}
		}
		out = append(out, v)
	}
	if !changed {
		return items, false, nil
	}
	return out, true, nil
}

// resolve expands lists and replaces macros in e. Only macros defined
// before visibility are visible (0: all), which is how Falco orders
// macros that use macros.
func (l *loader) resolve(e ast.Expr, visibility int) (ast.Expr, error) {
	switch x := e.(type) {
	case *ast.And:
		cs, changed, err := l.resolveAll(x.Children, visibility)
		if err != nil || !changed {
			return e, err
		}
		return &ast.And{Pos: x.Pos, Children: cs}, nil
	case *ast.Or:
		cs, changed, err := l.resolveAll(x.Children, visibility)
		if err != nil || !changed {
			return e, err
		}
		return &ast.Or{Pos: x.Pos, Children: cs}, nil
	case *ast.Not:
		c, err := l.resolve(x.Child, visibility)
		if err != nil || c == x.Child {
			return e, err
		}
		return &ast.Not{Pos: x.Pos, Child: c}, nil
	case *ast.Macro:
		m := l.col.macros.get(x.Name)
		if m == nil || visibility > 0 && m.index >= visibility {
			return nil, errAt(x.Pos, "Undefined macro '%s' used in filter.", x.Name)
		}
		m.used = true
		return l.macroTree(m)
	case *ast.Check:
		if !ast.IsListOperator(x.Op) {
			return e, nil
		}
		switch r := x.Right.(type) {
		case *ast.List:
			items, changed, err := l.expandValues(r.Items)
			if err != nil || !changed {
				return e, err
			}
			return &ast.Check{Pos: x.Pos, Left: x.Left, Op: x.Op, Right: &ast.List{Pos: r.Pos, Items: items}}, nil
		case *ast.Value:
			// A list name after a list operator, or a single value.
			items, _, err := l.expandValues([]*ast.Value{r})
			if err != nil {
				return nil, err
			}
			return &ast.Check{Pos: x.Pos, Left: x.Left, Op: x.Op, Right: &ast.List{Pos: r.Pos, Items: items}}, nil
		}
	}
	return e, nil
}

func (l *loader) resolveAll(es []ast.Expr, visibility int) ([]ast.Expr, bool, error) {
	out := make([]ast.Expr, len(es))
	changed := false
	for i, c := range es {
		r, err := l.resolve(c, visibility)
		if err != nil {
			return nil, false, err
		}
		out[i] = r
		changed = changed || r != c
	}
	return out, changed, nil
}

// macroTree returns the resolved condition of m, resolving it once.
func (l *loader) macroTree(m *macroInfo) (ast.Expr, error) {
	switch m.state {
	case resolved:
		return m.resolved, m.err
	case resolving:
		return nil, m.at.errorf(ErrValidate, "Macro '%s' refers to itself", m.name)
	}
	m.state = resolving
	tree, err := l.parseSource(m.cond)
	if err == nil {
		tree, err = l.resolve(tree, m.visibility)
	}
	if err != nil {
		err = l.contextualize(m.at, ErrCompileCondition, err)
	}
	m.state, m.resolved, m.err = resolved, tree, err
	return tree, err
}

// parseSource parses a condition text registered as a source.
func (l *loader) parseSource(src *textSource) (ast.Expr, error) {
	id := l.addSource(src)
	return ast.ParseConfig(src.text, ast.Config{Src: id})
}

// exceptionsTree builds the condition under which a rule's exceptions
// suppress it, as Falco compiles them: for one field, `field comp (v1,
// v2, ...)`; for a list of fields, one conjunction of `field_k comp_k
// value_k` per value row, or-ed together.
func (l *loader) exceptionsTree(r *ruleInfo) ([]ast.Expr, error) {
	var out []ast.Expr
	for _, ex := range r.exceptions {
		e, err := l.exceptionTree(ex)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, &ast.Not{Pos: e.Position(), Child: e})
		}
	}
	return out, nil
}

func (l *loader) exceptionTree(ex *exceptionInfo) (ast.Expr, error) {
	if !ex.fields.isList {
		if len(ex.values) == 0 {
			return nil, nil
		}
		left, err := l.exceptionField(ex.fields)
		if err != nil {
			return nil, err
		}
		list := &ast.List{Pos: l.entryPos(ex.values[0])}
		for _, v := range ex.values {
			if v.isList {
				return nil, ex.at.errorf(ErrValidate, "Expected values array to contain a list of strings")
			}
			list.Items = append(list.Items, listValue(v.item, l.entryPos(v)))
		}
		return &ast.Check{Pos: left.Position(), Left: left, Op: ex.comps.item, Right: list}, nil
	}
	var rows []ast.Expr
	for _, row := range ex.values {
		if len(row.items) != len(ex.fields.items) {
			return nil, ex.at.errorf(ErrValidate, "Fields and values lists must have equal length")
		}
		var checks []ast.Expr
		for k, f := range ex.fields.items {
			left, err := l.exceptionField(f)
			if err != nil {
				return nil, err
			}
			op := ex.comps.items[k].item
			right, err := l.exceptionValue(row.items[k], op)
			if err != nil {
				return nil, err
			}
			checks = append(checks, &ast.Check{Pos: left.Position(), Left: left, Op: op, Right: right})
		}
		if len(checks) == 1 {
			rows = append(rows, checks[0])
		} else {
			rows = append(rows, &ast.And{Pos: checks[0].Position(), Children: checks})
		}
	}
	switch len(rows) {
	case 0:
		return nil, nil
	case 1:
		return rows[0], nil
	}
	return &ast.Or{Pos: rows[0].Position(), Children: rows}, nil
}

// exceptionField parses an exception's field name (which may carry an
// argument or a transformer).
func (l *loader) exceptionField(e entry) (ast.Operand, error) {
	p := l.entryPos(e)
	return ast.ParseOperand(e.item, ast.Config{Src: p.Src})
}

// exceptionValue builds the right side of an exception check.
func (l *loader) exceptionValue(e entry, op string) (ast.Operand, error) {
	p := l.entryPos(e)
	if e.isList {
		list := &ast.List{Pos: p}
		for _, it := range e.items {
			if it.isList {
				return nil, errAt(p, "exception values must be strings or lists of strings")
			}
			list.Items = append(list.Items, listValue(it.item, l.entryPos(it)))
		}
		return list, nil
	}
	if !ast.IsListOperator(op) {
		return listValue(e.item, p), nil
	}
	if len(e.item) > 0 && e.item[0] == '(' {
		// A list written as text, as Falco allows: "(a, b)".
		tree, err := ast.ParseConfig("x.x in "+e.item, ast.Config{Src: p.Src})
		if err != nil {
			return nil, errAt(p, "invalid list value '%s'", e.item)
		}
		if ch, ok := tree.(*ast.Check); ok {
			if list, ok := ch.Right.(*ast.List); ok {
				for _, it := range list.Items {
					it.Pos = p
				}
				list.Pos = p
				return list, nil
			}
		}
		return nil, errAt(p, "invalid list value '%s'", e.item)
	}
	return &ast.List{Pos: p, Items: []*ast.Value{listValue(e.item, p)}}, nil
}

// unknownFields lists the fields of a resolved tree that vigil does not
// provide, with the position of the first use of each.
func unknownFields(e ast.Expr) (names []string, first ast.Pos) {
	var visitOperand func(o ast.Operand)
	visitOperand = func(o ast.Operand) {
		switch x := o.(type) {
		case *ast.Field:
			if _, ok := event.LookupField(x.Name); !ok {
				if len(names) == 0 {
					first = x.Pos
				}
				names = appendNew(names, x.Name)
			}
		case *ast.Transform:
			visitOperand(x.Arg)
		}
	}
	ast.Inspect(e, func(e ast.Expr) bool {
		if ch, ok := e.(*ast.Check); ok {
			visitOperand(ch.Left)
			if ch.Right != nil {
				visitOperand(ch.Right)
			}
		}
		return true
	})
	return names, first
}

// treeSize counts the nodes of a tree as compilation will walk it (shared
// subtrees count each time), stopping past limit.
func treeSize(e ast.Expr, limit int) int {
	n := 0
	ast.Inspect(e, func(e ast.Expr) bool {
		if n > limit {
			return false
		}
		n++
		if ch, ok := e.(*ast.Check); ok {
			if l, ok := ch.Right.(*ast.List); ok {
				n += len(l.Items)
			}
		}
		return true
	})
	return n
}
