package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestQuickFloorSmoke runs the harness as `make test` does in CI: quick
// mode, the floor configurations, and a two-step saturation search, then
// checks the table it printed. The memory step, which needs vigil, has its
// own test.
func TestQuickFloorSmoke(t *testing.T) {
	out := runSmoke(t, "-quick", "-configs", "none,floor-counter,floor-ringbuf", "-loops", "open,exec,connect",
		"-saturate", "-saturate-configs", "floor-ringbuf", "-saturate-workers", "2", "-saturate-start", "20000", "-saturate-max", "40000",
		"-saturate-duration", "200ms", "-processes", "0")

	checkFloorRows(t, out, "open", "exec", "connect")
	// On a loaded machine the search may end at 20000/s, generator-bound.
	for _, want := range []string{"saturation: floor-ringbuf, open loop", "\n20000 ", "no drops"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestIOLoopsFloorSmoke runs the file, socket and descriptor loops briefly
// under the floor: each has a row, and the ring-buffer floor sees one
// record per operation on the hook of its loop.
func TestIOLoopsFloorSmoke(t *testing.T) {
	out := runSmoke(t, "-quick", "-configs", "none,floor-counter,floor-ringbuf", "-loops", "fs,udp,tcp,dup2",
		"-duration", "150ms", "-saturate=false", "-processes", "0")
	checkFloorRows(t, out, "fs", "udp", "tcp", "dup2")
}

// checkFloorRows checks the table's rows of loops for the no-tracer and
// floor configurations of a two-round run.
func checkFloorRows(t *testing.T, out string, loops ...string) {
	t.Helper()
	rows := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 14 && slices.Contains(loops, f[0]) {
			rows[f[0]+"/"+f[1]] = f
		}
	}
	for _, loop := range loops {
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
}

// TestMemorySmoke runs the memory step with a few processes (and the
// smallest table it comes after), checks its lines, and that no idle
// process outlives it.
func TestMemorySmoke(t *testing.T) {
	out := runSmoke(t, "-configs", "none", "-loops", "open", "-rounds", "1", "-duration", "100ms",
		"-saturate=false", "-processes", "100")
	seen := map[string]bool{}
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(line, "memory: vigil with 100 live processes (")
		if !ok {
			continue
		}
		situation, rest, _ := strings.Cut(rest, "): ")
		seen[situation] = true
		var table int
		var rss, peak float64
		if _, err := fmt.Sscanf(rest, "table %d, VmRSS %fMiB, peak %fMiB", &table, &rss, &peak); err != nil {
			t.Errorf("%s: %q: %v", situation, line, err)
			continue
		}
		if table < 100 || rss <= 0 || peak < rss {
			t.Errorf("%s: table %d, VmRSS %v, peak %v; want table >= 100 and 0 < VmRSS <= peak", situation, table, rss, peak)
		}
	}
	if !seen["seeded"] || !seen["forked"] {
		t.Errorf("memory lines for %v, want seeded and forked", seen)
	}
	// The step checks its group is gone; check it here too, by what the
	// processes were: this test's children.
	if n := children(t); n != 0 {
		t.Errorf("%d child processes left after the run", n)
	}
}

// runSmoke runs the harness as root with args, within three minutes, and
// returns what it printed.
func runSmoke(t *testing.T, args ...string) string {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "go")
	testutil.RequireCommand(t, "busybox")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	err := run(ctx, args, &out, slog.New(slog.NewTextHandler(t.Output(), nil)))
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// children counts this process's children in /proc.
func children(t *testing.T) int {
	t.Helper()
	n := 0
	if err := eachProc(func(_ int, p statProc) {
		if p.ppid == os.Getpid() {
			n++
		}
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
