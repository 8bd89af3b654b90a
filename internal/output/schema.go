package output

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vigil-sensor/vigil/event"
)

// member describes one member of a record that the OCSF, ECS and CEF
// encoders build from an event: a leaf takes its value from a field of the
// event package's one field table, an object groups members. The mapping
// tables (ocsf.go, ecs.go, cef.go) are lists of members, compiled once per
// Encoder.
type member struct {
	key string
	// field names the event field of a leaf.
	field string
	// text writes a numeric field as a JSON string (OCSF and ECS keep user
	// ids as strings).
	text bool
	// base writes the part of a string field after its last '/'.
	base bool
	// array wraps the value in a one-element JSON array.
	array bool
	// enum maps the value of a string field to the JSON value written; a
	// value it does not list gets orElse, or leaves the member out.
	enum   map[string]string
	orElse string
	// constant is a JSON value written as it is. Constants fill in an
	// object that has members from the event; alone they do not make one.
	constant string
	// kids are the members of an object.
	kids []member
	// when, if set, leaves the member out of events it does not pass.
	when *guard
	// label names a CEF custom extension (cs1Label=...).
	label string
}

// guard holds when the string field's value is one of in (or, with not,
// none of them).
type guard struct {
	field string
	in    []string
	not   bool
}

var (
	// isFile passes events whose descriptor is a file system object (a
	// file, directory, pipe or unix socket), for which fd.name is a path.
	isFile = &guard{field: "fd.typechar", in: []string{"f", "d", "p", "u"}}
	// inContainer passes events of processes in a container.
	inContainer = &guard{field: "container.id", in: []string{"host"}, not: true}
)

// leaf is a member whose value is a field's.
func leaf(key, field string) member { return member{key: key, field: field} }

// object is a member holding other members.
func object(key string, kids ...member) member { return member{key: key, kids: kids} }

// constant is a member with a fixed JSON value.
func constant(key, json string) member { return member{key: key, constant: json} }

// compiled is a member bound to its field, guard and members, with its
// key encoded.
type compiled struct {
	member
	jsonKey  string // `"key":`
	f        *event.Field
	guard    *compiledGuard
	children []compiled
}

type compiledGuard struct {
	field *event.Field
	in    []string
	not   bool
}

// pass reports whether e passes the guard.
func (g *compiledGuard) pass(e *event.Event) bool {
	if g == nil {
		return true
	}
	s, ok := g.field.Str(e, event.Arg{})
	return ok && slices.Contains(g.in, s) != g.not
}

// compile binds members to the field table; a name it does not know is a
// programming error in a mapping table.
func compile(ms []member) []compiled {
	out := make([]compiled, len(ms))
	for i, m := range ms {
		c := compiled{member: m, jsonKey: string(AppendString(nil, m.key)) + ":"}
		if m.kids != nil {
			c.children = compile(m.kids)
		}
		if m.field != "" {
			c.f = mustField(m.field)
			if (m.enum != nil || m.base) && c.f.Type != event.FieldString {
				panic(fmt.Sprintf("output: mapping of %q needs a string field", m.field))
			}
		}
		if m.when != nil {
			c.guard = &compiledGuard{field: mustField(m.when.field), in: m.when.in, not: m.when.not}
		}
		out[i] = c
	}
	return out
}

func mustField(name string) *event.Field {
	f, ok := event.LookupField(name)
	if !ok {
		panic(fmt.Sprintf("output: mapping names unknown field %q", name))
	}
	return f
}

// appendMembers appends ms as members of a JSON object already opened in b,
// each preceded by a comma unless first is set, and reports whether one of
// them took a value from the event (constants alone do not count).
func appendMembers(b []byte, ms []compiled, e *event.Event, first bool) ([]byte, bool) {
	found := false
	for i := range ms {
		m := &ms[i]
		if !m.guard.pass(e) {
			continue
		}
		mark := len(b)
		if !first {
			b = append(b, ',')
		}
		b = append(b, m.jsonKey...)
		ok, fromEvent := false, false
		switch {
		case m.constant != "":
			b = append(b, m.constant...)
			ok = true
		case m.children != nil:
			b = append(b, '{')
			b, ok = appendMembers(b, m.children, e, true)
			b = append(b, '}')
			fromEvent = ok
		default:
			b, ok = appendLeaf(b, m, e)
			fromEvent = ok
		}
		if !ok {
			b = b[:mark]
			continue
		}
		first = false
		found = found || fromEvent
	}
	return b, found
}

// value is a leaf's value for an event.
type value struct {
	str  string
	num  int64
	ip   netip.Addr
	enum string // the JSON value an enum gives, when the leaf has one
}

// valueOf extracts a leaf's value, false when the event has none.
func (m *compiled) valueOf(e *event.Event) (value, bool) {
	str, num, ip, ok := extract(m.f, e, event.Arg{})
	if !ok {
		return value{}, false
	}
	v := value{str: str, num: num, ip: ip}
	switch {
	case m.enum != nil:
		j, known := m.enum[str]
		if !known {
			j = m.orElse
		}
		if j == "" {
			return value{}, false
		}
		v.enum = j
	case m.base:
		if i := strings.LastIndexByte(str, '/'); i >= 0 {
			v.str = str[i+1:]
		}
		if v.str == "" {
			return value{}, false
		}
	}
	return v, true
}

// appendLeaf appends the JSON value of a leaf, reporting false when the
// event has none (the caller then cuts b back).
func appendLeaf(b []byte, m *compiled, e *event.Event) ([]byte, bool) {
	v, ok := m.valueOf(e)
	if !ok {
		return b, false
	}
	if m.array {
		b = append(b, '[')
	}
	switch {
	case v.enum != "":
		b = append(b, v.enum...)
	case m.text && m.f.Type.Numeric():
		b = append(b, '"')
		b = AppendTyped(b, m.f.Type, true, v.str, v.num, v.ip)
		b = append(b, '"')
	default:
		b = AppendTyped(b, m.f.Type, true, v.str, v.num, v.ip)
	}
	if m.array {
		b = append(b, ']')
	}
	return b, true
}
