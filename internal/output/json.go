package output

import (
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vigil-sensor/vigil/event"
)

const hex = "0123456789abcdef"

// plain marks the bytes a JSON string holds as they are: printable ASCII
// other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Masks for testing the eight bytes of a word at once.
const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 returns s[i:i+8] as a little-endian word (one load: the compiler
// combines the byte loads).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// hasZero reports whether a byte of x is zero.
func hasZero(x uint64) bool { return (x-lows)&^x&highs != 0 }

// plain8 reports whether all eight bytes of x are plain (the plain table):
// none is 0x80 or above, below 0x20, '"', '\\' or DEL.
func plain8(x uint64) bool {
	return x&highs == 0 && (x-0x20*lows)&^x&highs == 0 &&
		!hasZero(x^('"'*lows)) && !hasZero(x^('\\'*lows)) && !hasZero(x^(0x7f*lows))
}

// AppendString appends s as a JSON string. Control characters are escaped
// and each byte of invalid UTF-8 becomes U+FFFD, so the line stays valid
// JSON whatever the kernel read from user memory.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the inside of AppendString's JSON string, without
// the quotes, so that a string can be built from several pieces.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Runs of plain ASCII, most of any string, are skipped eight bytes
		// a step, then one table load a byte.
		for i+8 <= len(s) && plain8(load64(s, i)) {
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
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
	return append(b, s[start:]...)
}

// AppendValue appends f's value for e as a typed JSON value: numbers as
// numbers, bools as booleans, addresses and strings as strings, and null
// when the event has no value.
func AppendValue(b []byte, f *event.Field, e *event.Event, a event.Arg) []byte {
	str, num, ip, ok := extract(f, e, a)
	return AppendTyped(b, f.Type, ok, str, num, ip)
}

// extract reads f's value for e: the one of str, num and ip that f's type
// uses, and ok false when the event has none.
func extract(f *event.Field, e *event.Event, a event.Arg) (str string, num int64, ip netip.Addr, ok bool) {
	switch {
	case f.Str != nil:
		str, ok = f.Str(e, a)
	case f.Num != nil:
		num, ok = f.Num(e, a)
	case f.IP != nil:
		ip, ok = f.IP(e, a)
	}
	return str, num, ip, ok
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
	// By hand, as 2006-01-02T15:04:05.000000000Z: time.AppendFormat
	// interprets its layout on every call, a sixth of an event record's
	// cost. An int64 of nanoseconds spans the years 1677 to 2262, always
	// four digits.
	t := time.Unix(0, ns).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = appendPadded(b, year, 4)
	b = append(b, '-')
	b = appendPadded(b, int(month), 2)
	b = append(b, '-')
	b = appendPadded(b, day, 2)
	b = append(b, 'T')
	b = appendPadded(b, hour, 2)
	b = append(b, ':')
	b = appendPadded(b, minute, 2)
	b = append(b, ':')
	b = appendPadded(b, sec, 2)
	b = append(b, '.')
	b = appendPadded(b, t.Nanosecond(), 9)
	return append(b, 'Z', '"')
}

// appendPadded appends v, which is not negative, in decimal with leading
// zeros to width digits.
func appendPadded(b []byte, v, width int) []byte {
	b = slices.Grow(b, width)
	n := len(b) + width
	b = b[:n]
	for i := n - 1; i >= n-width; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}
