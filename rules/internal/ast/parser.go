package ast

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxDepth bounds the parser's recursion when Config.MaxDepth is 0.
// Each level of parentheses costs five, so it allows 200 nested levels.
const DefaultMaxDepth = 1000

// Config tunes Parse.
type Config struct {
	// Src is stamped into every Pos of the tree, so that trees parsed from
	// several texts can still be located.
	Src int
	// MaxDepth bounds recursion (DefaultMaxDepth when 0).
	MaxDepth int
}

// Error is a syntax error at a position of the condition text.
type Error struct {
	Pos Pos
	// Line and Col are 1-based, within the condition text.
	Line, Col int
	Msg       string
}

// Error renders the error as "line:col: message".
func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// Parse parses a condition with the default Config.
func Parse(text string) (Expr, error) { return ParseConfig(text, Config{}) }

// ParseConfig parses a condition in Falco's filter language into a tree.
//
// The grammar (EBNF; blanks are ' ', \t, \b, \r, \n, \v, \f and may appear
// between any two tokens) follows libsinsp's filter parser:
//
//	Expr       ::= OrExpr
//	OrExpr     ::= AndExpr ( 'or' ( Blank AndExpr | '(' Expr ')' ) )*
//	AndExpr    ::= NotExpr ( 'and' ( Blank NotExpr | '(' Expr ')' ) )*
//	NotExpr    ::= ( 'not' Blank )* ( 'not(' Expr ')' | Check )
//	Check      ::= '(' Expr ')'
//	             | ( Field | Transformer ) Condition
//	             | Identifier                              (a macro)
//	Condition  ::= 'exists'
//	             | NumOp ( Transformed | HexNumber | Number )
//	             | StrOp ( Transformed | QuotedStr | BareStr )
//	             | ListOp ( ListValue | Transformed | Identifier )
//	ListValue  ::= '(' ( StrValue ( ',' StrValue )* )? ')'
//	StrValue   ::= QuotedStr | BareStr
//	Field      ::= FieldName ( '[' ( QuotedStr | FieldArgBare ) ']' )?
//	Transformer ::= TransformerName '(' ( Transformer | Field ) ')'
//	Transformed ::= Transformer | 'val(' Field ')'
//
//	NumOp      ::= '<=' | '<' | '>=' | '>'
//	StrOp      ::= '==' | '=' | '!=' | ( 'glob' | 'iglob' | 'contains' | 'icontains'
//	             | 'bcontains' | 'startswith' | 'bstartswith' | 'endswith' | 'regex' ) Blank
//	ListOp     ::= 'intersects' | 'in' | 'pmatch'
//	TransformerName ::= 'tolower' | 'toupper' | 'b64' | 'basename' | 'len'
//
//	Identifier   ::= [a-zA-Z]+[a-zA-Z0-9_]*
//	FieldName    ::= [a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+
//	FieldArgBare ::= [^][\"' blanks]+
//	HexNumber    ::= 0[xX][0-9a-fA-F]+
//	Number       ::= [+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?
//	QuotedStr    ::= "..." | '...'   with escapes \\ \/ \" (in "") \' (in '') \b \f \n \r \t
//	BareStr      ::= [^()\"'=, blanks]+
//
// Operators are matched in the order written (so '<=' before '<' and
// 'intersects' before 'in'), keywords need no blank before them, and a bare
// value runs until a blank, a quote, '(', ')', ',' or '='. That is why
// `proc.name=runc:[0:PARENT]` and `fd.name=/etc/passwd` need no quotes.
//
// Errors are *Error values at the offending token.
func ParseConfig(text string, cfg Config) (Expr, error) {
	p := &parser{src: text, id: cfg.Src, maxDepth: cfg.MaxDepth}
	if p.maxDepth <= 0 {
		p.maxDepth = DefaultMaxDepth
	}
	e, err := p.parse()
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ParseOperand parses text as a single operand (a field, a transformed field
// or a value), for exception fields and output templates.
func ParseOperand(text string, cfg Config) (Operand, error) {
	p := &parser{src: text, id: cfg.Src, maxDepth: cfg.MaxDepth}
	if p.maxDepth <= 0 {
		p.maxDepth = DefaultMaxDepth
	}
	var op Operand
	err := p.run(func() {
		p.blank()
		start := p.pos
		if name, ok := p.fieldName(); ok {
			op = p.fieldRemainder(name, start)
		} else if name, ok := p.transformerName(); ok {
			op = p.transformerRemainder(name, start)
		} else {
			p.fail("expected a field or a transformer")
		}
		p.blank()
		if p.pos != len(p.src) {
			p.fail("unexpected text after the field")
		}
	})
	return op, err
}

type parser struct {
	src      string
	pos      int
	id       int
	depth    int
	maxDepth int
	last     string
}

// bail carries a syntax error up the recursion to run.
type bail struct{ err *Error }

func (p *parser) run(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bail)
			if !ok {
				panic(r)
			}
			err = b.err
		}
	}()
	fn()
	return nil
}

func (p *parser) parse() (Expr, error) {
	if p.src == "" {
		return nil, p.errorAt(0, "condition is empty")
	}
	var e Expr
	err := p.run(func() {
		e = p.parseOr()
		if p.pos != len(p.src) {
			if p.last == "" {
				p.fail("unexpected token, expecting a check")
			}
			p.fail(fmt.Sprintf("unexpected token after '%s', expecting 'or', 'and'", p.last))
		}
	})
	return e, err
}

// fail aborts parsing with msg at the cursor. At the end of the text the
// error points just after the last token, not after trailing blanks.
func (p *parser) fail(msg string) {
	off := p.pos
	if off >= len(p.src) {
		off = len(p.src)
		for off > 0 && isBlank(p.src[off-1]) {
			off--
		}
	}
	panic(bail{p.errorAt(off, msg+", found "+p.found())})
}

// found describes the text at the cursor for error messages.
func (p *parser) found() string {
	if p.pos >= len(p.src) {
		return "end of condition"
	}
	rest := p.src[p.pos:]
	if i := strings.IndexAny(rest, " \t\r\n"); i > 0 {
		rest = rest[:i]
	}
	if len(rest) > 24 {
		rest = rest[:24] + "..."
	}
	return strconv.Quote(rest)
}

func (p *parser) errorAt(off int, msg string) *Error {
	line, col := LineCol(p.src, off)
	return &Error{Pos: Pos{Src: p.id, Off: off}, Line: line, Col: col, Msg: msg}
}

// LineCol converts a byte offset of text into a 1-based line and column,
// counting '\n' (and a lone '\r') as line breaks.
func LineCol(text string, off int) (line, col int) {
	line, col = 1, 1
	if off > len(text) {
		off = len(text)
	}
	for i := 0; i < off; i++ {
		switch text[i] {
		case '\n':
			line, col = line+1, 1
		case '\r':
			if i+1 < len(text) && text[i+1] == '\n' {
				continue
			}
			line, col = line+1, 1
		default:
			col++
		}
	}
	return line, col
}

func (p *parser) enter() {
	p.depth++
	if p.depth >= p.maxDepth {
		p.fail(fmt.Sprintf("exceeded max depth limit of %d", p.maxDepth))
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) at() Pos { return Pos{Src: p.id, Off: p.pos} }

func (p *parser) parseOr() Expr {
	start, children := p.parseChain("or", p.parseAnd)
	if len(children) == 1 {
		return children[0]
	}
	return &Or{Pos: start, Children: children}
}

func (p *parser) parseAnd() Expr {
	start, children := p.parseChain("and", p.parseNot)
	if len(children) == 1 {
		return children[0]
	}
	return &And{Pos: start, Children: children}
}

// parseChain parses operands joined by the keyword op ("and", "or"). The
// keyword needs a blank after it unless a parenthesis follows.
func (p *parser) parseChain(op string, operand func() Expr) (Pos, []Expr) {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.at()
	children := []Expr{operand()}
	p.blank()
	for p.lit(op) {
		var child Expr
		if !p.blank() {
			if !p.lit("(") {
				p.fail("expected blank or '(' after '" + op + "'")
			}
			child = p.parseEmbedded()
		} else {
			child = operand()
		}
		children = append(children, child)
		p.blank()
	}
	return start, children
}

func (p *parser) parseNot() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.at()
	negate := false
	for p.notBlank() {
		negate = !negate
	}
	var child Expr
	if p.lit("not(") {
		negate = !negate
		child = p.parseEmbedded()
	} else {
		child = p.parseCheck()
	}
	if negate {
		return &Not{Pos: start, Child: child}
	}
	return child
}

// parseEmbedded parses the rest of a parenthesized expression after '('.
func (p *parser) parseEmbedded() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	child := p.parseOr()
	p.blank()
	if !p.lit(")") {
		p.fail("expected a ')' token")
	}
	return child
}

func (p *parser) parseCheck() Expr {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.pos
	if p.lit("(") {
		return p.parseEmbedded()
	}
	if name, ok := p.fieldName(); ok {
		left := p.fieldRemainder(name, start)
		return p.parseCondition(left, start)
	}
	if name, ok := p.transformerName(); ok {
		left := p.transformerRemainder(name, start)
		return p.parseCondition(left, start)
	}
	if name, ok := p.identifier(); ok {
		return &Macro{Pos: Pos{Src: p.id, Off: start}, Name: name}
	}
	p.fail("expected a '(' token, a field check, or an identifier")
	return nil
}

func (p *parser) fieldRemainder(name string, start int) *Field {
	p.enter()
	defer p.leave()
	f := &Field{Pos: Pos{Src: p.id, Off: start}, Name: name}
	if p.lit("[") {
		arg, ok := p.quoted()
		if !ok {
			arg, ok = p.fieldArgBare()
		}
		if !ok {
			p.fail("expected a valid field argument: a quoted string or a bare string")
		}
		if !p.lit("]") {
			p.fail("expected a ']' token")
		}
		f.Arg, f.HasArg = arg, true
	}
	return f
}

// transformerRemainder parses the argument of a transformer after "name(".
func (p *parser) transformerRemainder(name string, start int) *Transform {
	p.enter()
	defer p.leave()
	p.blank()
	argStart := p.pos
	var arg Operand
	if inner, ok := p.transformerName(); ok {
		arg = p.transformerRemainder(inner, argStart)
	} else if field, ok := p.fieldName(); ok {
		arg = p.fieldRemainder(field, argStart)
	} else {
		p.fail("expected a field or a nested transformer ('tolower', 'toupper', 'b64', 'basename', 'len')")
	}
	p.blank()
	if !p.lit(")") {
		p.fail("expected a ')' token closing the transformer")
	}
	return &Transform{Pos: Pos{Src: p.id, Off: start}, Name: name, Arg: arg}
}

func (p *parser) parseCondition(left Operand, start int) Expr {
	p.enter()
	defer p.leave()
	pos := Pos{Src: p.id, Off: start}
	p.blank()
	if p.lit("exists") {
		return &Check{Pos: pos, Left: left, Op: "exists"}
	}
	op, class := p.operator()
	var right Operand
	switch class {
	case opNum:
		right = p.numValue()
	case opStr:
		right = p.strValue()
	case opList:
		right = p.listValue()
	default:
		p.fail("expected a valid check operator: one of " + operatorList)
	}
	return &Check{Pos: pos, Left: left, Op: op, Right: right}
}

// operator lexes a binary operator in the grammar's order.
func (p *parser) operator() (string, opClass) {
	for _, op := range [...]string{"<=", "<", ">=", ">", "==", "=", "!="} {
		if p.lit(op) {
			return op, classOf(op)
		}
	}
	// Word operators: the longest run of letters, which must be followed
	// by a blank for string operators.
	end := p.pos
	for end < len(p.src) && isLetter(p.src[end]) {
		end++
	}
	word := p.src[p.pos:end]
	if isWordStrOp(word) && end < len(p.src) && isBlank(p.src[end]) {
		p.advance(end)
		p.blank()
		return word, opStr
	}
	for _, op := range [...]string{"intersects", "in", "pmatch"} {
		if p.lit(op) {
			return op, opList
		}
	}
	return "", opNone
}

func (p *parser) numValue() Operand {
	p.enter()
	defer p.leave()
	p.blank()
	if t := p.transformed(); t != nil {
		return t
	}
	start := p.pos
	if s, ok := p.number(); ok {
		return &Value{Pos: Pos{Src: p.id, Off: start}, Text: s}
	}
	p.fail("expected a number value or a field with a valid transformer")
	return nil
}

func (p *parser) strValue() Operand {
	p.enter()
	defer p.leave()
	p.blank()
	if t := p.transformed(); t != nil {
		return t
	}
	if v, ok := p.plainValue(); ok {
		return v
	}
	p.fail("expected a string value or a field with a valid transformer")
	return nil
}

// plainValue lexes a quoted or bare string.
func (p *parser) plainValue() (*Value, bool) {
	start := p.pos
	if s, ok := p.quoted(); ok {
		return &Value{Pos: Pos{Src: p.id, Off: start}, Text: s, Quoted: true}, true
	}
	if s, ok := p.bare(); ok {
		return &Value{Pos: Pos{Src: p.id, Off: start}, Text: s}, true
	}
	return nil, false
}

func (p *parser) listValue() Operand {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.pos
	if p.lit("(") {
		l := &List{Pos: Pos{Src: p.id, Off: start}}
		p.blank()
		if v, ok := p.plainValue(); ok {
			l.Items = append(l.Items, v)
			p.blank()
			for p.lit(",") {
				p.blank()
				v, ok := p.plainValue()
				if !ok {
					p.fail("expected a string value")
				}
				l.Items = append(l.Items, v)
				p.blank()
			}
		}
		if !p.lit(")") {
			p.fail("expected a ')' token")
		}
		return l
	}
	if t := p.transformed(); t != nil {
		return t
	}
	if name, ok := p.identifier(); ok {
		return &Value{Pos: Pos{Src: p.id, Off: start}, Text: name}
	}
	p.fail("expected a list, a list name, or a field with a valid transformer")
	return nil
}

// transformed parses val(field) or a transformer, or returns nil when
// neither starts at the cursor.
func (p *parser) transformed() Operand {
	p.enter()
	defer p.leave()
	start := p.pos
	if p.lit("val(") {
		p.blank()
		fstart := p.pos
		name, ok := p.fieldName()
		if !ok {
			p.fail("expected a field within 'val' transformer")
		}
		f := p.fieldRemainder(name, fstart)
		p.blank()
		if !p.lit(")") {
			p.fail("expected a ')' token closing the transformer")
		}
		return &Transform{Pos: Pos{Src: p.id, Off: start}, Name: "val", Arg: f}
	}
	if name, ok := p.transformerName(); ok {
		return p.transformerRemainder(name, start)
	}
	return nil
}

// Lexing helpers. Each returns false without moving when nothing matches.

func (p *parser) advance(to int) {
	p.last = p.src[p.pos:to]
	p.pos = to
}

func (p *parser) lit(s string) bool {
	if strings.HasPrefix(p.src[p.pos:], s) {
		p.advance(p.pos + len(s))
		return true
	}
	return false
}

// blank skips blanks and reports whether there were any; it leaves the
// last token alone so messages name the token before the blanks.
func (p *parser) blank() bool {
	start := p.pos
	for p.pos < len(p.src) && isBlank(p.src[p.pos]) {
		p.pos++
	}
	return p.pos > start
}

// notBlank lexes "not" followed by at least one blank.
func (p *parser) notBlank() bool {
	if !strings.HasPrefix(p.src[p.pos:], "not") {
		return false
	}
	end := p.pos + 3
	if end >= len(p.src) || !isBlank(p.src[end]) {
		return false
	}
	for end < len(p.src) && isBlank(p.src[end]) {
		end++
	}
	p.advance(end)
	return true
}

// identEnd returns the end of an identifier starting at i, or i if none.
func (p *parser) identEnd(i int) int {
	if i >= len(p.src) || !isLetter(p.src[i]) {
		return i
	}
	for i < len(p.src) && isLetter(p.src[i]) {
		i++
	}
	for i < len(p.src) && (isLetter(p.src[i]) || isDigit(p.src[i]) || p.src[i] == '_') {
		i++
	}
	return i
}

func (p *parser) identifier() (string, bool) {
	end := p.identEnd(p.pos)
	if end == p.pos {
		return "", false
	}
	s := p.src[p.pos:end]
	p.advance(end)
	return s, true
}

// fieldName lexes identifiers joined by dots, at least two of them.
func (p *parser) fieldName() (string, bool) {
	end := p.identEnd(p.pos)
	if end == p.pos {
		return "", false
	}
	parts := 1
	for end < len(p.src) && p.src[end] == '.' {
		next := p.identEnd(end + 1)
		if next == end+1 {
			break
		}
		end = next
		parts++
	}
	if parts < 2 {
		return "", false
	}
	s := p.src[p.pos:end]
	p.advance(end)
	return s, true
}

// transformerName lexes "name(" for a known transformer and returns name.
func (p *parser) transformerName() (string, bool) {
	end := p.pos
	for end < len(p.src) && (isLetter(p.src[end]) || isDigit(p.src[end])) {
		end++
	}
	name := p.src[p.pos:end]
	if !isTransformer(name) || end >= len(p.src) || p.src[end] != '(' {
		return "", false
	}
	p.advance(end + 1)
	return name, true
}

func (p *parser) number() (string, bool) {
	s := p.src
	start, i := p.pos, p.pos
	if i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
		i += 2
		for i < len(s) && isHex(s[i]) {
			i++
		}
		p.advance(i)
		return s[start:i], true
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == digits {
		return "", false
	}
	if i < len(s) && s[i] == '.' {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i+2 < len(s) && (s[i] == 'e' || s[i] == 'E') && (s[i+1] == '+' || s[i+1] == '-') && isDigit(s[i+2]) {
		i += 2
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	p.advance(i)
	return s[start:i], true
}

// quoted lexes a single- or double-quoted string and returns its value.
func (p *parser) quoted() (string, bool) {
	if p.pos >= len(p.src) || (p.src[p.pos] != '"' && p.src[p.pos] != '\'') {
		return "", false
	}
	delim := p.src[p.pos]
	var b strings.Builder
	i := p.pos + 1
	for i < len(p.src) {
		c := p.src[i]
		switch {
		case c == delim:
			p.advance(i + 1)
			return b.String(), true
		case c == '\\':
			if i+1 >= len(p.src) {
				i++
				continue
			}
			e := p.src[i+1]
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '/':
				b.WriteByte(e)
			case ' ':
				// Falco reads "\ " as a backslash, for old rules files that
				// escaped spaces by mistake.
				b.WriteByte('\\')
			case '"', '\'':
				if e != delim {
					panic(bail{p.errorAt(i, fmt.Sprintf("invalid \\%c escape in a %c-quoted string", e, delim))})
				}
				b.WriteByte(e)
			default:
				panic(bail{p.errorAt(i, fmt.Sprintf("unsupported string escape sequence: \\%c", e))})
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	panic(bail{p.errorAt(p.pos, "unterminated quoted string")})
}

func (p *parser) bare() (string, bool) { return p.span(isBareChar) }

func (p *parser) fieldArgBare() (string, bool) { return p.span(isFieldArgChar) }

// span consumes the longest run of bytes that in accepts.
func (p *parser) span(in func(byte) bool) (string, bool) {
	end := p.pos
	for end < len(p.src) && in(p.src[end]) {
		end++
	}
	if end == p.pos {
		return "", false
	}
	s := p.src[p.pos:end]
	p.advance(end)
	return s, true
}

func isBlank(c byte) bool {
	switch c {
	case ' ', '\t', '\b', '\r', '\n', '\v', '\f':
		return true
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isBareChar(c byte) bool {
	switch c {
	case '(', ')', '"', '\'', '=', ',':
		return false
	}
	return !isBlank(c)
}

func isFieldArgChar(c byte) bool {
	switch c {
	case '[', ']', '"', '\'':
		return false
	}
	return !isBlank(c)
}
