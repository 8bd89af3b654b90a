package main

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

func TestParseFloorReport(t *testing.T) {
	report := `{"mode":"ringbuf","pid":42,"hooks":{` +
		`"openat_enter":{"hits":1010,"drops":0,"records":0,"matched":0},` +
		`"openat_exit":{"hits":1010,"drops":3,"records":1007,"matched":1000},` +
		`"exec":{"hits":7,"drops":1,"records":6,"matched":5},` +
		`"connect_exit":{"hits":9,"drops":0,"records":9,"matched":9}}}`
	for _, tc := range []struct {
		loop loadgen.Loop
		want uint64
	}{
		{loadgen.LoopOpen, 1000},
		{loadgen.LoopExec, 5},
		{loadgen.LoopConnect, 9},
	} {
		o, err := parseFloorReport([]byte(report), tc.loop)
		if err != nil {
			t.Fatal(err)
		}
		want := observed{delivered: tc.want, counted: true, drops: 4, dropsKnown: true}
		if !reflect.DeepEqual(o, want) {
			t.Errorf("%s: got %+v, want %+v", tc.loop, o, want)
		}
	}
	counter := strings.Replace(report, "ringbuf", "counter", 1)
	o, err := parseFloorReport([]byte(counter), loadgen.LoopOpen)
	if err != nil {
		t.Fatal(err)
	}
	if o.counted {
		t.Error("counter mode counted deliveries")
	}
	for _, bad := range []string{"", "{}", `{"mode":"ringbuf","hooks":{}}`, "not json"} {
		if _, err := parseFloorReport([]byte(bad), loadgen.LoopOpen); err == nil {
			t.Errorf("parseFloorReport(%q) succeeded", bad)
		}
	}
}

// Lines shaped as internal/output writes them.
const vigilOutput = `{"time":"2026-01-01T00:00:00.000000001Z","hostname":"h","source":"syscall","event":"openat","fields":{"evt.type":"openat","fd.name":"/tmp/x","proc.pid":42,"proc.ppid":1}}
{"time":"2026-01-01T00:00:00.000000002Z","hostname":"h","source":"syscall","event":"openat","fields":{"evt.type":"openat","proc.pid":42,"proc.ppid":1}}
{"time":"2026-01-01T00:00:00.000000003Z","hostname":"h","source":"syscall","event":"openat","fields":{"evt.type":"openat","proc.pid":7,"proc.ppid":42}}
{"time":"2026-01-01T00:00:00.000000004Z","hostname":"h","source":"syscall","event":"execve","fields":{"evt.type":"execve","proc.pid":43,"proc.ppid":42}}
{"time":"2026-01-01T00:00:00.000000005Z","hostname":"h","source":"syscall","event":"connect","fields":{"evt.type":"connect","proc.pid":42}}
{"time":"2026-01-01T00:00:00.000000006Z","hostname":"h","source":"syscall","event":"clone","fields":{"proc.pid":42}}
{"time":"2026-01-01T00:00:01Z","rule":"Read sensitive file","priority":"Warning","output":"x","output_fields":{"proc.pid":42},"hostname":"h","source":"syscall","tags":[]}
{"time":"2026-01-01T00:00:01Z","rule":"vigil internal: event drop","priority":"Warning","output":"x","output_fields":{"open":3,"total":3},"hostname":"h","source":"internal","tags":[]}
{"time":"2026-01-01T00:00:02Z","rule":"vigil internal: event drop","priority":"Warning","output":"x","output_fields":{"open":2,"exec":1,"total":3},"hostname":"h","source":"internal","tags":[]}
{"time":"2026-01-01T00:00:02Z","rule":"vigil internal: output drop","priority":"Warning","output":"x","output_fields":{"records":4},"hostname":"h","source":"internal","tags":[]}
{"time":"2026-01-01T00:00:02Z","rule":"vigil internal: health","priority":"Debug","output":"events=100","output_fields":{"events":100,"note":"fine"},"hostname":"h","source":"internal","tags":[]}

`

func TestParseVigilOutput(t *testing.T) {
	for _, tc := range []struct {
		loop   loadgen.Loop
		events bool
		want   observed
	}{
		// Drop records count since the previous one: 3+3 kernel, 4 output.
		{loadgen.LoopOpen, true, observed{delivered: 2, counted: true, drops: 6, outputDrops: 4, dropsKnown: true, alerts: 1}},
		{loadgen.LoopExec, true, observed{delivered: 1, counted: true, drops: 6, outputDrops: 4, dropsKnown: true, alerts: 1}},
		{loadgen.LoopConnect, true, observed{delivered: 1, counted: true, drops: 6, outputDrops: 4, dropsKnown: true, alerts: 1}},
		{loadgen.LoopOpen, false, observed{delivered: 2, counted: false, drops: 6, outputDrops: 4, dropsKnown: true, alerts: 1}},
	} {
		got, err := parseVigilOutput(strings.NewReader(vigilOutput), tc.loop, 42, tc.events)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s events=%v: got %+v, want %+v", tc.loop, tc.events, got, tc.want)
		}
	}
	for _, bad := range []string{
		"{\"source\":\n",
		`{"rule":"vigil internal: event drop","output_fields":{"total":"x"},"source":"internal"}`,
		`{"rule":"vigil internal: output drop","output_fields":{"records":-1},"source":"internal"}`,
	} {
		if _, err := parseVigilOutput(strings.NewReader(bad), loadgen.LoopOpen, 42, true); err == nil {
			t.Errorf("parseVigilOutput accepted %s", bad)
		}
	}
}

func TestParseVigilBackwardsCounter(t *testing.T) {
	// vigil once reported its counters after they were reset, as a delta
	// of 2^64-15582 after a real 15582: summed, the two would cancel out.
	out := `{"rule":"vigil internal: event drop","output_fields":{"open":15582,"total":15582},"source":"internal"}
{"rule":"vigil internal: event drop","output_fields":{"open":18446744073709536034,"total":18446744073709536034},"source":"internal"}
{"rule":"vigil internal: output drop","output_fields":{"records":18446744073709536034},"source":"internal"}
`
	got, err := parseVigilOutput(strings.NewReader(out), loadgen.LoopOpen, 42, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.drops != 15582 || got.outputDrops != 0 || len(got.anomalies) != 2 {
		t.Errorf("got drops %d, output drops %d, anomalies %q", got.drops, got.outputDrops, got.anomalies)
	}
	s := summarize(loadgen.LoopOpen, "vigil", []sample{{res: res(10, 1), traced: true, obs: got}}, "")
	if d := formatDrops(s); d != "15582!" {
		t.Errorf("drops cell %q, want 15582!", d)
	}
}

func TestParseLost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    uint64
		isOK bool
	}{
		{"Lost 12 events", 12, true},
		{"Lost 3 events on CPU #1!", 3, true},
		{"", 0, false},
		{"1234 lost+found 3 0 /lost+found", 0, false},
		{"lost many events", 0, false},
		{"Lost 1 event", 1, true},
	} {
		n, ok := parseLost([]byte(tc.in))
		if n != tc.n || ok != tc.isOK {
			t.Errorf("parseLost(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.isOK)
		}
	}
}

func TestParseToolOutput(t *testing.T) {
	opensnoop := "PID    COMM              FD ERR PATH\n" +
		"42     loadgen            3   0 /tmp/vigil-loadgen-1/target\n" +
		"42     loadgen            3   0 /tmp/vigil-loadgen-1/target\n" +
		"7      sh                 3   0 /etc/ld.so.cache\n" +
		"Lost 5 events on CPU #0!\n" +
		"42     loadgen            3   0 /tmp/vigil-loadgen-1/ta" // cut at the end
	got, err := parseToolOutput(strings.NewReader(opensnoop), []byte("Lost 2 events on CPU #1!\n"), fieldIs(0), 42)
	if err != nil {
		t.Fatal(err)
	}
	if want := (observed{delivered: 3, counted: true, drops: 7, dropsKnown: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("opensnoop: got %+v, want %+v", got, want)
	}

	execsnoop := "PCOMM            PID    PPID   RET ARGS\n" +
		"true             100    42       0 /bin/busybox true\n" +
		"true             42     1        0 /bin/busybox true\n"
	got, err = parseToolOutput(strings.NewReader(execsnoop), nil, fieldIs(2), 42)
	if err != nil {
		t.Fatal(err)
	}
	if got.delivered != 1 {
		t.Errorf("execsnoop: delivered %d, want 1", got.delivered)
	}

	// bpftrace prints its lost-event count on stdout.
	bpftrace := "Attaching 1 probe...\n42 loadgen /tmp/t\n\nLost 9 events\n42 loadgen /tmp/t\n"
	got, err = parseToolOutput(strings.NewReader(bpftrace), nil, fieldIs(0), 42)
	if err != nil {
		t.Fatal(err)
	}
	if want := (observed{delivered: 2, counted: true, drops: 9, dropsKnown: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("bpftrace: got %+v, want %+v", got, want)
	}
}

func TestVigilMatch(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(vigilOutput), "\n")
	for _, tc := range []struct {
		loop loadgen.Loop
		pid  int
		want []int // indexes of matching lines
	}{
		{loadgen.LoopOpen, 42, []int{0, 1}},
		{loadgen.LoopOpen, 4, nil}, // a prefix of 42 is not 42
		{loadgen.LoopOpen, 7, []int{2}},
		{loadgen.LoopExec, 42, []int{3}},
		{loadgen.LoopConnect, 42, []int{4}},
	} {
		var got []int
		m := vigilMatch(tc.loop)
		for i, line := range lines {
			if m([]byte(line), tc.pid) {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s pid %d: matched lines %v, want %v", tc.loop, tc.pid, got, tc.want)
		}
	}
}

func TestTailer(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("old line\n")
	tail, err := newTailer(f)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	collect := func(line []byte) bool {
		seen = append(seen, string(line))
		return string(line) == "stop"
	}
	f.WriteString("a\nb")
	if found, err := tail.scan(collect); err != nil || found {
		t.Fatalf("scan = %v, %v", found, err)
	}
	f.WriteString("c\nstop\nafter\n")
	if found, err := tail.scan(collect); err != nil || !found {
		t.Fatalf("scan = %v, %v", found, err)
	}
	// Only whole lines appended after the tailer was made, up to "stop".
	if want := []string{"a", "bc", "stop"}; !slices.Equal(seen, want) {
		t.Errorf("lines %q, want %q", seen, want)
	}
}
