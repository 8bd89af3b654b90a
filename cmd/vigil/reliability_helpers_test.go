package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// rss returns the resident set size in bytes of process pid.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading vigil's status: %w", err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no VmRSS in %s", b)
	}
	kb, err := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10, err
}

// kindTotals are the per-kind counters of vigil's "final counts" log line.
type kindTotals map[string]map[string]uint64

// finalCounts parses the "final counts" line vigil logs when it stops.
func finalCounts(t *testing.T, stderr string) kindTotals {
	t.Helper()
	var line string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, `msg="final counts"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("vigil logged no final counts; stderr:\n%s", stderr[max(0, len(stderr)-3000):])
	}
	out := kindTotals{}
	for _, m := range regexp.MustCompile(`(\w+)\.(\w+)=(\d+)`).FindAllStringSubmatch(line, -1) {
		n, _ := strconv.ParseUint(m[3], 10, 64)
		if out[m[1]] == nil {
			out[m[1]] = map[string]uint64{}
		}
		out[m[1]][m[2]] = n
	}
	for k := 1; k < event.NumKinds; k++ {
		if out[event.Kind(k).String()] == nil {
			t.Fatalf("final counts lack kind %s: %s", event.Kind(k), line)
		}
	}
	return out
}

// kindOf maps an event line's "event" (evt.type) to its kind's name.
func kindOf(evtType string) string {
	for ty := range event.NumTypes {
		if event.Type(ty).String() == evtType {
			return event.Type(ty).Kind().String()
		}
	}
	return "unknown"
}
