package rules

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// where is what a load message is about: a file and the chain of
// locations from the item down to the exact place (the "context" of
// Falco's messages).
type where struct {
	f    *file
	locs []Location
}

// inFile is the place of a whole file.
func inFile(f *file) where { return where{f: f} }

// with adds a location at a YAML node.
func (at where) with(typ, name string, n *yaml.Node) where {
	p := Position{Name: at.f.name}
	if n != nil {
		p = at.f.nodePos(n)
	}
	return at.withPos(at.f, typ, name, p)
}

// withPos adds a location at a position of file f, which becomes the
// file the message belongs to.
func (at where) withPos(f *file, typ, name string, p Position) where {
	locs := make([]Location, len(at.locs), len(at.locs)+1)
	copy(locs, at.locs)
	return where{f: f, locs: append(locs, Location{ItemType: typ, ItemName: name, Position: p})}
}

// message builds a message for code at at.
func (at where) message(code, msg string) Message {
	m := Message{Code: code, CodeDesc: codeDesc(code), Message: msg}
	m.Context.Locations = at.locs
	if m.Context.Locations == nil {
		m.Context.Locations = []Location{{ItemType: "rules content", Position: at.f.pos(1, 1)}}
	}
	m.Context.Snippet = at.f.snippet(m.Pos())
	return m
}

// loadError is an error found while loading, with where it is.
type loadError struct {
	code string
	msg  string
	at   where
}

func (e *loadError) Error() string { return e.at.message(e.code, e.msg).String() }

// errorf makes a loadError at at.
func (at where) errorf(code, format string, args ...any) *loadError {
	return &loadError{code: code, msg: fmt.Sprintf(format, args...), at: at}
}
