package event

import (
	"strconv"
	"time"
)

// AppendText renders f's value for e as Falco renders it in output text:
// strings as they are, times of day for abstime fields, true/false for bools.
// ok is false (and b unchanged) when the event has no value; templates then
// print "<NA>".
func (f *Field) AppendText(b []byte, e *Event, a Arg) ([]byte, bool) {
	switch {
	case f.Str != nil:
		s, ok := f.Str(e, a)
		if !ok {
			return b, false
		}
		return append(b, s...), true
	case f.Num != nil:
		n, ok := f.Num(e, a)
		if !ok {
			return b, false
		}
		switch f.Type {
		case FieldBool:
			return strconv.AppendBool(b, n != 0), true
		case FieldAbsTime:
			return AppendTimeOfDay(b, n), true
		case FieldUint, FieldPort:
			return strconv.AppendUint(b, uint64(n), 10), true
		}
		return strconv.AppendInt(b, n, 10), true
	case f.IP != nil:
		ip, ok := f.IP(e, a)
		if !ok {
			return b, false
		}
		return ip.AppendTo(b), true
	}
	return b, false
}

// AppendTimeOfDay renders ns since the epoch as Falco prints times in output
// text: "15:04:05.000000000", in UTC.
func AppendTimeOfDay(b []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(b, "15:04:05.000000000")
}
