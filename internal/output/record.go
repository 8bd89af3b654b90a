package output

import (
	"slices"
	"strconv"
	"unsafe"

	"github.com/vigil-sensor/vigil/event"
)

// Source names for the "source" member.
const (
	SourceSyscall  = "syscall"
	SourceInternal = "internal"
)

// Encoder builds the lines of every format. It holds the host name, the
// product version that OCSF, ECS and CEF lines name, per event kind the
// fields an event record carries, and the compiled mapping tables of the
// other formats; it is immutable and safe to share.
type Encoder struct {
	hostname string
	version  string
	byKind   [event.NumKinds][]recordField
	// segs splits byKind into per-event fields and runs of process-scoped
	// ones (eventcache.go); runs counts the distinct runs.
	segs [event.NumKinds][]segment
	runs int
	// ops are segs compiled for AppendEventCached, and typeHead[t] what
	// follows an event record's time up to its fields for type t:
	// `Z","hostname":...,"source":"syscall","event":"openat","fields":{`.
	ops      [event.NumKinds][]eventOp
	typeHead [event.NumTypes]string
	ocsf     []compiled
	ecs      []compiled
	cef      []compiled
}

// recordField is a field of an event record with its JSON key, `"name":`,
// encoded once.
type recordField struct {
	f   *event.Field
	key string
}

// carriedBy names the process fields that event records carry only where
// the process gets them, and which kinds those are: the exec that sets them,
// the fork whose child inherits them (the child's first record), and, for
// capabilities, the credential change (setuid family, capset) that changes
// them. They are the same in every other event of the process, and they are
// most of a record's bytes (the environment a third, the capability names
// of a root process 1.2 KB), so the stream carries each value once and
// consumers join on proc.pid with that pid's latest such record. Secrets in
// environments are not copied into every record either.
var carriedBy = map[string][]event.Kind{
	"proc.env":               {event.KindExec, event.KindFork},
	"thread.cap_effective":   {event.KindExec, event.KindFork, event.KindCred},
	"thread.cap_permitted":   {event.KindExec, event.KindFork, event.KindCred},
	"thread.cap_inheritable": {event.KindExec, event.KindFork, event.KindCred},
}

// NewEncoder returns an encoder that stamps records with hostname.
func NewEncoder(hostname string) *Encoder {
	enc := &Encoder{hostname: hostname, version: "unknown",
		ocsf: compile(ocsfEvidence), ecs: compile(ecsMembers), cef: compile(cefMembers)}
	fields := event.Fields()
	for k := range event.NumKinds {
		for i := range fields {
			f := &fields[i]
			// Fields that need an argument or have several values (one per
			// ancestor or connection end) have no single value to list
			// (proc.p* and fd.s*/fd.c* name those), and aliases repeat
			// another field.
			if f.ArgRequired || f.Multi != nil || f.Alias {
				continue
			}
			if kinds, only := carriedBy[f.Name]; only && !slices.Contains(kinds, event.Kind(k)) {
				continue
			}
			if len(f.Kinds) == 0 || slices.Contains(f.Kinds, event.Kind(k)) {
				enc.byKind[k] = append(enc.byKind[k], recordField{f: f, key: string(AppendString(nil, f.Name)) + ":"})
			}
		}
	}
	enc.segments()
	for t := range enc.typeHead {
		h := append([]byte(`Z","hostname":`), AppendString(nil, hostname)...)
		h = append(h, `,"source":`...)
		h = AppendString(h, SourceSyscall)
		h = append(h, `,"event":`...)
		h = AppendString(h, event.Type(t).String())
		enc.typeHead[t] = string(append(h, `,"fields":{`...))
	}
	return enc
}

// WithVersion returns a copy of enc whose OCSF, ECS and CEF lines name
// version as vigil's.
func (enc *Encoder) WithVersion(version string) *Encoder {
	c := *enc
	c.version = version
	return &c
}

// Hostname is the host name the encoder stamps records with.
func (enc *Encoder) Hostname() string { return enc.hostname }

// AppendEvent appends e as an event record: time, hostname, source, event
// (evt.type) and fields, an object keyed by field name holding every field
// of e's kind that has a value, except the environment and capabilities
// outside the records of the events that set them (carriedBy). It ends with a newline.
func (enc *Encoder) AppendEvent(b []byte, e *event.Event) []byte {
	b = enc.appendHead(b, e.Time, SourceSyscall)
	b = append(b, `,"event":`...)
	b = AppendString(b, e.Type.String())
	b = append(b, `,"fields":{`...)
	first := true
	for _, rf := range enc.byKind[e.Type.Kind()] {
		mark := len(b)
		if !first {
			b = append(b, ',')
		}
		b = append(b, rf.key...)
		v := len(b)
		b = AppendValue(b, rf.f, e, event.Arg{})
		if string(b[v:]) == "null" {
			b = b[:mark]
			continue
		}
		first = false
	}
	return append(b, "}}\n"...)
}

func (enc *Encoder) appendHead(b []byte, ns int64, source string) []byte {
	b = append(b, `{"time":`...)
	b = AppendTime(b, ns)
	b = append(b, `,"hostname":`...)
	b = AppendString(b, enc.hostname)
	b = append(b, `,"source":`...)
	return AppendString(b, source)
}

// Alert is what an alert record needs from the rules engine.
type Alert struct {
	Time     int64
	Rule     string
	Priority string
	Source   string
	Tags     []string
	// Output is the rendered template, without Falco's time and priority
	// prefix, which AppendAlert adds.
	Output []byte
	// AppendFields appends the members of "output_fields" (`"name":value`
	// pairs separated by commas, no braces).
	AppendFields func(b []byte) []byte
	// Event is the event the rule matched, which the OCSF, ECS and CEF
	// lines describe field by field; nil for internal records. It is only
	// read during the call.
	Event *event.Event
}

// AppendAlert appends an alert in Falco's json_output shape, with a newline.
func (enc *Encoder) AppendAlert(b []byte, a *Alert) []byte {
	b = append(b, `{"time":`...)
	b = AppendTime(b, a.Time)
	b = append(b, `,"rule":`...)
	b = AppendString(b, a.Rule)
	b = append(b, `,"priority":`...)
	b = AppendString(b, a.Priority)
	// The output string is escaped piece by piece into b: no scratch
	// buffer, no allocation per alert. The time of day is digits, colons
	// and a dot, with nothing to escape.
	b = append(b, `,"output":"`...)
	b = event.AppendTimeOfDay(b, a.Time)
	b = append(b, ": "...)
	b = appendEscaped(b, a.Priority)
	b = append(b, ' ')
	// a.Output is only read during the call.
	b = appendEscaped(b, unsafe.String(unsafe.SliceData(a.Output), len(a.Output)))
	b = append(b, '"', ',')
	b = appendOutputFields(b, a)
	b = append(b, `,"hostname":`...)
	b = AppendString(b, enc.hostname)
	b = append(b, `,"source":`...)
	b = AppendString(b, a.Source)
	b = append(b, `,"tags":[`...)
	for i, t := range a.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, t)
	}
	return append(b, "]}\n"...)
}

// appendOutputFields appends the member "output_fields", the alert's
// fields as an object.
func appendOutputFields(b []byte, a *Alert) []byte {
	b = append(b, `"output_fields":{`...)
	if a.AppendFields != nil {
		b = a.AppendFields(b)
	}
	return append(b, '}')
}

// Count is one named number of an internal record's output_fields.
type Count struct {
	Name  string
	Value uint64
}

// AppendInternal appends an internal record (source "internal"), shaped like
// an alert so one parser reads every line: rule names the condition
// ("vigil internal: event drop"), counts become output_fields.
func (enc *Encoder) AppendInternal(b []byte, ns int64, rule, priority, msg string, counts []Count) []byte {
	var text []byte
	text = append(text, msg...)
	for _, c := range counts {
		text = append(text, ' ')
		text = append(text, c.Name...)
		text = append(text, '=')
		text = strconv.AppendUint(text, c.Value, 10)
	}
	return enc.AppendAlert(b, &Alert{
		Time: ns, Rule: rule, Priority: priority, Source: SourceInternal, Output: text,
		AppendFields: func(b []byte) []byte {
			for i, c := range counts {
				if i > 0 {
					b = append(b, ',')
				}
				b = AppendString(b, c.Name)
				b = append(b, ':')
				b = strconv.AppendUint(b, c.Value, 10)
			}
			return b
		},
	})
}
