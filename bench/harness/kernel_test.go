package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

// A "final counts" line as vigil's slog text handler writes it.
const finalCountsLine = `time=2026-12-02T15:00:00.000Z level=INFO msg="final counts" exec.emitted=12 exec.dropped=0 exec.filtered=0 exec.delivered=12 exec.skipped=0 exec.undecodable=0 exec.output_dropped=0 open.emitted=40 open.output_dropped=7 open.dropped=1 open.filtered=100000 open.delivered=39 fs.emitted=0 fs.dropped=0 fs.filtered=0 undecodable=0 records_written=3 records_dropped=0 output_http.sent=1 output_http.dropped=5 output_http.failed=0`

func TestParseFinalCounts(t *testing.T) {
	stderr := "time=x level=INFO msg=\"sensor attached\"\n" + finalCountsLine + "\n"
	got, err := parseFinalCounts([]byte(stderr))
	if err != nil {
		t.Fatal(err)
	}
	want := kernelCounts{"exec": {emitted: 12}, "open": {emitted: 40, dropped: 1, filtered: 100000, outputDropped: 7}, "fs": {}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got, err := parseFinalCounts([]byte("time=x msg=\"sensor attached\"\n")); got != nil || err != nil {
		t.Errorf("without final counts: %v, %v; want nil, nil", got, err)
	}
	if _, err := parseFinalCounts([]byte(`msg="final counts" records_written=3` + "\n")); err == nil {
		t.Error("final counts without kinds accepted")
	}
}

func TestWriteKernel(t *testing.T) {
	sums := []summary{
		{loop: loadgen.LoopFS, config: "none", issued: 100},
		{loop: loadgen.LoopFS, config: "vigil", issued: 100, kernel: kernelCounts{"fs": {emitted: 50, filtered: 350}, "open": {filtered: 100}, "dup": {}}},
		{loop: loadgen.LoopFS, config: "vigil-events", failure: "boom", kernel: kernelCounts{"fs": {emitted: 1}}},
	}
	var b strings.Builder
	if err := writeKernel(&b, sums); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"fs    vigil   fs    50       350       0        0.50        3.50", "fs    vigil   open  0        100       0        0.00        1.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dup") || strings.Contains(out, "vigil-events") {
		t.Errorf("output has a kind without events or a failed row:\n%s", out)
	}
	b.Reset()
	if err := writeKernel(&b, sums[:1]); err != nil || b.Len() != 0 {
		t.Errorf("without vigil rows: %q, %v; want nothing", b.String(), err)
	}
}

func TestCheckBudgets(t *testing.T) {
	row := func(l loadgen.Loop, config string, cpu float64) summary {
		return summary{loop: l, config: config, cpuRatio: cpu}
	}
	sums := []summary{
		row(loadgen.LoopOpen, "none", 1), row(loadgen.LoopOpen, "floor-ringbuf", 1.20), row(loadgen.LoopOpen, "vigil", 1.38),
		row(loadgen.LoopOpen, "vigil-falco-all", 1.52),
		row(loadgen.LoopTCP, "none", 1), row(loadgen.LoopTCP, "vigil", 1.16), row(loadgen.LoopTCP, "vigil-falco-all", 1.9),
		// Without vigil's rows a loop has no checks.
		row(loadgen.LoopUDP, "none", 1), row(loadgen.LoopUDP, "floor-ringbuf", 1.1),
	}
	sums = append(sums, summary{loop: loadgen.LoopDup2, config: "none", cpuRatio: 1}, summary{loop: loadgen.LoopDup2, config: "vigil", failure: "x", cpuRatio: 1.1})
	type c struct{ loop, check, measured, result string }
	var got []c
	for _, x := range checkBudgets(sums) {
		got = append(got, c{string(x.loop), x.check, x.measured, x.result})
	}
	want := []c{
		{"open", "vigil, default rules", "1.38x", "ok"},
		{"open", "vigil above floor-ringbuf", "+0.18x", "OVER"},
		{"open", "vigil-falco-all above vigil", "+0.14x", "OVER"},
		{"open", "vigil-falco-all, Falco's three files", "1.52x", "ok"},
		{"tcp", "vigil, default rules", "1.16x", "OVER"},
		{"tcp", "vigil-falco-all, Falco's three files", "1.90x", "ok"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("checks:\n got %v\nwant %v", got, want)
	}
	var b strings.Builder
	if err := writeBudgets(&b, checkBudgets(sums)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "tcp   vigil, default rules                  1.16x     <= 1.15x") {
		t.Errorf("budget table:\n%s", b.String())
	}
}

func TestWriteFlowing(t *testing.T) {
	var rep []filterKind
	if err := json.Unmarshal([]byte(`[
		{"kind":"open","kernel":"filtered","rules":3,"unbounded":[],"any_path":[]},
		{"kind":"exec","kernel":"unfiltered","rules":1,"unbounded":[{"rule":"e","types":["execve"]}]},
		{"kind":"fork","kernel":"unfiltered","process_table":true,"rules":0,"unbounded":[]},
		{"kind":"fs","kernel":"filtered","rules":2,"unbounded":[{"rule":"Modify binary dirs","types":["rename","unlinkat"]}],
		 "any_path":[{"rule":"chmods","types":["chmod"]}]},
		{"kind":"connect","kernel":"unfiltered","rules":1,"unbounded":[{"rule":"c","types":["connect"]}]},
		{"kind":"dup","kernel":"off","rules":0,"unbounded":[]}]`), &rep); err != nil {
		t.Fatal(err)
	}
	sums := []summary{
		{loop: loadgen.LoopFS, config: "vigil-falco-all", issued: 100, kernel: kernelCounts{"fs": {emitted: 200, filtered: 100}, "open": {emitted: 5}}},
		{loop: loadgen.LoopConnect, config: "vigil-falco-all", issued: 10, kernel: kernelCounts{"connect": {emitted: 10}, "open": {emitted: 3}, "fork": {emitted: 2}}},
		{loop: loadgen.LoopFS, config: "vigil", issued: 100, kernel: kernelCounts{"fs": {emitted: 200}}},
	}
	var b strings.Builder
	if err := writeFlowing(&b, sums, map[string][]filterKind{"vigil-falco-all": rep}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"fs vigil-falco-all: fs 2.00/op, kernel filtered, 2 rules, unbounded by: \"Modify binary dirs\" (rename, unlinkat), any path (access mode or result only) by: \"chmods\" (chmod)\n",
		"connect vigil-falco-all: connect 1.00/op, kernel unfiltered, 1 rules, every event flows (1 rules need the kind)\n",
		"connect vigil-falco-all: open 0.30/op, kernel filtered, 3 rules, every one bounds it",
		"connect vigil-falco-all: fork 0.20/op, kernel unfiltered, 0 rules, every event flows (the process table needs it)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Below the share, and configurations without a report, are left out.
	if strings.Contains(out, "fs vigil-falco-all: open") || strings.Contains(out, "fs vigil:") {
		t.Errorf("output:\n%s", out)
	}
}

// A drop record that never reached the output (its queue full, the run
// cut before the last status) must not make a round look clean: the final
// counts win when they say more, and the difference is noted.
func TestReconcileDrops(t *testing.T) {
	for _, tc := range []struct {
		name               string
		drops, out         uint64
		wantDrops, wantOut uint64
		wantAnomalies      int
	}{
		{"records agree", 1, 7, 1, 7, 0},
		{"records missed some", 0, 2, 1, 7, 2},
		{"records say more", 5, 9, 5, 9, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, err := parseFinalCounts([]byte(finalCountsLine))
			if err != nil {
				t.Fatal(err)
			}
			o := observed{drops: tc.drops, outputDrops: tc.out, kernel: kc}
			reconcileDrops(&o)
			if o.drops != tc.wantDrops || o.outputDrops != tc.wantOut || len(o.anomalies) != tc.wantAnomalies {
				t.Errorf("drops %d+%dout, anomalies %q; want %d+%dout and %d anomalies",
					o.drops, o.outputDrops, o.anomalies, tc.wantDrops, tc.wantOut, tc.wantAnomalies)
			}
		})
	}
}
