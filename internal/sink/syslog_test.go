package sink

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// message is an RFC 5424 syslog message.
type message struct {
	pri                               int
	timestamp                         time.Time
	host, app, procID, msgID, sd, msg string
}

// parse5424 parses one message strictly by RFC 5424's grammar:
// <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
// STRUCTURED-DATA [SP MSG].
func parse5424(b []byte) (message, error) {
	var m message
	s := string(b)
	if !strings.HasPrefix(s, "<") {
		return m, errors.New("no <PRI>")
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return m, errors.New("PRI is not 1 to 3 digits")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri > 191 || (s[1] == '0' && end > 2) {
		return m, fmt.Errorf("bad PRI %q", s[1:end])
	}
	m.pri = pri
	s = s[end+1:]
	if !strings.HasPrefix(s, "1 ") {
		return m, errors.New("VERSION is not 1")
	}
	s = s[2:]
	field := func(name string, max int) (string, error) {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return "", fmt.Errorf("%s: no space after it", name)
		}
		f := s[:i]
		s = s[i+1:]
		if len(f) == 0 || len(f) > max {
			return "", fmt.Errorf("%s %q: length not within 1..%d", name, f, max)
		}
		for j := 0; j < len(f); j++ {
			if f[j] < 33 || f[j] > 126 {
				return "", fmt.Errorf("%s %q: byte %#x is not PRINTUSASCII", name, f, f[j])
			}
		}
		return f, nil
	}
	ts, err := field("TIMESTAMP", 32)
	if err != nil {
		return m, err
	}
	if ts != "-" {
		date, _, _ := strings.Cut(ts, ".")
		if frac := strings.TrimSuffix(strings.TrimPrefix(ts, date+"."), "Z"); strings.Contains(ts, ".") && (len(frac) < 1 || len(frac) > 6) {
			return m, fmt.Errorf("TIME-SECFRAC %q is not 1 to 6 digits", frac)
		}
		if m.timestamp, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return m, fmt.Errorf("TIMESTAMP: %v", err)
		}
	}
	if m.host, err = field("HOSTNAME", 255); err != nil {
		return m, err
	}
	if m.app, err = field("APP-NAME", 48); err != nil {
		return m, err
	}
	if m.procID, err = field("PROCID", 128); err != nil {
		return m, err
	}
	if m.msgID, err = field("MSGID", 32); err != nil {
		return m, err
	}
	switch {
	case strings.HasPrefix(s, "-"):
		m.sd, s = "-", s[1:]
	case strings.HasPrefix(s, "["):
		i := strings.Index(s, "] ")
		if i < 0 {
			return m, errors.New("STRUCTURED-DATA does not end")
		}
		m.sd, s = s[:i+1], s[i+1:]
	default:
		return m, errors.New("no STRUCTURED-DATA")
	}
	if s != "" {
		if s[0] != ' ' {
			return m, errors.New("no space before MSG")
		}
		m.msg = s[1:]
	}
	return m, nil
}

// collector receives syslog messages on loopback.
type collector struct {
	mu    sync.Mutex
	msgs  []message
	errs  []error
	conns []net.Conn
}

// hangUp closes the collector's side of every TCP connection, as a
// collector restarting does.
func (c *collector) hangUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func (c *collector) add(b []byte) {
	m, err := parse5424(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%w: %q", err, b))
		return
	}
	c.msgs = append(c.msgs, m)
}

func (c *collector) got(t *testing.T) []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Errorf("invalid message: %v", err)
	}
	return append([]message(nil), c.msgs...)
}

func listenUDP(t *testing.T, network, addr string) (*collector, string) {
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &collector{}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			c.add(buf[:n])
		}
	}()
	return c, pc.LocalAddr().String()
}

// listenTCP is a collector reading octet-counted frames (RFC 6587 3.4.1):
// MSG-LEN SP SYSLOG-MSG, MSG-LEN a non-zero digit then digits.
func listenTCP(t *testing.T) (*collector, net.Listener) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := &collector{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					head, err := r.ReadString(' ')
					if err != nil {
						return
					}
					n, err := strconv.Atoi(strings.TrimSuffix(head, " "))
					if err != nil || n <= 0 || head[0] == '0' {
						c.mu.Lock()
						c.errs = append(c.errs, fmt.Errorf("bad MSG-LEN %q", head))
						c.mu.Unlock()
						return
					}
					msg := make([]byte, n)
					if _, err := io.ReadFull(r, msg); err != nil {
						return
					}
					c.add(msg)
				}
			}()
		}
	}()
	return c, ln
}

// checkMessages checks what every message must carry: vigil's header, the
// severity of the priority and a MSG in the sink's format.
func checkMessages(t *testing.T, msgs []message, facility int, format output.Format) {
	t.Helper()
	for _, m := range msgs {
		if m.pri != facility*8+4 || m.host != "host-1" || m.app != "vigil" || m.msgID != "alert" || m.sd != "-" ||
			!m.timestamp.Equal(time.Unix(1_700_000_000, int64(m.timestamp.Nanosecond()))) {
			t.Errorf("header %+v", m)
		}
		if format == output.FormatCEF {
			if !strings.HasPrefix(m.msg, "CEF:0|vigil|vigil|test|Read sensitive file|Read sensitive file|5|") {
				t.Errorf("CEF message %q", m.msg)
			}
			continue
		}
		decodeFalco(t, []byte(m.msg))
	}
}

func TestSyslogUDP(t *testing.T) {
	c, addr := listenUDP(t, "udp", "127.0.0.1:0")
	s := newSet(t, nil, "  - type: syslog\n    network: udp\n    address: "+addr+"\n    facility: local0\n")
	for i := range 5 {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	waitFor(t, 5*time.Second, "5 messages", func() bool { return len(c.got(t)) == 5 })
	checkMessages(t, c.got(t), 16, output.FormatFalco)
}

func TestSyslogTCPCEF(t *testing.T) {
	c, ln := listenTCP(t)
	s := newSet(t, nil, "  - type: syslog\n    network: tcp\n    address: "+ln.Addr().String()+"\n    format: cef\n")
	for i := range 5 {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	waitFor(t, 5*time.Second, "5 messages", func() bool { return len(c.got(t)) == 5 })
	checkMessages(t, c.got(t), 1, output.FormatCEF)
}

func TestSyslogUnixDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	c, _ := listenUDP(t, "unixgram", path)
	s := newSet(t, nil, "  - type: syslog\n    network: unix\n    address: "+path+"\n")
	s.Alert(testAlert(1, rules.PriorityWarning), rules.PriorityWarning)
	waitFor(t, 5*time.Second, "1 message", func() bool { return len(c.got(t)) == 1 })
	checkMessages(t, c.got(t), 1, output.FormatFalco)
}

// A TCP collector that hangs up: the sink dials again, backoff apart,
// and messages arrive on the new connection.
func TestSyslogTCPReconnects(t *testing.T) {
	c, ln := listenTCP(t)
	s := newSet(t, nil, "  - type: syslog\n    network: tcp\n    address: "+ln.Addr().String()+"\n    backoff: 10ms\n    max_backoff: 50ms\n")
	s.Alert(testAlert(1, rules.PriorityWarning), rules.PriorityWarning)
	waitFor(t, 5*time.Second, "the first message", func() bool { return len(c.got(t)) == 1 })
	c.hangUp()
	// The first writes after the hang-up may still be taken by the kernel
	// and lost with the connection; keep sending until one arrives anew.
	n := 2
	waitFor(t, 10*time.Second, "a message on a new connection", func() bool {
		s.Alert(testAlert(n, rules.PriorityWarning), rules.PriorityWarning)
		n++
		return len(c.got(t)) > 1
	})
	if st := s.Sinks()[0]; st.Restarts == 0 {
		t.Errorf("stats %+v, want a reconnection counted", st)
	}
	checkMessages(t, c.got(t), 1, output.FormatFalco)
}

// Unparsable input to the parser is refused: the test parser is strict.
func TestParse5424Rejects(t *testing.T) {
	for _, bad := range []string{
		"<13>1 2023-11-14T22:13:20.1234567Z h a p m - x", // 7 fraction digits
		"<192>1 - h a p m - x",                           // PRI too large
		"<13>2 - h a p m - x",                            // version
		"<13>1 - h\xff a p m - x",                         // non-ASCII host
		"<13>1 - h a p m x",                              // no SD
	} {
		if _, err := parse5424([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
