package sink

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/sink/sinktest"
	"github.com/vigil-sensor/vigil/rules"
)

// checkMessages checks what every message must carry: vigil's header, the
// severity of the priority and a MSG in the sink's format.
func checkMessages(t *testing.T, msgs []sinktest.Message, facility int, format output.Format) {
	t.Helper()
	for _, m := range msgs {
		if m.Pri != facility*8+4 || m.Host != "host-1" || m.App != "vigil" || m.MsgID != "alert" || m.SD != "-" ||
			!m.Timestamp.Equal(time.Unix(1_700_000_000, int64(m.Timestamp.Nanosecond()))) {
			t.Errorf("header %+v", m)
		}
		if format == output.FormatCEF {
			if !strings.HasPrefix(m.Msg, "CEF:0|vigil|vigil|test|Read sensitive file|Read sensitive file|5|") {
				t.Errorf("CEF message %q", m.Msg)
			}
			continue
		}
		sinktest.DecodeFalco(t, []byte(m.Msg))
	}
}

func TestSyslogUDP(t *testing.T) {
	c := sinktest.ListenPacket(t, "udp", "127.0.0.1:0")
	addr := c.Addr
	s := newSet(t, nil, "  - type: syslog\n    network: udp\n    address: "+addr+"\n    facility: local0\n")
	for i := range 5 {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	sinktest.WaitFor(t, 5*time.Second, "5 messages", func() bool { return len(c.Messages(t)) == 5 })
	checkMessages(t, c.Messages(t), 16, output.FormatFalco)
}

func TestSyslogTCPCEF(t *testing.T) {
	c := sinktest.ListenTCP(t)
	s := newSet(t, nil, "  - type: syslog\n    network: tcp\n    address: "+c.Addr+"\n    format: cef\n")
	for i := range 5 {
		s.Alert(testAlert(i, rules.PriorityWarning), rules.PriorityWarning)
	}
	sinktest.WaitFor(t, 5*time.Second, "5 messages", func() bool { return len(c.Messages(t)) == 5 })
	checkMessages(t, c.Messages(t), 1, output.FormatCEF)
}

func TestSyslogUnixDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	c := sinktest.ListenPacket(t, "unixgram", path)
	s := newSet(t, nil, "  - type: syslog\n    network: unix\n    address: "+path+"\n")
	s.Alert(testAlert(1, rules.PriorityWarning), rules.PriorityWarning)
	sinktest.WaitFor(t, 5*time.Second, "1 message", func() bool { return len(c.Messages(t)) == 1 })
	checkMessages(t, c.Messages(t), 1, output.FormatFalco)
}

// A TCP collector that hangs up: the sink dials again, backoff apart,
// and messages arrive on the new connection.
func TestSyslogTCPReconnects(t *testing.T) {
	c := sinktest.ListenTCP(t)
	s := newSet(t, nil, "  - type: syslog\n    network: tcp\n    address: "+c.Addr+"\n    backoff: 10ms\n    max_backoff: 50ms\n")
	s.Alert(testAlert(1, rules.PriorityWarning), rules.PriorityWarning)
	sinktest.WaitFor(t, 5*time.Second, "the first message", func() bool { return len(c.Messages(t)) == 1 })
	c.HangUp()
	// The first writes after the hang-up may still be taken by the kernel
	// and lost with the connection; keep sending until one arrives anew.
	n := 2
	sinktest.WaitFor(t, 10*time.Second, "a message on a new connection", func() bool {
		s.Alert(testAlert(n, rules.PriorityWarning), rules.PriorityWarning)
		n++
		return len(c.Messages(t)) > 1
	})
	if st := s.Sinks()[0]; st.Restarts == 0 {
		t.Errorf("stats %+v, want a reconnection counted", st)
	}
	checkMessages(t, c.Messages(t), 1, output.FormatFalco)
}

// Unparsable input to the parser is refused: the test parser is strict.
func TestParse5424Rejects(t *testing.T) {
	for _, bad := range []string{
		"<13>1 2023-11-14T22:13:20.1234567Z h a p m - x", // 7 fraction digits
		"<192>1 - h a p m - x",                           // PRI too large
		"<13>2 - h a p m - x",                            // version
		"<13>1 - h\xff a p m - x",                        // non-ASCII host
		"<13>1 - h a p m x",                              // no SD
	} {
		if _, err := sinktest.Parse5424([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
