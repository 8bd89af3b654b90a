package output

import (
	"net/netip"
	"strconv"
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
	enc.compileOps()
}

// opKind says how an eventOp renders its field: which extractor it calls
// and how the value is written, decided once per field instead of per event.
type opKind uint8

const (
	opRun     opKind = iota // a run of process-scoped fields, from the cache
	opString                // Str, as a JSON string
	opBool                  // Num, as true or false
	opUint                  // Num, as an unsigned decimal
	opInt                   // Num, as a signed decimal
	opIP                    // IP, as a JSON string
	opGeneric               // extract and AppendTyped, for a field whose extractor and type disagree
)

// eventOp is a segment compiled for AppendEventCached: the field's key led
// by a comma, its extractor and how its value is written, next to each
// other in one slice, so that a per-event field costs its extractor and an
// append.
type eventOp struct {
	kind opKind
	run  int
	key  string // `,"name":`
	str  func(*event.Event, event.Arg) (string, bool)
	num  func(*event.Event, event.Arg) (int64, bool)
	ip   func(*event.Event, event.Arg) (netip.Addr, bool)
	// rf is the field (opGeneric) or fields (opRun) of the segment.
	rf []recordField
}

// compileOps turns the segments of each kind into eventOps. Fields of an
// unknown type (0) are left out: AppendEvent renders them as null, which
// it leaves out.
func (enc *Encoder) compileOps() {
	for k := range enc.segs {
		for _, sg := range enc.segs[k] {
			if sg.run >= 0 {
				enc.ops[k] = append(enc.ops[k], eventOp{kind: opRun, run: sg.run, rf: sg.fields})
				continue
			}
			rf := sg.fields[0]
			f := rf.f
			if f.Type == 0 {
				continue
			}
			op := eventOp{kind: opGeneric, key: "," + rf.key, str: f.Str, num: f.Num, ip: f.IP, rf: sg.fields}
			// extract reads Str first, then Num, then IP; AppendTyped
			// writes by type. Where both agree the op calls the one
			// extractor and writes its value directly.
			switch {
			case f.Str != nil:
				if f.Type == event.FieldString {
					op.kind = opString
				}
			case f.Num != nil:
				switch {
				case f.Type == event.FieldBool:
					op.kind = opBool
				case f.Type == event.FieldUint || f.Type == event.FieldPort:
					op.kind = opUint
				case f.Type.Numeric():
					op.kind = opInt
				}
			case f.IP != nil:
				if f.Type == event.FieldIP || f.Type == event.FieldIPNet {
					op.kind = opIP
				}
			}
			enc.ops[k] = append(enc.ops[k], op)
		}
	}
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
	// head is the start of a record up to the time's dot, for second sec.
	head []byte
	sec  int64
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
	if c.enc != enc {
		*c = EventCache{enc: enc}
	}
	b = c.appendHead(b, e)
	// skip drops the comma that leads each member until one is written.
	skip := 1
	var s *cacheSlot
	ops := enc.ops[e.Type.Kind()]
	for i := range ops {
		op := &ops[i]
		switch op.kind {
		case opRun:
			if s == nil {
				s = c.slot(enc, e)
			}
			if !s.have[op.run] {
				s.runs[op.run] = appendRun(s.runs[op.run][:0], op.rf, e)
				s.have[op.run] = true
				c.Misses++
			} else {
				c.Hits++
			}
			r := s.runs[op.run]
			if len(r) == 0 {
				continue
			}
			b = append(b, r[skip:]...)
		case opString:
			v, ok := op.str(e, event.Arg{})
			if !ok {
				continue
			}
			b = append(b, op.key[skip:]...)
			b = AppendString(b, v)
		case opBool:
			v, ok := op.num(e, event.Arg{})
			if !ok {
				continue
			}
			b = append(b, op.key[skip:]...)
			if v != 0 {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		case opUint:
			v, ok := op.num(e, event.Arg{})
			if !ok {
				continue
			}
			b = append(b, op.key[skip:]...)
			b = strconv.AppendUint(b, uint64(v), 10)
		case opInt:
			v, ok := op.num(e, event.Arg{})
			if !ok {
				continue
			}
			b = append(b, op.key[skip:]...)
			b = strconv.AppendInt(b, v, 10)
		case opIP:
			v, ok := op.ip(e, event.Arg{})
			if !ok {
				continue
			}
			b = append(b, op.key[skip:]...)
			b = append(b, '"')
			b = v.AppendTo(b)
			b = append(b, '"')
		default:
			str, num, ip, ok := extract(op.rf[0].f, e, event.Arg{})
			if !ok {
				continue
			}
			b = append(b, op.key[skip:]...)
			b = AppendTyped(b, op.rf[0].f.Type, true, str, num, ip)
		}
		skip = 0
	}
	return append(b, "}}\n"...)
}

// appendHead appends AppendEvent's members up to the opening of "fields":
// the time, whose date and time of day to the second it renders once a
// second, and the members that follow it, the same in every record of one
// event type.
func (c *EventCache) appendHead(b []byte, e *event.Event) []byte {
	sec, nsec := e.Time/1e9, e.Time%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	if c.head == nil || sec != c.sec {
		// {"time":"2006-01-02T15:04:05.000000000Z": the prefix ends at
		// the dot.
		c.head = AppendTime(append(c.head[:0], `{"time":`...), sec*1e9)
		c.head = c.head[:len(c.head)-len(`000000000Z"`)]
		c.sec = sec
	}
	b = append(b, c.head...)
	b = appendPadded(b, int(nsec), 9)
	t := e.Type
	if int(t) >= len(c.enc.typeHead) {
		t = event.TypeUnknown
	}
	return append(b, c.enc.typeHead[t]...)
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
