// Package sinktest has the receiving ends of vigil's sinks for tests, on
// loopback only: an HTTP intake that records requests and answers as told,
// syslog collectors (UDP, unix datagram, TCP with octet counting) that parse
// every message strictly by RFC 5424, and the check falcosidekick makes of
// a request body.
package sinktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is what an Intake saw of one request.
type Request struct {
	Method, Path, ContentType, UserAgent, Authorization string
	Body                                                []byte
}

// Intake is an HTTP handler that answers with the statuses of Answer in
// turn (200 once they run out) and keeps every request.
type Intake struct {
	mu     sync.Mutex
	reqs   []Request
	Answer []int
}

func (in *Intake) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	in.mu.Lock()
	in.reqs = append(in.reqs, Request{req.Method, req.URL.Path, req.Header.Get("Content-Type"), req.Header.Get("User-Agent"),
		req.Header.Get("Authorization"), body})
	code := http.StatusOK
	if len(in.Answer) > 0 {
		code, in.Answer = in.Answer[0], in.Answer[1:]
	}
	in.mu.Unlock()
	w.WriteHeader(code)
}

// Requests returns the requests so far.
func (in *Intake) Requests() []Request {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Request(nil), in.reqs...)
}

// FalcoPayload is what falcosidekick decodes from a request body
// (its types.FalcoPayload); it refuses a body without output.
type FalcoPayload struct {
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Time         time.Time      `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags,omitempty"`
	Hostname     string         `json:"hostname,omitempty"`
}

// DecodeFalco decodes b as falcosidekick does, failing t where
// falcosidekick would refuse it.
func DecodeFalco(t testing.TB, b []byte) FalcoPayload {
	t.Helper()
	var p FalcoPayload
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&p); err != nil || p.Output == "" {
		t.Fatalf("falcosidekick would refuse %q: %v", b, err)
	}
	return p
}

// Message is an RFC 5424 syslog message.
type Message struct {
	Pri                               int
	Timestamp                         time.Time
	Host, App, ProcID, MsgID, SD, Msg string
}

// Parse5424 parses one message strictly by RFC 5424's grammar:
// <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
// STRUCTURED-DATA [SP MSG], header fields of PRINTUSASCII within their
// lengths, at most six digits of second fraction.
func Parse5424(b []byte) (Message, error) {
	var m Message
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
	m.Pri = pri
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
		if _, frac, ok := strings.Cut(ts, "."); ok {
			digits := strings.IndexFunc(frac, func(r rune) bool { return r < '0' || r > '9' })
			if digits < 1 || digits > 6 {
				return m, fmt.Errorf("TIME-SECFRAC of %q is not 1 to 6 digits", ts)
			}
		}
		if m.Timestamp, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return m, fmt.Errorf("TIMESTAMP: %v", err)
		}
	}
	if m.Host, err = field("HOSTNAME", 255); err != nil {
		return m, err
	}
	if m.App, err = field("APP-NAME", 48); err != nil {
		return m, err
	}
	if m.ProcID, err = field("PROCID", 128); err != nil {
		return m, err
	}
	if m.MsgID, err = field("MSGID", 32); err != nil {
		return m, err
	}
	switch {
	case strings.HasPrefix(s, "-"):
		m.SD, s = "-", s[1:]
	case strings.HasPrefix(s, "["):
		i := strings.Index(s, "]")
		if i < 0 {
			return m, errors.New("STRUCTURED-DATA does not end")
		}
		m.SD, s = s[:i+1], s[i+1:]
	default:
		return m, errors.New("no STRUCTURED-DATA")
	}
	if s != "" {
		if s[0] != ' ' {
			return m, errors.New("no space before MSG")
		}
		m.Msg = s[1:]
	}
	return m, nil
}

// Collector is a syslog collector on loopback.
type Collector struct {
	// Addr is where it listens: host:port, or a socket path.
	Addr string

	mu    sync.Mutex
	msgs  []Message
	errs  []error
	conns []net.Conn
}

func (c *Collector) add(b []byte) {
	m, err := Parse5424(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%w: %q", err, b))
		return
	}
	c.msgs = append(c.msgs, m)
}

func (c *Collector) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

// Messages returns the messages received so far, failing t for any that
// was not valid RFC 5424 (or not validly framed).
func (c *Collector) Messages(t testing.TB) []Message {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Errorf("invalid syslog message: %v", err)
	}
	c.errs = nil
	return append([]Message(nil), c.msgs...)
}

// HangUp closes the collector's side of every TCP connection, as a
// collector restarting does.
func (c *Collector) HangUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// ListenPacket starts a collector of one message per datagram: network
// "udp" (address 127.0.0.1:0 for a port the kernel picks) or "unixgram" (a
// socket path).
func ListenPacket(t testing.TB, network, address string) *Collector {
	t.Helper()
	pc, err := net.ListenPacket(network, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &Collector{Addr: pc.LocalAddr().String()}
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
	return c
}

// ListenTCP starts a collector on a loopback TCP port reading
// octet-counted frames (RFC 6587 3.4.1): MSG-LEN SP SYSLOG-MSG, MSG-LEN a
// non-zero digit and digits.
func ListenTCP(t testing.TB) *Collector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := &Collector{Addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			go c.readFrames(conn)
		}
	}()
	return c
}

func (c *Collector) readFrames(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		head, err := r.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSuffix(head, " "))
		if err != nil || n <= 0 || head[0] == '0' {
			c.fail(fmt.Errorf("bad MSG-LEN %q", head))
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		c.add(msg)
	}
}

// Stalled starts an HTTP intake on loopback that takes requests and never
// answers them until the test ends.
func Stalled(t testing.TB) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}

// WaitFor polls cond until it holds, failing t after d: what a receiver
// gets arrives from another process or goroutine.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Refused returns a loopback TCP address where nothing listens, so that
// every connection to it is refused: a collector that is down.
func Refused(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
