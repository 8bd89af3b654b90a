package rules

import (
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/vigil-sensor/vigil/event"
)

// template is a compiled output format: literal text and %field tokens.
type template struct {
	segs []segment
	// fields lists the distinct field tokens in order of first use, for
	// output_fields.
	fields []*segment
}

type segment struct {
	lit string
	// name is the field token as written, e.g. "proc.aname[2]"; empty for
	// literal text.
	name  string
	field *event.Field // nil for fields vigil does not know
	arg   event.Arg
	// width pads or cuts the value to that many bytes, as Falco's %20field.
	width int
}

// outputError is an error at an offset of the output text.
type outputError struct {
	off int
	msg string
}

func (e *outputError) Error() string { return e.msg }

// parseTemplate compiles a Falco output format. Field tokens are
// %name and %name[arg], optionally with a width (%12proc.name). A field
// vigil does not provide renders as <NA> (null in output fields) and is
// returned in unknown.
func parseTemplate(text string) (t *template, unknown []string, err error) {
	t = &template{}
	lit := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '%' {
			continue
		}
		if i > lit {
			t.segs = append(t.segs, segment{lit: text[lit:i]})
		}
		if i == len(text)-1 {
			return nil, nil, &outputError{off: i, msg: "invalid formatting syntax: formatting cannot end with a %"}
		}
		j := i + 1
		width := 0
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			width = width*10 + int(text[j]-'0')
			if width > 1<<16 {
				return nil, nil, &outputError{off: i, msg: "invalid formatting syntax: width too large"}
			}
			j++
		}
		name, end := fieldToken(text, j)
		if name == "" {
			return nil, nil, &outputError{off: i, msg: "invalid formatting token " + strconv.Quote(text[j:min(len(text), j+20)])}
		}
		seg := segment{name: name, width: width}
		base, argText, hasArg := splitArg(name)
		if f, ok := event.LookupField(base); ok {
			seg.field = f
			seg.arg = event.Arg{Set: hasArg}
			if hasArg {
				switch f.Arg {
				case event.ArgIndex:
					n, err := strconv.Atoi(argText)
					if err != nil || n < 0 {
						return nil, nil, &outputError{off: i, msg: "field '" + base + "' needs a non-negative index, not '" + argText + "'"}
					}
					seg.arg.Index = n
				case event.ArgKey:
					seg.arg.Key = argText
				default:
					return nil, nil, &outputError{off: i, msg: "field '" + base + "' does not take an argument"}
				}
			}
		} else {
			unknown = appendNew(unknown, name)
		}
		t.segs = append(t.segs, seg)
		i = end - 1
		lit = end
	}
	if lit < len(text) {
		t.segs = append(t.segs, segment{lit: text[lit:]})
	}
	for i := range t.segs {
		s := &t.segs[i]
		if s.name == "" {
			continue
		}
		dup := false
		for _, f := range t.fields {
			if f.name == s.name {
				dup = true
			}
		}
		if !dup {
			t.fields = append(t.fields, s)
		}
	}
	return t, unknown, nil
}

// fieldToken lexes a field name (identifiers joined by dots) with an
// optional [argument] at text[i:]. A trailing dot, as at the end of a
// sentence, is not part of the name. It prefers the longest name the
// field table knows, so "%proc.name.x" is proc.name followed by ".x".
func fieldToken(text string, i int) (string, int) {
	ident := func(j int) int {
		if j >= len(text) || !isAlpha(text[j]) {
			return j
		}
		for j < len(text) && (isAlpha(text[j]) || text[j] >= '0' && text[j] <= '9' || text[j] == '_') {
			j++
		}
		return j
	}
	end := ident(i)
	if end == i {
		return "", i
	}
	ends := []int{}
	for end < len(text) && text[end] == '.' {
		next := ident(end + 1)
		if next == end+1 {
			break
		}
		end = next
		ends = append(ends, end)
	}
	if len(ends) == 0 {
		return "", i
	}
	// The longest prefix naming a known field, or the whole run.
	chosen := end
	for k := len(ends) - 1; k >= 0; k-- {
		if _, ok := event.LookupField(text[i:ends[k]]); ok {
			chosen = ends[k]
			break
		}
	}
	end = chosen
	if end < len(text) && text[end] == '[' {
		if close := indexByteFrom(text, end+1, ']'); close > end+1 {
			end = close + 1
		}
	}
	return text[i:end], end
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func indexByteFrom(s string, from int, c byte) int {
	for i := from; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// splitArg splits "name[arg]" into its parts.
func splitArg(token string) (name, arg string, ok bool) {
	for i := 0; i < len(token); i++ {
		if token[i] == '[' && token[len(token)-1] == ']' {
			return token[:i], token[i+1 : len(token)-1], true
		}
	}
	return token, "", false
}

// appendText renders the template for e into b.
func (t *template) appendText(b []byte, e *event.Event) []byte {
	for i := range t.segs {
		s := &t.segs[i]
		if s.name == "" {
			b = append(b, s.lit...)
			continue
		}
		start := len(b)
		ok := false
		if s.field != nil {
			b, ok = s.field.AppendText(b, e, s.arg)
			b = escapeControls(b, start)
		}
		if !ok {
			b = append(b, "<NA>"...)
		}
		if s.width > 0 {
			if n := len(b) - start; n > s.width {
				b = b[:start+s.width]
			} else {
				for ; n < s.width; n++ {
					b = append(b, ' ')
				}
			}
		}
	}
	return b
}

// FieldValue is the typed value of an output field, for the JSON
// output_fields of an alert.
type FieldValue struct {
	// Name is the field as the template writes it, e.g. "proc.aname[2]".
	Name string
	// Type is the field's type; 0 for a field vigil does not provide.
	Type event.FieldType
	// OK is false when the event has no value (JSON null).
	OK bool
	// Str holds string values; Num numeric ones (bools as 0 or 1, times
	// in ns); IP address values.
	Str string
	Num int64
	IP  netip.Addr
}

// appendFields appends the typed value of every distinct field token.
func (t *template) appendFields(dst []FieldValue, e *event.Event) []FieldValue {
	for _, s := range t.fields {
		v := FieldValue{Name: s.name}
		if f := s.field; f != nil {
			v.Type = f.Type
			switch {
			case f.Str != nil:
				v.Str, v.OK = f.Str(e, s.arg)
			case f.Num != nil:
				v.Num, v.OK = f.Num(e, s.arg)
			case f.IP != nil:
				v.IP, v.OK = f.IP(e, s.arg)
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// escapeControls rewrites b[from:] so that no character a terminal acts on
// is left in it: C0 controls and DEL as \xNN, C1 controls and the
// bidirectional overrides and isolates as \uNNNN. The output text is meant
// to be read by people, and file names and argv are the caller's choice:
// raw, "\x1b]0;" retitles the reader's terminal and U+202E reverses what
// follows. output_fields keep the exact value. Text with none of them, the
// usual case, is returned as it is, without allocating.
func escapeControls(b []byte, from int) []byte {
	i := from
	for i < len(b) && controlLen(b, i) == 0 {
		i++
	}
	if i == len(b) {
		return b
	}
	// Write the escaped rest after the text, then move it down over it.
	end := len(b)
	for r := i; r < end; {
		n := controlLen(b, r)
		switch {
		case n == 0:
			b = append(b, b[r])
			r++
			continue
		case n == 1:
			b = append(b, '\\', 'x', hexDigit[b[r]>>4], hexDigit[b[r]&15])
		default:
			c, _ := utf8.DecodeRune(b[r : r+n])
			b = append(b, '\\', 'u', hexDigit[c>>12&15], hexDigit[c>>8&15], hexDigit[c>>4&15], hexDigit[c&15])
		}
		r += n
	}
	n := copy(b[i:], b[end:])
	return b[:i+n]
}

const hexDigit = "0123456789abcdef"

// controlLen is the length of the control character at b[i], or 0.
func controlLen(b []byte, i int) int {
	c := b[i]
	switch {
	case c < 0x20 || c == 0x7f:
		return 1
	case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f: // U+0080..U+009F
		return 2
	case c == 0xe2 && i+2 < len(b) && (b[i+1] == 0x80 && b[i+2] >= 0xaa && b[i+2] <= 0xae || // U+202A..U+202E
		b[i+1] == 0x81 && b[i+2] >= 0xa6 && b[i+2] <= 0xa9): // U+2066..U+2069
		return 3
	}
	return 0
}
