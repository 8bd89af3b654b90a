package output

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vigil-sensor/vigil/event"
)

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string. Control characters are escaped
// and each byte of invalid UTF-8 becomes U+FFFD, so the line stays valid
// JSON whatever the kernel read from user memory.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendValue appends f's value for e as a typed JSON value: numbers as
// numbers, bools as booleans, addresses and strings as strings, and null
// when the event has no value.
func AppendValue(b []byte, f *event.Field, e *event.Event, a event.Arg) []byte {
	var (
		str string
		num int64
		ip  netip.Addr
		ok  bool
	)
	switch {
	case f.Str != nil:
		str, ok = f.Str(e, a)
	case f.Num != nil:
		num, ok = f.Num(e, a)
	case f.IP != nil:
		ip, ok = f.IP(e, a)
	}
	return AppendTyped(b, f.Type, ok, str, num, ip)
}

// AppendTyped appends an extracted value of type t as JSON: the one of str,
// num and ip that t uses, or null when ok is false or t is unknown (0).
func AppendTyped(b []byte, t event.FieldType, ok bool, str string, num int64, ip netip.Addr) []byte {
	switch {
	case !ok || t == 0:
		return append(b, "null"...)
	case t == event.FieldString:
		return AppendString(b, str)
	case t == event.FieldBool:
		return strconv.AppendBool(b, num != 0)
	case t == event.FieldUint || t == event.FieldPort:
		return strconv.AppendUint(b, uint64(num), 10)
	case t.Numeric():
		return strconv.AppendInt(b, num, 10)
	}
	b = append(b, '"')
	b = ip.AppendTo(b)
	return append(b, '"')
}

// AppendTime appends ns since the epoch as an RFC 3339 UTC time with
// nanoseconds, Falco's "time" member.
func AppendTime(b []byte, ns int64) []byte {
	b = append(b, '"')
	b = time.Unix(0, ns).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z")
	return append(b, '"')
}
