package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/internal/agenttest"
)

// TestOpenFilterDefaultRules runs the agent with its default rules, whose
// open rules all name paths or file names: a benign open is left in the
// kernel (counted, not emitted), and an open a rule matches still alerts.
func TestOpenFilterDefaultRules(t *testing.T) {
	a := startAgent(t, "--no-containerd")
	benign := filepath.Join(t.TempDir(), "benign.txt")
	if err := os.WriteFile(benign, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for range n {
		f, err := os.Open(benign)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	f, err := os.Open("/etc/shadow")
	if err != nil {
		t.Fatalf("opening /etc/shadow: %v", err)
	}
	f.Close()
	a.Expect(t, "the shadow read alert", func(r agenttest.Line) bool {
		return r.Rule == "Read Shadow or Sudoers File" && r.OutputFields["fd.name"] == "/etc/shadow"
	})
	m := a.Metrics(t)
	filtered, emitted := m.Get(t, `vigil_kernel_filtered_total{kind="open"}`), m.Get(t, `vigil_kernel_events_total{kind="open"}`)
	t.Logf("opens filtered in the kernel: %v, emitted: %v", filtered, emitted)
	if filtered < n {
		t.Errorf("%v opens filtered, want at least the %d benign ones", filtered, n)
	}
	// Everything else the machine opened meanwhile may be emitted, but
	// not the benign opens.
	if emitted >= n {
		t.Errorf("%v opens emitted: the benign ones were not filtered", emitted)
	}
}
