package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-sensor/vigil/event"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"new\nline\ttab\r", `"new\nline\ttab\r"`},
		{"\x00\x1f\x7f", `"\u0000\u001f\u007f"`},
		{"bad\xff\xfeutf8", `"bad\ufffd\ufffdutf8"`},
		{"ok é ✓", `"ok é ✓"`},
		{"\u2028", `"\u2028"`},
		{"trunc\xe2\x9c", `"trunc\ufffd\ufffd"`},
	}
	for _, tt := range tests {
		got := string(AppendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("AppendString(%q) is not JSON: %v", tt.in, err)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\xff", "\n\"\\", "é\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON for %q: %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip of valid %q gave %q", s, back)
		}
	})
}

func openEvent() *event.Event {
	e := &event.Event{Type: event.TypeOpenat, Num: 7, Time: 1_700_000_000_123_456_789, PID: 10, TID: 11, Res: -2,
		Proc: &event.Process{PID: 10, Name: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Args: "x\ny", Cmdline: "cat x\ny"}}
	e.Open.Name = []byte("/tmp/x\ny\"\xff")
	e.Open.Raw = []byte("x\ny\"\xff")
	e.Open.DirFD = -100
	return e
}

// The golden files pin the exact record shapes; regenerate with
// `go test ./internal/output -update` after an intended change.
func TestGoldenRecords(t *testing.T) {
	enc := NewEncoder("host-1")
	e := openEvent()
	name, _ := event.LookupField("fd.name")
	cases := map[string][]byte{
		"event_open.json": enc.AppendEvent(nil, e),
		"alert.json": enc.AppendAlert(nil, &Alert{Time: e.Time, Rule: "Read file", Priority: "Warning", Source: SourceSyscall,
			Tags: []string{"T1005", "filesystem"}, Output: []byte("file opened (file=/tmp/x)"),
			AppendFields: func(b []byte) []byte {
				b = append(b, `"fd.name":`...)
				return AppendValue(b, name, e, event.Arg{})
			}}),
		"internal_drop.json": enc.AppendInternal(nil, e.Time, "vigil internal: event drop", "Debug",
			"Kernel ring buffer drops", []Count{{"open", 3}, {"exec", 0}}),
	}
	for file, got := range cases {
		checkGolden(t, filepath.Join("testdata", file), got)
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Errorf("%s: invalid JSON: %v", file, err)
		}
	}
}

// checkGolden compares got with the golden file at path, which -update
// rewrites.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", path, got, want)
	}
}

func TestAlertFieldsTyped(t *testing.T) {
	enc := NewEncoder("h")
	e := openEvent()
	var fields []byte
	for i, n := range []string{"fd.num", "proc.pid", "evt.is_open_read", "fd.sip", "container.id"} {
		f, _ := event.LookupField(n)
		if i > 0 {
			fields = append(fields, ',')
		}
		fields = AppendString(fields, n)
		fields = append(fields, ':')
		fields = AppendValue(fields, f, e, event.Arg{})
	}
	line := enc.AppendAlert(nil, &Alert{Time: e.Time, Rule: "r", Priority: "Notice", Source: SourceSyscall,
		AppendFields: func(b []byte) []byte { return append(b, fields...) }})
	var got struct {
		OutputFields map[string]any `json:"output_fields"`
		Output       string
		Tags         []string
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"fd.num": float64(-1), "proc.pid": float64(10), "evt.is_open_read": true, "fd.sip": nil, "container.id": "host"}
	for k, v := range want {
		if got.OutputFields[k] != v {
			t.Errorf("output_fields[%s] = %#v, want %#v", k, got.OutputFields[k], v)
		}
	}
	if !strings.HasPrefix(got.Output, "22:13:20.123456789: Notice ") {
		t.Errorf("output %q lacks Falco's time and priority prefix", got.Output)
	}
	if got.Tags == nil {
		t.Errorf("tags must be an array, even when empty")
	}
}

func TestWriterDropsWhenFull(t *testing.T) {
	pr, pw := io.Pipe()
	w := NewWriter(pw, 2)
	// Nobody reads the pipe: the writer goroutine blocks on the first
	// record, two more fill the queue, the rest are dropped and counted.
	sent := 0
	for range 10 {
		if w.Submit(append(w.Buffer(), "x\n"...)) {
			sent++
		}
	}
	if sent < 2 || sent > 3 {
		t.Fatalf("accepted %d records with a queue of 2 and a blocked writer", sent)
	}
	if got := w.Stats().Dropped; got != uint64(10-sent) {
		t.Errorf("dropped = %d, want %d", got, 10-sent)
	}
	go io.Copy(io.Discard, pr)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.Stats().Written; got != uint64(sent) {
		t.Errorf("written = %d, want %d", got, sent)
	}
}

func TestWriterReportsBrokenPipe(t *testing.T) {
	r, wf, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	w := NewWriter(wf, 4)
	w.Submit(append(w.Buffer(), "x\n"...))
	<-w.Failed()
	if !errors.Is(w.Err(), syscall.EPIPE) {
		t.Errorf("Err() = %v, want EPIPE", w.Err())
	}
	if w.Submit(append(w.Buffer(), "y\n"...)) {
		t.Errorf("Submit after a failed write was accepted")
	}
	if err := w.Close(); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("Close() = %v, want EPIPE", err)
	}
	w.Close()
}

// AppendTime writes by hand what time.AppendFormat would, for every
// instant an int64 of nanoseconds holds.
func TestAppendTime(t *testing.T) {
	ns := []int64{0, 1, -1, 999_999_999, 1_700_000_000_123_456_789, math.MinInt64, math.MaxInt64, 951_782_400_000_000_000}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		ns = append(ns, int64(r.Uint64()))
	}
	for _, n := range ns {
		want := `"` + time.Unix(0, n).UTC().Format("2006-01-02T15:04:05.000000000Z") + `"`
		if got := string(AppendTime(nil, n)); got != want {
			t.Fatalf("AppendTime(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestPlain8 holds the word-at-a-time test of AppendString to the byte
// table: a word is plain only when each of its bytes is, for every byte
// value at every position among plain bytes, and for random words.
func TestPlain8(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			if got := plain8(load64(string(w), 0)); got != plain[c] {
				t.Errorf("byte %#x at %d: plain8 %v, want %v", c, pos, got, plain[c])
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		var w [8]byte
		want := true
		for i := range w {
			w[i] = byte(r.IntN(256))
			if r.IntN(2) == 0 {
				w[i] = byte(0x20 + r.IntN(0x60))
			}
			want = want && plain[w[i]]
		}
		if got := plain8(load64(string(w[:]), 0)); got != want {
			t.Fatalf("word % x: plain8 %v, want %v", w, got, want)
		}
	}
}
