package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/internal/agenttest"
)

// TestOpenFilterDefaultRules runs the agent with its default rules, whose
// open rules all name paths or file names: benign opens are left in the
// kernel (counted as filtered), and an open a rule matches still alerts.
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
	// The counters are the machine's: others' opens only add to the
	// filtered count, so it holds the benign ones at least. Whether any of
	// this process's own benign opens left the kernel, which the
	// machine-wide emitted count cannot tell while other processes open
	// files, sensor's TestOpenFilterDefaultRules checks on the decoded
	// events of its helper.
	m := a.Metrics(t)
	filtered := m.Get(t, `vigil_kernel_filtered_total{kind="open"}`)
	t.Logf("opens filtered in the kernel: %v", filtered)
	if filtered < n {
		t.Errorf("%v opens filtered, want at least the %d benign ones", filtered, n)
	}
}
