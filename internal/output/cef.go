package output

import (
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/vigil-sensor/vigil/event"
)

// cefMembers are the CEF extensions that come from the event: standard
// keys where CEF has one, custom strings (csN, named by csNLabel) for the
// rest.
var cefMembers = []member{
	leaf("act", "evt.type"),
	leaf("suser", "user.name"),
	leaf("suid", "user.uid"),
	leaf("spid", "proc.pid"),
	leaf("sproc", "proc.name"),
	{key: "filePath", field: "fd.name", when: isFile},
	{key: "fname", field: "fd.name", base: true, when: isFile},
	leaf("src", "fd.cip"),
	leaf("spt", "fd.cport"),
	leaf("dst", "fd.sip"),
	leaf("dpt", "fd.sport"),
	leaf("proto", "fd.l4proto"),
	{key: "cs2", label: "cmdline", field: "proc.cmdline"},
	{key: "cs3", label: "exepath", field: "proc.exepath"},
	{key: "cs4", label: "parent", field: "proc.pname"},
	{key: "cs5", label: "containerId", field: "container.id", when: inContainer},
	{key: "cs6", label: "containerName", field: "container.name", when: inContainer},
}

// AppendCEF appends a as an ArcSight CEF line with a newline:
// CEF:0|vigil|vigil|version|rule|rule|severity| then the extensions (time,
// host, the rendered output, tags and the event's fields). Header fields
// escape '\' and '|', extension values '\' and '='; line breaks become \n
// and \r, other control bytes spaces and invalid UTF-8 U+FFFD, so one alert
// is always one line.
func (enc *Encoder) AppendCEF(b []byte, a *Alert) []byte {
	b = append(b, "CEF:0|vigil|vigil|"...)
	b = appendCEF(b, enc.version, true)
	b = append(b, '|')
	b = appendCEF(b, a.Rule, true)
	b = append(b, '|')
	b = appendCEF(b, a.Rule, true)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(severityOf(a.Priority).cef), 10)
	b = append(b, "|rt="...)
	b = strconv.AppendInt(b, a.Time/1e6, 10)
	b = append(b, " dvchost="...)
	b = appendCEF(b, enc.hostname, false)
	b = append(b, " cat="...)
	b = appendCEF(b, a.Source, false)
	b = append(b, " msg="...)
	b = appendCEF(b, unsafe.String(unsafe.SliceData(a.Output), len(a.Output)), false)
	if len(a.Tags) > 0 {
		b = append(b, " cs1Label=tags cs1="...)
		for i, t := range a.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCEF(b, t, false)
		}
	}
	if e := a.Event; e != nil {
		for i := range enc.cef {
			b = appendCEFMember(b, &enc.cef[i], e)
		}
	}
	return append(b, '\n')
}

func appendCEFMember(b []byte, m *compiled, e *event.Event) []byte {
	if !m.guard.pass(e) {
		return b
	}
	v, ok := m.valueOf(e)
	if !ok {
		return b
	}
	if m.label != "" {
		b = append(b, ' ')
		b = append(b, m.key...)
		b = append(b, "Label="...)
		b = append(b, m.label...)
	}
	b = append(b, ' ')
	b = append(b, m.key...)
	b = append(b, '=')
	switch t := m.f.Type; {
	case t == event.FieldString:
		return appendCEF(b, v.str, false)
	case t == event.FieldIP || t == event.FieldIPNet:
		return v.ip.AppendTo(b)
	}
	return AppendTyped(b, m.f.Type, true, "", v.num, v.ip)
}

// appendCEF appends s escaped for a CEF header field (header) or extension
// value.
func appendCEF(b []byte, s string, header bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '|' && header:
			b = append(b, '\\', '|')
		case c == '=' && !header:
			b = append(b, '\\', '=')
		case c == '\n' && !header:
			b = append(b, '\\', 'n')
		case c == '\r' && !header:
			b = append(b, '\\', 'r')
		case c < 0x20 || c == 0x7f:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}
