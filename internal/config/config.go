package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem at a place in a configuration file.
type Error struct {
	File         string
	Line, Column int
	// Path names the value ("outputs[1].url"); empty for the file itself.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	pos := e.File
	if e.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	if e.Path == "" {
		return pos + ": " + e.Msg
	}
	return pos + ": " + e.Path + ": " + e.Msg
}

// Errors is every problem found in one file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Key binds a top-level key of the file to the value it sets.
type Key struct {
	Name string
	// Dst points to the value the key sets.
	Dst any
	// Check, if set, validates the decoded value (in Dst); its error is
	// reported at the key's value.
	Check func() error
}

// Unmarshaler is implemented by types that decode themselves from a node,
// to check what depends on several keys (an output's keys depend on its
// type) with the positions of the keys at fault.
type Unmarshaler interface {
	UnmarshalConfig(n Node) error
}

// Decode parses data, the contents of the file named file, and decodes the
// value of each key of its top-level mapping into the Dst of the Key of
// that name. Keys absent from the file leave their Dst as it was. The error,
// if any, is Errors.
func Decode(file string, data []byte, keys []Key) error {
	d := &decoder{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.errs = append(d.errs, syntaxError(file, err))
		return d.errs
	}
	if len(doc.Content) == 0 {
		return nil // an empty file sets nothing
	}
	root := Node{d: d, y: doc.Content[0]}
	if root.y.Kind != yaml.MappingNode {
		root.fail("want a mapping of keys to values, got %s", describe(root.y))
		return d.errs
	}
	byName := make(map[string]Key, len(keys))
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		byName[k.Name] = k
		names = append(names, k.Name)
	}
	root.eachKey(func(name string, kn, vn *yaml.Node) {
		k, ok := byName[name]
		if !ok {
			root.at(kn, name).fail("unknown key (known: %s)", strings.Join(sorted(names), ", "))
			return
		}
		n := root.at(vn, name)
		before := len(d.errs)
		n.decode(reflect.ValueOf(k.Dst).Elem())
		if k.Check != nil && len(d.errs) == before {
			if err := k.Check(); err != nil {
				n.fail("%v", err)
			}
		}
	})
	if len(d.errs) > 0 {
		return d.errs
	}
	return nil
}

// yamlLine finds the line yaml.v3 names in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func syntaxError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Column: 1, Msg: "invalid YAML: " + msg[len(m[0]):]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type decoder struct {
	file string
	errs Errors
}

// Node is a value of the file being decoded, with its position and the
// path that leads to it.
type Node struct {
	d    *decoder
	y    *yaml.Node
	path string
}

// Path names the node's value, as errors do ("outputs[1].url").
func (n Node) Path() string { return n.path }

// Errorf records a problem at the node; decoding goes on to find the
// others. It returns the error recorded.
func (n Node) Errorf(format string, args ...any) error { return n.fail(format, args...) }

func (n Node) fail(format string, args ...any) error {
	e := &Error{File: n.d.file, Line: n.y.Line, Column: n.y.Column, Path: n.path, Msg: fmt.Sprintf(format, args...)}
	n.d.errs = append(n.d.errs, e)
	return e
}

// Key returns the value of key name of a mapping node.
func (n Node) Key(name string) (Node, bool) {
	if n.y.Kind != yaml.MappingNode {
		return Node{}, false
	}
	for i := 0; i+1 < len(n.y.Content); i += 2 {
		if n.y.Content[i].Value == name {
			return n.at(n.y.Content[i+1], name), true
		}
	}
	return Node{}, false
}

// Item returns element i of a list node.
func (n Node) Item(i int) (Node, bool) {
	if n.y.Kind != yaml.SequenceNode || i < 0 || i >= len(n.y.Content) {
		return Node{}, false
	}
	return n.at(n.y.Content[i], fmt.Sprintf("[%d]", i)), true
}

// Decode decodes the node into dst, a pointer, as Decode does a key's value.
func (n Node) Decode(dst any) { n.decode(reflect.ValueOf(dst).Elem()) }

// DecodeFields decodes a mapping node into the fields of several structs
// (pointers): each key goes to the first struct with a field of that name;
// a key none has is an error, as is a key in skip's list of names the
// caller has decoded already and wants no other struct to take.
func (n Node) DecodeFields(skip []string, dsts ...any) {
	if !n.isMapping() {
		return
	}
	vs := make([]reflect.Value, len(dsts))
	var known []string
	for i, d := range dsts {
		vs[i] = reflect.ValueOf(d).Elem()
		known = append(known, fieldNames(vs[i].Type())...)
	}
	known = append(known, skip...)
	n.eachKey(func(name string, kn, vn *yaml.Node) {
		for _, s := range skip {
			if s == name {
				return
			}
		}
		for _, v := range vs {
			if f, ok := fieldByKey(v, name); ok {
				n.at(vn, name).decode(f)
				return
			}
		}
		n.at(kn, name).fail("unknown key (known: %s)", strings.Join(sorted(known), ", "))
	})
}

// at is the node y, a member of n's value: key name of a mapping, or
// element [i] of a list when name starts with '['.
func (n Node) at(y *yaml.Node, name string) Node {
	p := name
	switch {
	case n.path == "":
	case strings.HasPrefix(name, "["):
		p = n.path + name
	default:
		p = n.path + "." + name
	}
	return Node{d: n.d, y: y, path: p}
}

func (n Node) eachKey(fn func(name string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.y.Content); i += 2 {
		k, v := n.y.Content[i], n.y.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			n.at(k, "").fail("want a key, got %s", describe(k))
			continue
		}
		if seen[k.Value] {
			n.at(k, k.Value).fail("key given twice")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

func (n Node) isMapping() bool {
	if n.y.Kind != yaml.MappingNode {
		n.fail("want a mapping of keys to values, got %s", describe(n.y))
		return false
	}
	return true
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	textUnmarshal = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decode stores n's value into v, which is settable.
func (n Node) decode(v reflect.Value) {
	if n.y.Kind == yaml.AliasNode {
		n.y = n.y.Alias
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(Unmarshaler); ok {
			u.UnmarshalConfig(n)
			return
		}
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		n.decode(v.Elem())
		return
	}
	if v.CanAddr() && reflect.PointerTo(v.Type()).Implements(textUnmarshal) {
		s, ok := n.scalar("a string")
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			n.fail("%v", err)
		}
		return
	}
	switch {
	case v.Type() == durationType:
		s, ok := n.scalar(`a duration like "5s"`)
		if !ok {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			n.fail(`want a duration like "5s" or "1m30s", got %q`, s)
			return
		}
		v.SetInt(int64(d))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		if n.tagged("!!bool", "true or false") {
			var b bool
			n.y.Decode(&b)
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.tagged("!!int", "an integer") {
			var i int64
			if err := n.y.Decode(&i); err != nil || v.OverflowInt(i) {
				n.fail("integer %s out of range", n.y.Value)
				return
			}
			v.SetInt(i)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.tagged("!!int", "an integer") {
			var i uint64
			if err := n.y.Decode(&i); err != nil || v.OverflowUint(i) {
				n.fail("integer %s out of range (want 0 or more)", n.y.Value)
				return
			}
			v.SetUint(i)
		}
	case reflect.String:
		if s, ok := n.scalar("a string"); ok {
			v.SetString(s)
		}
	case reflect.Slice:
		if n.y.Kind != yaml.SequenceNode {
			n.fail("want a list, got %s", describe(n.y))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.y.Content), len(n.y.Content))
		for i, c := range n.y.Content {
			n.at(c, fmt.Sprintf("[%d]", i)).decode(s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || !n.isMapping() {
			return
		}
		m := reflect.MakeMap(v.Type())
		n.eachKey(func(name string, _, vn *yaml.Node) {
			e := reflect.New(v.Type().Elem()).Elem()
			n.at(vn, name).decode(e)
			m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), e)
		})
		v.Set(m)
	case reflect.Struct:
		n.DecodeFields(nil, v.Addr().Interface())
	default:
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
}

// scalar returns a scalar's text (any scalar reads as a string: `name: 123`).
func (n Node) scalar(want string) (string, bool) {
	if n.y.Kind != yaml.ScalarNode || n.y.Tag == "!!null" {
		n.fail("want %s, got %s", want, describe(n.y))
		return "", false
	}
	return n.y.Value, true
}

// tagged checks that a scalar has the YAML type tag.
func (n Node) tagged(tag, want string) bool {
	if n.y.Kind != yaml.ScalarNode || n.y.Tag != tag {
		n.fail("want %s, got %s", want, describe(n.y))
		return false
	}
	return true
}

// describe says what a node holds, for errors.
func describe(y *yaml.Node) string {
	switch y.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch y.Tag {
		case "!!null":
			return "no value"
		case "!!str":
			return strconv.Quote(y.Value)
		}
		return y.Value
	}
	return "an unexpected YAML node"
}

// fieldNames lists the keys of a struct's fields.
func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name := keyOf(t.Field(i)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func fieldByKey(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if k := keyOf(t.Field(i)); k != "" && k == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// keyOf is a struct field's key: its yaml tag's name; fields without one
// (or tagged "-") take no key.
func keyOf(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// AsErrors returns the positioned problems in err, if it came from Decode.
func AsErrors(err error) (Errors, bool) {
	var es Errors
	ok := errors.As(err, &es)
	return es, ok
}
