package rules

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// ctx is where a message is about: a file and the chain of locations from
// the item down to the exact place.
type ctx struct {
	f    *file
	locs []Location
}

// fileCtx is the context of a whole file.
func fileCtx(f *file) ctx { return ctx{f: f} }

// with adds a location at a YAML node.
func (c ctx) with(typ, name string, n *yaml.Node) ctx {
	p := Position{Name: c.f.name}
	if n != nil {
		p = c.f.nodePos(n)
	}
	return c.withPos(c.f, typ, name, p)
}

// withPos adds a location at a position of file f, which becomes the
// file the message belongs to.
func (c ctx) withPos(f *file, typ, name string, p Position) ctx {
	locs := make([]Location, len(c.locs), len(c.locs)+1)
	copy(locs, c.locs)
	return ctx{f: f, locs: append(locs, Location{ItemType: typ, ItemName: name, Position: p})}
}

// message builds a message for code at c.
func (c ctx) message(code, msg string) Message {
	m := Message{Code: code, CodeDesc: codeDesc(code), Message: msg}
	m.Context.Locations = c.locs
	if m.Context.Locations == nil {
		m.Context.Locations = []Location{{ItemType: "rules content", Position: c.f.pos(1, 1)}}
	}
	m.Context.Snippet = c.f.snippet(m.Pos())
	return m
}

// loadError is an error found while loading, with its context.
type loadError struct {
	code string
	msg  string
	ctx  ctx
}

func (e *loadError) Error() string { return e.ctx.message(e.code, e.msg).String() }

// errorf makes a loadError at c.
func (c ctx) errorf(code, format string, args ...any) *loadError {
	return &loadError{code: code, msg: fmt.Sprintf(format, args...), ctx: c}
}
