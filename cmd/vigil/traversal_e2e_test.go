package main

import (
	"testing"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestFalcoDirectoryTraversal runs the agent with Falco's stable rules,
// whose directory traversal rule keeps in the kernel every read whose raw
// path lacks "../": reads of a file under /etc through "../" at different
// offsets of the raw path (the kernel searches it a word at a time) must
// each reach the rule and alert.
func TestFalcoDirectoryTraversal(t *testing.T) {
	a := startAgent(t, "--no-containerd", "--rules", testutil.FalcoRulesPath(t, falcorules.Stable))
	for _, raw := range []string{
		"/etc/../etc/../etc/passwd",
		"/etc//../etc/../etc/passwd",
		"/etc///../etc/../etc/passwd",
		"/etc////////../etc////../etc/passwd",
	} {
		runCommand(t, "cat", raw)
		a.Expect(t, "the traversal alert for "+raw, func(r agenttest.Line) bool {
			return r.Rule == "Directory traversal monitored file read" && r.OutputFields["fd.nameraw"] == raw &&
				r.OutputFields["fd.name"] == "/etc/passwd" && r.OutputFields["proc.name"] == "cat"
		})
	}
}
