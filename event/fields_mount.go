package event

import (
	"strconv"
	"strings"
)

// Mount is a mount of a container's runtime spec, as Falco's
// container.mount* fields describe it.
type Mount struct {
	Source, Dest string
	// Mode is the engine's mode string (Docker's "z", "Z"); containerd
	// has none.
	Mode string
	// RW is false for a read-only mount.
	RW bool
	// Propagation is the mount's propagation option (rprivate, shared,
	// ...), empty when the spec sets none.
	Propagation string
}

// String renders m as Falco's container.mount does:
// source:dest:mode:rdwr:propagation.
func (m Mount) String() string {
	return m.Source + ":" + m.Dest + ":" + m.Mode + ":" + strconv.FormatBool(m.RW) + ":" + m.Propagation
}

// mountOf finds the mount a container.mount* argument names: an index, or
// a glob pattern matched against the mount's source (or, bySource false,
// its destination); Falco returns the first that matches.
func mountOf(e *Event, a Arg, bySource bool) (*Mount, bool) {
	ms := e.Container.Mounts
	if i, err := strconv.Atoi(a.Key); err == nil {
		if i < 0 || i >= len(ms) {
			return nil, false
		}
		return &ms[i], true
	}
	for i := range ms {
		s := ms[i].Dest
		if bySource {
			s = ms[i].Source
		}
		if GlobMatch(a.Key, s, false) {
			return &ms[i], true
		}
	}
	return nil, false
}

// noMount is the value of a container.mount* field naming no mount of a
// known container: Falco's rules test for it (sensitive_mount's `not
// container.mount.dest[/proc*] in ("<NA>","N/A")`).
const noMount = "<NA>"

// mountField is a container.mount* field with a required argument.
func mountField(name, desc string, bySource bool, val func(m *Mount) string) Field {
	return Field{Name: name, Type: FieldString, Arg: ArgKey, ArgRequired: true, Desc: desc + ` "<NA>" when no mount matches.`,
		Str: func(e *Event, a Arg) (string, bool) {
			if e.Container == nil || !e.Container.Known || !a.Set {
				return "", false
			}
			m, ok := mountOf(e, a, bySource)
			if !ok {
				return noMount, true
			}
			return val(m), true
		}}
}

// mountFields are the mounts of a container's runtime spec, named and
// rendered as Falco's.
func mountFields() []Field {
	return []Field{
		{Name: "container.mounts", Type: FieldString,
			Desc: "The container's mounts, separated by spaces, each source:dest:mode:rdwr:propagation.",
			Str: func(e *Event, _ Arg) (string, bool) {
				if e.Container == nil || !e.Container.Known {
					return "", false
				}
				parts := make([]string, len(e.Container.Mounts))
				for i, m := range e.Container.Mounts {
					parts[i] = m.String()
				}
				return strings.Join(parts, " "), true
			}},
		mountField("container.mount", "One mount, by index or by a glob of its source: source:dest:mode:rdwr:propagation.", true,
			func(m *Mount) string { return m.String() }),
		mountField("container.mount.source", "Source of a mount, by index or by a glob of its destination.", false,
			func(m *Mount) string { return m.Source }),
		mountField("container.mount.dest", "Destination of a mount, by index or by a glob of its source.", true,
			func(m *Mount) string { return m.Dest }),
		mountField("container.mount.mode", "Mode of a mount, by index or by a glob of its source.", true,
			func(m *Mount) string { return m.Mode }),
		mountField("container.mount.rdwr", "Whether a mount is writable (true or false), by index or by a glob of its source.", true,
			func(m *Mount) string { return strconv.FormatBool(m.RW) }),
		mountField("container.mount.propagation", "Propagation of a mount, by index or by a glob of its source.", true,
			func(m *Mount) string { return m.Propagation }),
	}
}
