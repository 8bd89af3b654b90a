package sink

import (
	"strconv"
	"time"
)

// Message ids of syslog messages, by record.
const (
	msgAlert    = "alert"
	msgInternal = "internal"
	msgEvent    = "event"
)

// framer turns an encoded line into what a sink's queue holds.
type framer interface {
	frame(b, line []byte, ns int64, severity uint8, msgID string) []byte
}

// lines is stdout, file and program framing: the line as it is.
type lines struct{}

func (lines) frame(b, line []byte, _ int64, _ uint8, _ string) []byte { return append(b, line...) }

// bodies is HTTP framing: the line without its newline, as Falco posts it.
type bodies struct{}

func (bodies) frame(b, line []byte, _ int64, _ uint8, _ string) []byte {
	return append(b, trimNewline(line)...)
}

func trimNewline(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		return line[:n-1]
	}
	return line
}

// syslogHeader is RFC 5424 framing: the header, then the line without its
// newline as MSG. The destination adds the transport's framing.
type syslogHeader struct {
	facility int
	// host and procID are the HOSTNAME and PROCID fields, made of the
	// printable ASCII the RFC allows.
	host, procID string
}

func newSyslogHeader(facility int, hostname string, pid int) *syslogHeader {
	return &syslogHeader{facility: facility, host: headerField(hostname, 255), procID: strconv.Itoa(pid)}
}

// headerField keeps a header field within RFC 5424's PRINTUSASCII (33-126)
// and max bytes; empty becomes the nil value "-".
func headerField(s string, maxLen int) string {
	b := make([]byte, 0, min(len(s), maxLen))
	for i := 0; i < len(s) && len(b) < maxLen; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// frame appends <PRI>1 TIMESTAMP HOSTNAME vigil PROCID MSGID - MSG. The
// timestamp is the record's, in UTC with microseconds (the RFC's most).
func (h *syslogHeader) frame(b, line []byte, ns int64, severity uint8, msgID string) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(h.facility*8+int(severity)), 10)
	b = append(b, ">1 "...)
	b = time.Unix(0, ns).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = append(b, h.host...)
	b = append(b, " vigil "...)
	b = append(b, h.procID...)
	b = append(b, ' ')
	b = append(b, msgID...)
	b = append(b, " - "...)
	return append(b, trimNewline(line)...)
}
