package output

import (
	"strings"
	"unsafe"

	"github.com/vigil-sensor/vigil/event"
)

// segment is a stretch of one kind's event record: a single field that is
// rendered for every event (run < 0), or a run of consecutive
// event.Field.ProcScoped fields that an EventCache renders once per process
// and container (run is its index among the encoder's runs).
type segment struct {
	fields []recordField
	run    int
}

// segments splits the fields of each kind into per-event fields and runs of
// process-scoped ones; runs with the same fields, in every kind, share an
// index, so one rendering serves all the kinds of a process's events.
func (enc *Encoder) segments() {
	ids := map[string]int{}
	for k := range enc.byKind {
		fields := enc.byKind[k]
		for i := 0; i < len(fields); {
			if !fields[i].f.ProcScoped {
				enc.segs[k] = append(enc.segs[k], segment{fields: fields[i : i+1], run: -1})
				i++
				continue
			}
			j := i
			var names []string
			for j < len(fields) && fields[j].f.ProcScoped {
				names = append(names, fields[j].f.Name)
				j++
			}
			key := strings.Join(names, ",")
			id, ok := ids[key]
			if !ok {
				id = len(ids)
				ids[key] = id
			}
			enc.segs[k] = append(enc.segs[k], segment{fields: fields[i:j], run: id})
			i = j
		}
	}
	enc.runs = len(ids)
}

// eventCacheSlots is the number of processes an EventCache holds renderings
// for: events come in bursts from few processes, and each slot holds a few
// KiB (the environment, command lines and capability names).
const eventCacheSlots = 256

// EventCache keeps, for the processes whose events were encoded last, the
// rendering of their process-scoped fields (event.Field.ProcScoped: proc.*,
// user.*, group.*, thread.cap_*, container.*), which are most of an event
// record's bytes and the same in each of the process's events. It is keyed
// by the event's Process and Container, which are never changed once an
// event carries them, and holds them, so that neither can be freed and
// another allocated at its address while a slot names it. One goroutine
// uses a cache; it is tied to the first Encoder that uses it.
type EventCache struct {
	enc   *Encoder
	slots [eventCacheSlots]cacheSlot
	// Hits and Misses count the runs read from the cache and rendered.
	Hits, Misses uint64
}

type cacheSlot struct {
	proc *event.Process
	ctr  *event.Container
	// runs[i] is run i rendered, each member led by a comma; have[i] says
	// whether it was rendered for proc and ctr.
	runs [][]byte
	have []bool
}

// slot returns the slot of e's process and container, emptied if it held
// another pair.
func (c *EventCache) slot(enc *Encoder, e *event.Event) *cacheSlot {
	if c.enc != enc {
		*c = EventCache{enc: enc}
	}
	h := uint64(uintptr(unsafe.Pointer(e.Proc))) ^ uint64(uintptr(unsafe.Pointer(e.Container)))
	s := &c.slots[(h*0x9E3779B97F4A7C15)>>(64-8)]
	if s.proc != e.Proc || s.ctr != e.Container || s.runs == nil {
		s.proc, s.ctr = e.Proc, e.Container
		if s.runs == nil {
			s.runs, s.have = make([][]byte, enc.runs), make([]bool, enc.runs)
		}
		clear(s.have)
	}
	return s
}

// AppendEventCached is AppendEvent, byte for byte, reading the process-scoped
// fields from c, rendered once per process. c may be nil.
func (enc *Encoder) AppendEventCached(b []byte, e *event.Event, c *EventCache) []byte {
	if c == nil {
		return enc.AppendEvent(b, e)
	}
	b = enc.appendHead(b, e.Time, SourceSyscall)
	b = append(b, `,"event":`...)
	b = AppendString(b, e.Type.String())
	b = append(b, `,"fields":{`...)
	first := true
	var s *cacheSlot
	for _, sg := range enc.segs[e.Type.Kind()] {
		if sg.run < 0 {
			rf := &sg.fields[0]
			str, num, ip, ok := extract(rf.f, e, event.Arg{})
			if !ok || rf.f.Type == 0 {
				continue // null: AppendEvent leaves it out
			}
			if !first {
				b = append(b, ',')
			}
			b = append(b, rf.key...)
			b = AppendTyped(b, rf.f.Type, true, str, num, ip)
			first = false
			continue
		}
		if s == nil {
			s = c.slot(enc, e)
		}
		if !s.have[sg.run] {
			s.runs[sg.run] = appendRun(s.runs[sg.run][:0], sg.fields, e)
			s.have[sg.run] = true
			c.Misses++
		} else {
			c.Hits++
		}
		r := s.runs[sg.run]
		if len(r) == 0 {
			continue
		}
		if first {
			r = r[1:]
		}
		b = append(b, r...)
		first = false
	}
	return append(b, "}}\n"...)
}

// appendRun appends `,"name":value` for each field of fields that has
// a value for e (AppendTyped renders null exactly when it has none).
func appendRun(b []byte, fields []recordField, e *event.Event) []byte {
	for i := range fields {
		rf := &fields[i]
		str, num, ip, ok := extract(rf.f, e, event.Arg{})
		if !ok || rf.f.Type == 0 {
			continue
		}
		b = append(b, ',')
		b = append(b, rf.key...)
		b = AppendTyped(b, rf.f.Type, true, str, num, ip)
	}
	return b
}
