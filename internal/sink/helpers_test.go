package sink

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/config"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// testEvent is an open of /etc/shadow by cat, with bytes no line may
// carry raw.
func testEvent(n int) *event.Event {
	e := &event.Event{Type: event.TypeOpenat, Num: uint64(n), Time: 1_700_000_000_000_000_000 + int64(n)*1000, PID: 10, TID: 10,
		Proc: &event.Process{PID: 10, Name: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Cmdline: "cat /etc/shadow\n\xff"}}
	e.Open.Name = []byte("/etc/shadow")
	e.Res = 3
	return e
}

// testAlert is alert number n, of priority p, on testEvent(n).
func testAlert(n int, p rules.Priority) *output.Alert {
	e := testEvent(n)
	name, _ := event.LookupField("fd.name")
	return &output.Alert{Time: e.Time, Rule: "Read sensitive file", Priority: p.String(), Source: output.SourceSyscall,
		Tags: []string{"T1555", "mitre_credential_access"}, Output: []byte("file opened (file=/etc/shadow)"), Event: e,
		AppendFields: func(b []byte) []byte {
			b = append(b, `"fd.name":`...)
			return output.AppendValue(b, name, e, event.Arg{})
		}}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testDeps(t *testing.T, stdout io.Writer) Deps {
	return Deps{Encoder: output.NewEncoder("host-1").WithVersion("test"), Stdout: stdout, Stderr: io.Discard,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)), QueueDepth: 1024, QueueBytes: 1 << 20,
		DrainTimeout: 5 * time.Second, UserAgent: "vigil/test"}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// newSet starts the sinks the YAML outputs list describes.
func newSet(t *testing.T, stdout io.Writer, outputs string) *Set {
	t.Helper()
	cfgs := parseOutputs(t, outputs)
	s, err := New(cfgs, testDeps(t, stdout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func parseOutputs(t *testing.T, outputs string) Configs {
	t.Helper()
	var cfgs Configs
	if err := config.Decode("test.yaml", []byte("outputs:\n"+outputs), []config.Key{{Name: "outputs", Dst: &cfgs}}); err != nil {
		t.Fatal(err)
	}
	return cfgs
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
