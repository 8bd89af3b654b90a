package agenttest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The driver is tested against a stand-in for vigil: this test binary,
// re-executed with fakeEnv set. It logs and serves what vigil does at start,
// writes the lines of $FAKE_LINES to stdout, answers SIGHUP with a line and
// exits with $FAKE_EXIT on SIGINT or SIGTERM (at once, before attaching,
// with $FAKE_EXIT_EARLY).
const fakeEnv = "VIGIL_AGENTTEST_FAKE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) != "" {
		os.Exit(fakeVigil(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeVigil(args []string) int {
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "time=2026-01-01T00:00:00Z level=INFO "+format+"\n", a...)
	}
	if code := os.Getenv("FAKE_EXIT_EARLY"); code != "" {
		logf(`msg="starting sensor failed"`)
		n, _ := strconv.Atoi(code)
		return n
	}
	logf(`msg=args args=%q`, strings.Join(args, " "))
	i := slices.Index(args, "--metrics-addr")
	if len(args) == 0 || args[0] != "run" || i < 0 || i+1 >= len(args) {
		logf(`msg="bad arguments"`)
		return 2
	}
	ln, err := net.Listen("tcp", args[i+1])
	if err != nil {
		logf(`msg="listening failed" err=%q`, err)
		return 1
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE vigil_up gauge\nvigil_up 1\nvigil_rule_matches_total{rule=\"a rule\"} 2\n")
	}))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	logf(`msg="sensor attached" hooks=1`)
	logf(`msg="serving metrics" addr=%s`, ln.Addr())
	os.Stdout.WriteString(os.Getenv("FAKE_LINES"))
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			logf(`msg="rules reloaded"`)
			os.Stdout.WriteString(`{"rule":"reloaded","source":"internal"}` + "\n")
			continue
		}
		code, _ := strconv.Atoi(os.Getenv("FAKE_EXIT"))
		return code
	}
	return 1
}

// startFake starts the stand-in with the given stdout lines.
func startFake(t testing.TB, lines string, cfg Config) *Agent {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeEnv, "1")
	t.Setenv("FAKE_LINES", lines)
	cfg.Bin = bin
	return Start(t, cfg)
}

func TestAgent(t *testing.T) {
	a := startFake(t, `{"event":"openat","fields":{"proc.pid":7}}
{"rule":"A","priority":"Warning","source":"syscall","output_fields":{"fd.name":"/etc/shadow"}}
{"rule":"marker","source":"syscall"}
`, Config{})
	if !strings.Contains(a.Stderr(), `args="run --no-resolve-names --lock-file /`) || !strings.Contains(a.Stderr(), "/vigil.lock --metrics-addr 127.0.0.1:0\"") {
		t.Errorf("the driver's own flags are not in vigil's arguments:\n%s", a.Stderr())
	}
	l := a.Expect(t, "alert A", func(l Line) bool { return l.Rule == "A" })
	if l.Priority != "Warning" || l.OutputFields["fd.name"] != "/etc/shadow" || l.Raw == "" || !strings.HasSuffix(l.Raw, "\n") {
		t.Errorf("alert A: %+v", l)
	}
	a.ExpectNone(t, "another alert", func(l Line) bool { return l.Rule == "B" }, func(l Line) bool { return l.Rule == "marker" })
	if got := a.Alerts(); len(got) != 2 || got[0].Rule != "A" || got[1].Rule != "marker" {
		t.Errorf("alerts read: %+v, want A and the marker (events are not kept)", got)
	}

	m := a.Metrics(t)
	if v := m.Get(t, "vigil_up"); v != 1 {
		t.Errorf("vigil_up = %v", v)
	}
	if v, ok := m.Value(`vigil_rule_matches_total{rule="a rule"}`); !ok || v != 2 {
		t.Errorf("a labelled sample with a space: %v, %v", v, ok)
	}
	if _, ok := m.Value("vigil_down"); ok {
		t.Error("a missing sample has a value")
	}
	a.WaitMetric(t, "vigil_up", time.Second, func(v float64) bool { return v == 1 })

	a.Signal(t, syscall.SIGHUP)
	a.WaitStderr(t, "a reload", 5*time.Second, func(s string) bool { return strings.Contains(s, `msg="rules reloaded"`) })
	a.Expect(t, "the reload's line", func(l Line) bool { return l.Rule == "reloaded" && l.Source == "internal" })

	e := a.Stop(t, syscall.SIGTERM, 5*time.Second)
	if e.Code != 0 || e.Took <= 0 || e.Took > 5*time.Second || !strings.Contains(e.Stderr, `msg="sensor attached"`) {
		t.Errorf("stop: %+v", e)
	}
	if rest := a.Rest(t); len(rest) != 0 {
		t.Errorf("lines left after the stop: %+v", rest)
	}
}

func TestWithDefaults(t *testing.T) {
	got := withDefaults(t, []string{"--events"})
	if len(got) != 6 || got[0] != "--no-resolve-names" || got[1] != "--lock-file" || !strings.HasSuffix(got[2], "/vigil.lock") ||
		got[3] != "--metrics-addr" || got[4] != "127.0.0.1:0" || got[5] != "--events" {
		t.Errorf("withDefaults added %q", got)
	}
	own := []string{"--lock-file", "/run/x.lock", "--metrics-addr=127.0.0.1:9999", "--no-resolve-names=false"}
	if got := withDefaults(t, own); !slices.Equal(got, own) {
		t.Errorf("withDefaults replaced the test's own flags: %q", got)
	}
}

// recordingTB records failures instead of reporting them, so that a test
// can check that the driver fails when it should.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}
func (r *recordingTB) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Error(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recordingTB) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recordingTB) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recordingTB) FailNow()                          { r.Fail(); runtime.Goexit() }

// failure runs f with a recordingTB and returns what it reported; the test
// fails when f did not fail.
func failure(t *testing.T, f func(tb testing.TB)) string {
	t.Helper()
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	if !r.Failed() {
		t.Error("the driver did not fail the test")
	}
	return strings.Join(r.msgs, "\n")
}

func TestAgentFailures(t *testing.T) {
	t.Run("unexpected line before the marker", func(t *testing.T) {
		a := startFake(t, `{"rule":"B","source":"syscall"}`+"\n"+`{"rule":"marker","source":"syscall"}`+"\n", Config{})
		msg := failure(t, func(tb testing.TB) {
			a.ExpectNone(tb, "alert B", func(l Line) bool { return l.Rule == "B" }, func(l Line) bool { return l.Rule == "marker" })
		})
		if !strings.Contains(msg, `alert B: unexpected line: {"rule":"B"`) {
			t.Errorf("failure: %s", msg)
		}
	})
	t.Run("no marker", func(t *testing.T) {
		a := startFake(t, "", Config{LineTimeout: 100 * time.Millisecond})
		msg := failure(t, func(tb testing.TB) {
			a.ExpectNone(tb, "alert B", func(Line) bool { return false }, func(Line) bool { return false })
		})
		if !strings.Contains(msg, "the marker did not come within 100ms") {
			t.Errorf("failure: %s", msg)
		}
	})
	t.Run("no match", func(t *testing.T) {
		a := startFake(t, `{"rule":"A"}`+"\n", Config{LineTimeout: 100 * time.Millisecond})
		msg := failure(t, func(tb testing.TB) { a.Expect(tb, "alert B", func(l Line) bool { return l.Rule == "B" }) })
		if !strings.Contains(msg, "alert B: no matching line in 100ms; 1 other lines read") || !strings.Contains(msg, `{\"rule\":\"A\"}`) {
			t.Errorf("failure: %s", msg)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		a := startFake(t, "not json\n"+`{"rule":"A"}`+"\n", Config{})
		msg := failure(t, func(tb testing.TB) {
			// The bad line is read before A: reading A reports it.
			a.Expect(tb, "alert A", func(l Line) bool { return l.Rule == "A" })
		})
		if !strings.Contains(msg, `1 stdout lines are not JSON, the first: "not json\n"`) {
			t.Errorf("failure: %s", msg)
		}
	})
	t.Run("no newline at the end", func(t *testing.T) {
		a := startFake(t, `{"rule":"A"}`, Config{})
		a.Stop(t, syscall.SIGTERM, 5*time.Second)
		msg := failure(t, func(tb testing.TB) { a.Rest(tb) })
		if !strings.Contains(msg, "no newline at the end") {
			t.Errorf("failure: %s", msg)
		}
	})
	t.Run("output ended", func(t *testing.T) {
		a := startFake(t, "", Config{})
		a.Stop(t, syscall.SIGTERM, 5*time.Second)
		msg := failure(t, func(tb testing.TB) { a.Expect(tb, "alert A", func(Line) bool { return true }) })
		if !strings.Contains(msg, "vigil's output ended (vigil exited: exit status 0)") {
			t.Errorf("failure: %s", msg)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		t.Setenv("FAKE_EXIT", "3")
		a := startFake(t, "", Config{})
		if e := a.Stop(t, syscall.SIGINT, 5*time.Second); e.Code != 3 {
			t.Errorf("exit code %d, want 3", e.Code)
		}
	})
	t.Run("exit before attaching", func(t *testing.T) {
		t.Setenv("FAKE_EXIT_EARLY", "1")
		msg := failure(t, func(tb testing.TB) { startFake(tb, "", Config{}) })
		if !strings.Contains(msg, "vigil exited (exit status 1) before attaching and serving metrics") ||
			!strings.Contains(msg, "starting sensor failed") {
			t.Errorf("failure: %s", msg)
		}
	})
}
