package main

import (
	"bufio"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestQuickFloorSmoke runs the harness as `make test` does in CI: quick
// mode, the floor configurations, and a two-step saturation search, then
// checks the table it printed.
func TestQuickFloorSmoke(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "go")
	testutil.RequireCommand(t, "busybox")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	err := run(ctx, []string{"-quick", "-configs", "none,floor-counter,floor-ringbuf",
		"-saturate", "-saturate-configs", "floor-ringbuf", "-saturate-workers", "2", "-saturate-start", "20000", "-saturate-max", "40000",
		"-saturate-duration", "200ms"}, &out, log)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}

	rows := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 14 && (f[0] == "open" || f[0] == "exec" || f[0] == "connect") {
			rows[f[0]+"/"+f[1]] = f
		}
	}
	for _, loop := range []string{"open", "exec", "connect"} {
		for _, config := range []string{"none", "floor-counter", "floor-ringbuf"} {
			f, ok := rows[loop+"/"+config]
			if !ok {
				t.Errorf("no row for %s/%s", loop, config)
				continue
			}
			// "n/2" when another process's tracer tainted a round.
			if (f[2] != "2" && !strings.HasSuffix(f[2], "/2")) || f[3] == "FAILED" {
				t.Errorf("%s/%s: rounds %s, ns/op %s", loop, config, f[2], f[3])
			}
			if ns, err := strconv.ParseFloat(f[3], 64); err != nil || ns <= 0 {
				t.Errorf("%s/%s: ns/op %q", loop, config, f[3])
			}
		}
		if f := rows[loop+"/none"]; f[5] != "1.00x" || f[7] != "1.00x" {
			t.Errorf("%s/none ratios = %s, %s; want 1.00x", loop, f[5], f[7])
		}
		// The ring-buffer floor delivers a record per operation, a few more
		// at most (a syscall restarted after a signal enters twice).
		f := rows[loop+"/floor-ringbuf"]
		share, err := strconv.ParseFloat(f[11], 64)
		if err != nil || share < 1 || share > 1.001 {
			t.Errorf("%s/floor-ringbuf delivered/issued = %s %s, want 1", loop, f[11], f[12])
		}
		if f[13] != "0" {
			t.Errorf("%s/floor-ringbuf drops = %s, want 0", loop, f[13])
		}
	}
	// On a loaded machine the search may end at 20000/s, generator-bound.
	for _, want := range []string{"saturation: floor-ringbuf, open loop", "\n20000 ", "no drops"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
