package ast

// Pos locates a node in the text it was parsed from: Src is the source id
// the caller gave the parser, Off the byte offset in that text. Positions
// take no part in equality.
type Pos struct {
	Src int
	Off int
}

// Expr is a boolean node of a condition: *And, *Or, *Not, *Macro or *Check.
type Expr interface {
	// Position is where the node starts.
	Position() Pos
	// String is the canonical text of the node; parsing it yields an equal
	// tree.
	String() string
	appendTo(b []byte) []byte
	isExpr()
}

// Operand is a side of a check: *Field, *Transform, *Value or *List.
type Operand interface {
	// Position is where the operand starts.
	Position() Pos
	// String is the canonical text of the operand.
	String() string
	appendTo(b []byte) []byte
	isOperand()
}

// And holds when every child holds. It has at least two children.
type And struct {
	Pos      Pos
	Children []Expr
}

// Or holds when any child holds. It has at least two children.
type Or struct {
	Pos      Pos
	Children []Expr
}

// Not negates its child.
type Not struct {
	Pos   Pos
	Child Expr
}

// Macro is a bare identifier in a boolean position: a reference to a macro,
// replaced by its condition before compilation.
type Macro struct {
	Pos  Pos
	Name string
}

// Check compares a field (possibly transformed) with a value, a list or
// another field. Right is nil for the unary operator "exists".
type Check struct {
	Pos   Pos
	Left  Operand
	Op    string
	Right Operand
}

// Field is a field reference such as proc.name, proc.aname[2] or
// container.label[app]. HasArg tells an empty argument from none.
type Field struct {
	Pos    Pos
	Name   string
	Arg    string
	HasArg bool
}

// Transform applies a transformer (tolower, toupper, b64, basename, len) to
// a field or to another transformer. The transformer "val" marks a field on
// the right of a check, compared by value with the left.
type Transform struct {
	Pos  Pos
	Name string
	Arg  Operand
}

// Value is a literal. Quoted is true when it was written in quotes; a bare
// value on the right of a list operator names a list.
type Value struct {
	Pos    Pos
	Text   string
	Quoted bool
}

// List is an inline list of values, as in `proc.name in (bash, sh)`.
type List struct {
	Pos   Pos
	Items []*Value
}

// Inspect calls f for e and then, while f returns true, for the children
// of e in order, depth first. The operands of a check are not visited.
func Inspect(e Expr, f func(Expr) bool) {
	if !f(e) {
		return
	}
	switch x := e.(type) {
	case *And:
		for _, c := range x.Children {
			Inspect(c, f)
		}
	case *Or:
		for _, c := range x.Children {
			Inspect(c, f)
		}
	case *Not:
		Inspect(x.Child, f)
	}
}

// Position returns where the and starts.
func (e *And) Position() Pos { return e.Pos }

// Position returns where the or starts.
func (e *Or) Position() Pos { return e.Pos }

// Position returns where the not starts.
func (e *Not) Position() Pos { return e.Pos }

// Position returns where the macro starts.
func (e *Macro) Position() Pos { return e.Pos }

// Position returns where the check starts.
func (e *Check) Position() Pos { return e.Pos }

// Position returns where the field starts.
func (e *Field) Position() Pos { return e.Pos }

// Position returns where the transform starts.
func (e *Transform) Position() Pos { return e.Pos }

// Position returns where the value starts.
func (e *Value) Position() Pos { return e.Pos }

// Position returns where the list starts.
func (e *List) Position() Pos { return e.Pos }

func (*And) isExpr()   {}
func (*Or) isExpr()    {}
func (*Not) isExpr()   {}
func (*Macro) isExpr() {}
func (*Check) isExpr() {}

func (*Field) isOperand()     {}
func (*Transform) isOperand() {}
func (*Value) isOperand()     {}
func (*List) isOperand()      {}

// String returns the canonical text of the and.
func (e *And) String() string { return string(e.appendTo(nil)) }

// String returns the canonical text of the or.
func (e *Or) String() string { return string(e.appendTo(nil)) }

// String returns the canonical text of the not.
func (e *Not) String() string { return string(e.appendTo(nil)) }

// String returns the canonical text of the macro.
func (e *Macro) String() string { return e.Name }

// String returns the canonical text of the check.
func (e *Check) String() string { return string(e.appendTo(nil)) }

// String returns the canonical text of the field.
func (e *Field) String() string { return string(e.appendTo(nil)) }

// String returns the canonical text of the transform.
func (e *Transform) String() string { return string(e.appendTo(nil)) }

// String returns the canonical text of the value.
func (e *Value) String() string { return string(e.appendTo(nil)) }

// String returns the canonical text of the list.
func (e *List) String() string { return string(e.appendTo(nil)) }

// appendChild writes a child of and/or/not, in parentheses where the
// grammar would otherwise read it differently: an and inside an and (which
// the parser flattens), any or inside an and/or, and a double negation
// (which the parser cancels).
func appendChild(b []byte, c Expr, parens bool) []byte {
	if parens {
		b = append(b, '(')
		b = c.appendTo(b)
		return append(b, ')')
	}
	return c.appendTo(b)
}

func (e *And) appendTo(b []byte) []byte {
	for i, c := range e.Children {
		if i > 0 {
			b = append(b, " and "...)
		}
		_, isAnd := c.(*And)
		_, isOr := c.(*Or)
		b = appendChild(b, c, isAnd || isOr)
	}
	return b
}

func (e *Or) appendTo(b []byte) []byte {
	for i, c := range e.Children {
		if i > 0 {
			b = append(b, " or "...)
		}
		_, isOr := c.(*Or)
		b = appendChild(b, c, isOr)
	}
	return b
}

func (e *Not) appendTo(b []byte) []byte {
	b = append(b, "not "...)
	switch e.Child.(type) {
	case *And, *Or, *Not:
		return appendChild(b, e.Child, true)
	}
	return e.Child.appendTo(b)
}

func (e *Macro) appendTo(b []byte) []byte { return append(b, e.Name...) }

func (e *Check) appendTo(b []byte) []byte {
	b = e.Left.appendTo(b)
	b = append(b, ' ')
	b = append(b, e.Op...)
	if e.Right != nil {
		b = append(b, ' ')
		b = e.Right.appendTo(b)
	}
	return b
}

func (e *Field) appendTo(b []byte) []byte {
	b = append(b, e.Name...)
	if e.HasArg {
		b = append(b, '[')
		if e.Arg != "" && isFieldArgBare(e.Arg) {
			b = append(b, e.Arg...)
		} else {
			b = appendQuoted(b, e.Arg)
		}
		b = append(b, ']')
	}
	return b
}

func (e *Transform) appendTo(b []byte) []byte {
	b = append(b, e.Name...)
	b = append(b, '(')
	b = e.Arg.appendTo(b)
	return append(b, ')')
}

func (e *Value) appendTo(b []byte) []byte {
	if !e.Quoted && e.Text != "" && isBareValue(e.Text) {
		return append(b, e.Text...)
	}
	return appendQuoted(b, e.Text)
}

func (e *List) appendTo(b []byte) []byte {
	b = append(b, '(')
	for i, v := range e.Items {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = v.appendTo(b)
	}
	return append(b, ')')
}

// appendQuoted writes s double-quoted with the escapes the lexer reads.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// isBareValue reports whether s lexes whole as a bare string.
func isBareValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isBareChar(s[i]) {
			return false
		}
	}
	return true
}

// isFieldArgBare reports whether s lexes whole as a bare field argument.
func isFieldArgBare(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isFieldArgChar(s[i]) {
			return false
		}
	}
	return true
}

// Equal reports whether a and b are the same tree, ignoring positions.
func Equal(a, b Expr) bool {
	switch x := a.(type) {
	case *And:
		y, ok := b.(*And)
		return ok && equalExprs(x.Children, y.Children)
	case *Or:
		y, ok := b.(*Or)
		return ok && equalExprs(x.Children, y.Children)
	case *Not:
		y, ok := b.(*Not)
		return ok && Equal(x.Child, y.Child)
	case *Macro:
		y, ok := b.(*Macro)
		return ok && x.Name == y.Name
	case *Check:
		y, ok := b.(*Check)
		return ok && x.Op == y.Op && EqualOperand(x.Left, y.Left) && EqualOperand(x.Right, y.Right)
	}
	return a == nil && b == nil
}

func equalExprs(a, b []Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// EqualOperand reports whether a and b are the same operand, ignoring
// positions.
func EqualOperand(a, b Operand) bool {
	switch x := a.(type) {
	case *Field:
		y, ok := b.(*Field)
		return ok && x.Name == y.Name && x.Arg == y.Arg && x.HasArg == y.HasArg
	case *Transform:
		y, ok := b.(*Transform)
		return ok && x.Name == y.Name && EqualOperand(x.Arg, y.Arg)
	case *Value:
		y, ok := b.(*Value)
		return ok && x.Text == y.Text && x.Quoted == y.Quoted
	case *List:
		y, ok := b.(*List)
		if !ok || len(x.Items) != len(y.Items) {
			return false
		}
		for i := range x.Items {
			if x.Items[i].Text != y.Items[i].Text || x.Items[i].Quoted != y.Items[i].Quoted {
				return false
			}
		}
		return true
	}
	return a == nil && b == nil
}

// opClass sorts the comparison operators by the right operand they take.
type opClass uint8

const (
	opNone  opClass = iota
	opUnary         // exists: no right operand
	opNum           // <, <=, >, >=: a number, or a field through val/transformers
	opStr           // =, ==, !=, and the word operators: a string value or a field
	opList          // in, intersects, pmatch: a list, a list name or a field
)

// classOf returns the class of op, opNone if op is no operator.
func classOf(op string) opClass {
	switch op {
	case "exists":
		return opUnary
	case "<=", "<", ">=", ">":
		return opNum
	case "==", "=", "!=":
		return opStr
	case "intersects", "in", "pmatch":
		return opList
	}
	if isWordStrOp(op) {
		return opStr
	}
	return opNone
}

// isWordStrOp reports whether op is a string operator written as a word;
// the grammar wants a blank after those.
func isWordStrOp(op string) bool {
	switch op {
	case "glob", "iglob", "contains", "icontains", "bcontains",
		"startswith", "bstartswith", "endswith", "regex":
		return true
	}
	return false
}

// isTransformer reports whether name is a transformer that may wrap a field
// on either side of a check.
func isTransformer(name string) bool {
	switch name {
	case "tolower", "toupper", "b64", "basename", "len":
		return true
	}
	return false
}

// IsOperator reports whether op is a comparison operator of the grammar.
func IsOperator(op string) bool { return classOf(op) != opNone }

// IsListOperator reports whether op takes a list on its right.
func IsListOperator(op string) bool { return classOf(op) == opList }

// operatorList names every operator, for messages.
const operatorList = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', " +
	"'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'"
