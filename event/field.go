package event

import (
	"net/netip"
	"sort"
)

// FieldType is the type of a field's value. It decides which extractor a
// Field has, how the rule compiler parses literals compared with it, and how
// output renders it.
type FieldType uint8

// Field types, named as `vigil fields` prints them (Falco's names).
const (
	// FieldString values come from Field.Str.
	FieldString FieldType = iota + 1
	// FieldInt, FieldUint, FieldBool, FieldPort, FieldRelTime and FieldAbsTime
	// values come from Field.Num. Bools are 0 or 1; times are nanoseconds.
	FieldInt
	FieldUint
	FieldBool
	FieldPort
	FieldRelTime
	FieldAbsTime
	// FieldIP and FieldIPNet values come from Field.IP. An ipnet field
	// compares with CIDR literals ("10.0.0.0/8") by containment.
	FieldIP
	FieldIPNet
)

var fieldTypeNames = map[FieldType]string{
	FieldString:  "string",
	FieldInt:     "int64",
	FieldUint:    "uint64",
	FieldBool:    "bool",
	FieldPort:    "port",
	FieldRelTime: "reltime",
	FieldAbsTime: "abstime",
	FieldIP:      "ipaddr",
	FieldIPNet:   "ipnet",
}

// String returns the type's name.
func (t FieldType) String() string { return fieldTypeNames[t] }

// Numeric reports whether values of t come from Field.Num.
func (t FieldType) Numeric() bool {
	switch t {
	case FieldInt, FieldUint, FieldBool, FieldPort, FieldRelTime, FieldAbsTime:
		return true
	}
	return false
}

// ArgKind says what goes between a field's brackets.
type ArgKind uint8

const (
	// ArgNone: the field takes no argument.
	ArgNone ArgKind = iota
	// ArgIndex: a non-negative integer, as in proc.aname[2].
	ArgIndex
	// ArgKey: a string key, as in container.label[app].
	ArgKey
)

// Arg is a field's bracketed argument, parsed by the rule compiler.
type Arg struct {
	// Set is true when the reference had brackets.
	Set   bool
	Index int
	Key   string
}

// Field describes one field that rules and output can read. Exactly one of
// Str, Num and IP is set, as Type says.
type Field struct {
	Name string
	Type FieldType
	Desc string
	// Arg is the kind of bracketed argument the field accepts; ArgRequired
	// says the field is meaningless without one.
	Arg         ArgKind
	ArgRequired bool
	// Multi is set on fields with several values per event (one per
	// ancestor, one per end of a connection); see Multi.
	Multi *Multi
	// Alias marks a field whose value another field already carries under
	// the name output prefers (evt.rawtime for evt.time, fd.lip for fd.cip on
	// a connect); event records omit aliases.
	Alias bool
	// ProcScoped marks a field whose value is a function of the event's
	// Process and Container alone. Both are immutable once an event
	// carries them (the process table and the enricher replace them
	// rather than change them), so an encoder may reuse its rendering of
	// such fields across the events of one process (output.EventCache).
	// A field that also reads anything else of the event (its time, its
	// thread) must not be marked.
	ProcScoped bool
	// Kinds lists the event kinds the field can have a value for; empty
	// means every kind.
	Kinds []Kind

	// Extractors return ok=false when the event has no value for the
	// field, which rules treat as no match and output renders as null.
	Str func(e *Event, a Arg) (string, bool)
	Num func(e *Event, a Arg) (int64, bool)
	IP  func(e *Event, a Arg) (netip.Addr, bool)
}

// MaxAncestors bounds the walk of an ancestor field used without an index.
const MaxAncestors = 16

// Multi describes a field that has several values for one event: the proc.a*
// fields (one per ancestor) and fd.ip, fd.net, fd.port and fd.proto (one per
// end of the connection). Used in a condition without a bracketed argument,
// a comparison holds if it holds for any of the values, as in Falco; with
// NotEqualAll, "!=" instead holds only if no value equals (Falco's fd.ip
// != 0.0.0.0 means neither end is 0.0.0.0, while proc.aname != bash means
// some ancestor is not bash). The rule compiler reads value i (0 <= i <
// Count) with the field's extractor and Arg{Set: true, Index: First + i}.
// Output, which has no "any", renders the value of Arg{}: the field's
// description says which one that is.
type Multi struct {
	// Of names what the values belong to ("ancestor", "end of the
	// connection"), for error messages.
	Of string
	// First is the index of the first value; Max bounds Count.
	First, Max int
	// Count returns how many values e has (0 to Max).
	Count func(e *Event) int
	// NotEqualAll makes "!=" hold when every present value differs.
	NotEqualAll bool
}

// LookupField returns the field named name (without any bracketed argument).
func LookupField(name string) (*Field, bool) {
	f, ok := fieldIndex[name]
	return f, ok
}

// Fields returns every field, sorted by name. The slice is a copy.
func Fields() []Field {
	out := make([]Field, 0, len(fieldIndex))
	for _, f := range fieldIndex {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// fieldIndex is built once from the field table and never written after.
var fieldIndex = func() map[string]*Field {
	table := fieldTable()
	m := make(map[string]*Field, len(table))
	for i := range table {
		f := &table[i]
		if _, dup := m[f.Name]; dup {
			panic("event: duplicate field " + f.Name)
		}
		m[f.Name] = f
	}
	return m
}()
