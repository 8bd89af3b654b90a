package loadgen

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

func TestParseLoop(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Loop
		wantErr bool
	}{
		{"open", LoopOpen, false},
		{"exec", LoopExec, false},
		{"connect", LoopConnect, false},
		{"fs", LoopFS, false},
		{"udp", LoopUDP, false},
		{"tcp", LoopTCP, false},
		{"dup2", LoopDup2, false},
		{"dup", "", true},
		{"Open", "", true},
		{"", "", true},
		{"read", "", true},
	} {
		got, err := ParseLoop(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseLoop(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseResult(t *testing.T) {
	valid := `{"loop":"open","pid":42,"target_rate":0,"workers":1,"duration_ns":2000000,"ops":1000,"elapsed_ns":2000000,"busy_ns":1900000,"ns_per_op":1900,"rate":500000,"cpu_ns":1800000}`
	got, err := ParseResult([]byte(valid + "\n"))
	if err != nil {
		t.Fatalf("ParseResult(valid): %v", err)
	}
	want := Result{Loop: LoopOpen, PID: 42, Workers: 1, DurationNS: 2000000, Ops: 1000, ElapsedNS: 2000000, BusyNS: 1900000, NSPerOp: 1900, Rate: 500000, CPUNS: 1800000}
	if got != want {
		t.Errorf("ParseResult(valid)\n got %+v\nwant %+v", got, want)
	}
	for name, in := range map[string]string{
		"not JSON":     `ops=1000`,
		"unknown loop": strings.Replace(valid, `"open"`, `"read"`, 1),
		"no ops":       strings.Replace(valid, `"ops":1000`, `"ops":0`, 1),
		"no pid":       strings.Replace(valid, `"pid":42`, `"pid":0`, 1),
		"no time":      strings.Replace(valid, `"busy_ns":1900000`, `"busy_ns":0`, 1),
		"truncated":    valid[:40],
	} {
		if _, err := ParseResult([]byte(in)); err == nil {
			t.Errorf("ParseResult(%s) succeeded, want an error", name)
		}
	}
}

func TestNewRejects(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for name, cfg := range map[string]Config{
		"unknown loop":      {Loop: "read", Duration: time.Second},
		"no duration":       {Loop: LoopOpen},
		"negative rate":     {Loop: LoopOpen, Duration: time.Second, Rate: -1},
		"negative workers":  {Loop: LoopOpen, Duration: time.Second, Workers: -1},
		"exec without path": {Loop: LoopExec, Duration: time.Second},
		"missing program":   {Loop: LoopExec, Duration: time.Second, ExecPath: missing},
		"missing open path": {Loop: LoopOpen, Duration: time.Second, OpenPath: missing},
	} {
		g, err := New(cfg)
		if err == nil {
			g.Close()
			t.Errorf("New(%s) succeeded, want an error", name)
		}
	}
}

// busybox returns the exec loop's static program, as the loadgen command
// runs it by default.
func busybox(t *testing.T) (string, []string) {
	return testutil.RequireCommand(t, "busybox"), []string{"true"}
}

func TestLoopsRun(t *testing.T) {
	for _, l := range Loops() {
		t.Run(string(l), func(t *testing.T) {
			cfg := Config{Loop: l, Duration: 200 * time.Millisecond}
			if l == LoopExec {
				cfg.ExecPath, cfg.ExecArgs = busybox(t)
			}
			g, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			res, err := g.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Loop != l || res.PID != os.Getpid() || res.Ops == 0 || res.NSPerOp <= 0 || res.Rate <= 0 {
				t.Fatalf("implausible result %+v", res)
			}
			if el := time.Duration(res.ElapsedNS); el < cfg.Duration || el > cfg.Duration+time.Second {
				t.Errorf("ran %v, want about %v", el, cfg.Duration)
			}
			// What the command prints is what the harness reads back.
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseResult(b)
			if err != nil || back != res {
				t.Errorf("round trip: %+v, %v; want %+v", back, err, res)
			}
			if err := g.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := g.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestOpenTempFileRemoved(t *testing.T) {
	g, err := New(Config{Loop: LoopOpen, Duration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dir := g.tmpDir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temporary directory: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s still there after Close: %v", dir, err)
	}
}

func TestFixedRate(t *testing.T) {
	const rate, d = 20000.0, 500 * time.Millisecond
	g, err := New(Config{Loop: LoopOpen, Duration: d, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	res, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := rate * d.Seconds()
	if float64(res.Ops) < 0.9*want || float64(res.Ops) > 1.01*want {
		t.Errorf("issued %d operations at %v/s for %v, want about %.0f", res.Ops, rate, d, want)
	}
	if res.TargetRate != rate {
		t.Errorf("TargetRate = %v, want %v", res.TargetRate, rate)
	}
	// Paced: the loop idles between ticks, so it is busy for a fraction of
	// the run (an open+close takes a few µs; 20k of them well under 50%).
	if res.BusyNS >= res.ElapsedNS/2 {
		t.Errorf("busy %dns of %dns: not paced", res.BusyNS, res.ElapsedNS)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	g, err := New(Config{Loop: LoopOpen, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := g.Run(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run ignored a cancelled context")
	}
}

// The loops must not allocate, or the garbage collector would add work
// per operation that a tracer's overhead is then measured against.
func TestLoopsDoNotAllocate(t *testing.T) {
	for _, l := range []Loop{LoopOpen, LoopConnect, LoopFS, LoopUDP, LoopTCP, LoopDup2} {
		g, err := New(Config{Loop: l, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		op := g.Op()
		if n := testing.AllocsPerRun(100, func() {
			if err := op(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per operation, want 0", l, n)
		}
		g.Close()
	}
}

func BenchmarkOps(b *testing.B) {
	for _, l := range []Loop{LoopOpen, LoopConnect, LoopFS, LoopUDP, LoopTCP, LoopDup2} {
		b.Run(string(l), func(b *testing.B) {
			g, err := New(Config{Loop: l, Duration: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			op := g.Op()
			b.ReportAllocs()
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestWorkers(t *testing.T) {
	for _, l := range []Loop{LoopOpen, LoopConnect, LoopFS, LoopUDP, LoopTCP, LoopDup2} {
		t.Run(string(l), func(t *testing.T) {
			rate, d := 10000.0, 300*time.Millisecond
			if l == LoopFS {
				// Five file-system calls per operation: tens of µs on a
				// shared machine.
				rate = 1000
			}
			// The workers share the rate: never more, and all of it when
			// they get the CPU. A run that fell short is tried again (up
			// to three runs): other tests and benchmarks on the machine
			// can starve the workers for a whole 300 ms run.
			want := rate * d.Seconds()
			for try := 1; ; try++ {
				g, err := New(Config{Loop: l, Duration: d, Rate: rate, Workers: 3})
				if err != nil {
					t.Fatal(err)
				}
				res, err := g.Run(context.Background())
				g.Close()
				if err != nil {
					t.Fatal(err)
				}
				if res.Workers != 3 || float64(res.Ops) > 1.02*want {
					t.Fatalf("3 workers at %v/s for %v: %d operations (workers %d), want about %.0f", rate, d, res.Ops, res.Workers, want)
				}
				if float64(res.Ops) >= 0.9*want {
					break
				}
				if try == 3 {
					t.Fatalf("3 workers at %v/s for %v: %d operations in each of %d runs (the last), want about %.0f", rate, d, res.Ops, try, want)
				}
				t.Logf("run %d: %d operations of %.0f (starved?); trying again", try, res.Ops, want)
			}
		})
	}
}
