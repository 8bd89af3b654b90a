package metrics

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestWrite(t *testing.T) {
	var b strings.Builder
	err := Write(&b, []Family{
		{Name: "vigil_events_total", Help: "Events read.", Kind: "counter", Samples: []Sample{
			{Labels: []Label{{"kind", "open"}}, Value: 12},
			{Labels: []Label{{"kind", `we"ird\`}}, Value: 1},
		}},
		{Name: "vigil_a", Help: "line\nbreak", Kind: "gauge", Samples: []Sample{{Value: 0.5}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# HELP vigil_a line\nbreak
# TYPE vigil_a gauge
vigil_a 0.5
# HELP vigil_events_total Events read.
# TYPE vigil_events_total counter
vigil_events_total{kind="open"} 12
vigil_events_total{kind="we\"ird\\"} 1
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestServer(t *testing.T) {
	var stopped atomic.Bool
	stopped.Store(true)
	s, err := Listen("127.0.0.1:0", func() []Family {
		return []Family{{Name: "up", Help: "h", Kind: "gauge", Samples: []Sample{{Value: 1}}}}
	}, func() error {
		if stopped.Load() {
			return errors.New("ring buffer reader stopped")
		}
		return nil
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "up 1\n") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "ring buffer") {
		t.Errorf("unhealthy /healthz = %d %q", code, body)
	}
	stopped.Store(false)
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthy /healthz = %d", code)
	}
}
