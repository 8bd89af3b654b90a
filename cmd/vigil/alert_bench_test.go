package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/config"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
)

// shadowEvent is cat reading /etc/shadow, which vigil's default rules
// alert on.
func shadowEvent() *event.Event {
	parent := &event.Process{PID: 10, Name: "bash", ExePath: "/usr/bin/bash", Cmdline: "bash"}
	e := &event.Event{Type: event.TypeOpenat, Time: 1_700_000_000_000_000_000, PID: 100, TID: 100, Res: 3,
		Proc: &event.Process{PID: 100, PPID: 10, Name: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Args: "/etc/shadow",
			Cmdline: "cat /etc/shadow", Cwd: "/root", UserName: "root", Parent: parent}}
	e.Open.Name = []byte("/etc/shadow")
	e.Open.RealPath = []byte("/etc/shadow")
	e.Open.Raw = []byte("/etc/shadow")
	e.Open.FileType = 0o100000
	return e
}

// benchAlertPath runs the alert path, rules to queued lines, with the
// outputs the YAML list names, one alert per event, and reports alerts
// queued per second, allocations per alert (the outputs' goroutines
// included: an HTTP request's allocations are in the figure) and what each
// output delivered and dropped per alert.
func benchAlertPath(b *testing.B, outputs string) {
	var cfgs sink.Configs
	if err := config.Decode("bench.yaml", []byte("outputs:\n"+outputs), []config.Key{{Name: "outputs", Dst: &cfgs}}); err != nil {
		b.Fatal(err)
	}
	set, err := sink.New(cfgs, sink.Deps{Encoder: output.NewEncoder("bench").WithVersion("bench"), Stdout: io.Discard,
		Stderr: io.Discard, QueueDepth: 16384, QueueBytes: output.DefaultMaxQueueBytes, DrainTimeout: time.Second,
		UserAgent: "vigil/bench"})
	if err != nil {
		b.Fatal(err)
	}
	rs, _, err := rules.Load([]rules.Source{rules.Default()}, rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := newPipelineTo(nil, rs, false, set)
	e := shadowEvent()
	p.handle(e)
	if p.matches.snapshot()["Read Shadow or Sudoers File"] != 1 {
		b.Fatal("the event raises no alert")
	}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		p.handle(e)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	// allocs/op rounds down; this is the fraction, every goroutine's.
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/alert")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	set.Shutdown(ctx)
	for _, k := range set.Sinks() {
		b.ReportMetric(float64(k.Written)/float64(b.N+1), k.Name+"-sent/alert")
		b.ReportMetric(float64(k.Dropped)/float64(b.N+1), k.Name+"-dropped/alert")
	}
}

// BenchmarkAlertStdout is the alert path to stdout alone, the baseline of
// BenchmarkAlertSinks.
func BenchmarkAlertStdout(b *testing.B) {
	benchAlertPath(b, "  - type: stdout\n")
}

// BenchmarkAlertSinks is the alert path to stdout, a file and an HTTP
// intake on loopback at once.
func BenchmarkAlertSinks(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	benchAlertPath(b, fmt.Sprintf("  - type: stdout\n  - type: file\n    path: %s\n  - type: http\n    url: %s/\n",
		filepath.Join(b.TempDir(), "alerts.json"), srv.URL))
}

// TestAlertPathAllocs holds the alert path, from the rules to lines
// delivered to stdout and a file, to no allocation per alert once its
// buffers have grown, while the outputs keep up. (When they fall behind,
// each record queued beyond the pool of recycled buffers takes one of its
// own, up to the queue's bound: BenchmarkAlertSinks shows that figure.)
func TestAlertPathAllocs(t *testing.T) {
	var cfgs sink.Configs
	outputs := "  - type: stdout\n  - type: file\n    format: ecs\n    path: " + filepath.Join(t.TempDir(), "alerts.json") + "\n"
	if err := config.Decode("t.yaml", []byte("outputs:\n"+outputs), []config.Key{{Name: "outputs", Dst: &cfgs}}); err != nil {
		t.Fatal(err)
	}
	set, err := sink.New(cfgs, sink.Deps{Encoder: output.NewEncoder("t"), Stdout: io.Discard, Stderr: io.Discard,
		QueueDepth: 1024, QueueBytes: output.DefaultMaxQueueBytes, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Shutdown(context.Background())
	rs, _, err := rules.Load([]rules.Source{rules.Default()}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := newPipelineTo(nil, rs, false, set)
	e := shadowEvent()
	burst := func() {
		for range 50 {
			p.handle(e)
		}
		for set.Stats().Queued > 0 {
			runtime.Gosched()
		}
	}
	burst()
	if n := testing.AllocsPerRun(20, burst); n != 0 {
		t.Errorf("%v allocations per burst of 50 alerts to stdout and a file, want 0", n)
	}
	if st := set.Stats(); st.Dropped != 0 || st.Written == 0 {
		t.Errorf("stats %+v", st)
	}
}
