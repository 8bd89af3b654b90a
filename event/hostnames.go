package event

import (
	"net/netip"
	"sync/atomic"
)

// HostNames maps addresses to the host names that resolve to them, for the
// fd.*ip.name fields. Falco's rules compare those fields with names
// (fd.sip.name = "kubernetes.default.svc.cluster.local"); as in Falco, the
// names the loaded rules mention are resolved off the hot path, at load and
// periodically, and an event's address is looked up in the result: no
// reverse lookup per event. Set replaces the whole table; readers never
// block. The zero value is an empty table.
type HostNames struct {
	m atomic.Pointer[map[netip.Addr][]string]
}

// Set replaces the table with m, which the caller must not change after.
func (h *HostNames) Set(m map[netip.Addr][]string) { h.m.Store(&m) }

// Names returns the names that resolved to a (nil when none, or when h is
// nil). The slice is shared: callers must not change it.
func (h *HostNames) Names(a netip.Addr) []string {
	if h == nil {
		return nil
	}
	m := h.m.Load()
	if m == nil {
		return nil
	}
	return (*m)[a.Unmap()]
}

// maxHostNames bounds the names of one address a field reads.
const maxHostNames = 16

// hostNameFieldNames are the fields whose values are resolved names.
var hostNameFieldNames = map[string]bool{"fd.sip.name": true, "fd.cip.name": true, "fd.rip.name": true, "fd.lip.name": true}

// IsHostNameField reports whether the field named name reads the resolved
// names of an address, so that the names a rule compares it with must be
// resolved for the rule to match.
func IsHostNameField(name string) bool { return hostNameFieldNames[name] }

// endNames are the resolved names of end x of e's socket.
func endNames(e *Event, x end) []string {
	ip, ok := endIP(e, x.local(e))
	if !ok {
		return nil
	}
	names := e.HostNames.Names(ip)
	return names[:min(len(names), maxHostNames)]
}

// hostNameField is a field of the names an end's address resolved from:
// several values when several names share the address, so a comparison
// holds if it holds for one of them; output shows the first.
func hostNameField(name, desc string, x end) Field {
	ends := &Multi{Of: "name resolving to the address", Max: maxHostNames, Count: func(e *Event) int { return len(endNames(e, x)) }}
	return only(Field{Name: name, Type: FieldString, Desc: desc, Multi: ends, Str: func(e *Event, a Arg) (string, bool) {
		names := endNames(e, x)
		i := 0
		if a.Set {
			i = a.Index
		}
		if i < 0 || i >= len(names) {
			return "", false
		}
		return names[i], true
	}}, sockKinds...)
}

func hostNameFields() []Field {
	const how = " The names are those the loaded rules compare the field with, resolved at load and periodically."
	return []Field{
		hostNameField("fd.sip.name", "Host name of the server IP address."+how, endServer),
		hostNameField("fd.cip.name", "Host name of the client IP address."+how, endClient),
		alias(hostNameField("fd.rip.name", "Host name of the remote IP address."+how, endRemote)),
		alias(hostNameField("fd.lip.name", "Host name of the local IP address."+how, endLocal)),
	}
}
