package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestFalcoModifyContainerEntrypoint runs Falco's stable and sandbox files
// unchanged with Modify Container Entrypoint, which ships disabled, enabled
// by the rule-selection flag. The rule matches fd.name as the caller named
// the file (/proc/self/fd/1), never the file the kernel reached through
// that link, so it fires only if fd.name is Falco's name; the in-kernel
// filter must let such an open through though the walked path differs.
func TestFalcoModifyContainerEntrypoint(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc", "sh"} {
		testutil.RequireCommand(t, c)
	}
	d := startContainerd(t)
	a := startAgent(t, "--rules", testutil.FalcoRulesPath(t, falcorules.Stable),
		"--rules", testutil.FalcoRulesPath(t, falcorules.Sandbox), "--enable-rule", "Modify Container Entrypoint",
		"--rules", markerRulesFile(t), "--containerd-socket", d.Socket)
	c := d.MustRun(t, containerdtest.ContainerSpec{Labels: map[string]string{enrich.LabelContainerName: containerName}})
	waitContainerKnown(t, a, c)
	exec := containerExec(c, true)
	key := []string{"proc.cmdline"}
	runRuleTests(t, a, []ruleTest{{rule: "Modify Container Entrypoint", priority: "Warning",
		// The shell's stdout is made a regular file (the rule wants
		// one), then opened for writing through /proc/self/fd/1.
		trigger: func(t *testing.T) []alert {
			script := "exec 1>/tmp/entry-" + randToken() + "; echo x > /proc/self/fd/1"
			exec(t, "sh", "-c", script)
			return []alert{{key: key, want: fields{"proc.cmdline": "sh -c " + script, "fd.name": "/proc/self/fd/1",
				"evt.type": "openat"}}}
		},
		// A plain write elsewhere in the container, and the same write
		// through /proc/self/fd/1 on the host (not a container).
		benign: func(t *testing.T) []alert {
			plain := "echo x > /tmp/plain-" + randToken()
			exec(t, "sh", "-c", plain)
			host := filepath.Join(tempDir(t, "/tmp"), "entry")
			hostScript := "exec 1>" + host + "; echo x > /proc/self/fd/1"
			runOK(t, nil, "sh", "-c", hostScript)
			if b, err := os.ReadFile(host); err != nil || string(b) != "x\n" {
				t.Fatalf("the host's write through /proc/self/fd/1 left %q, %v", b, err)
			}
			return []alert{{key: key, want: fields{"proc.cmdline": "sh -c " + plain}},
				{key: key, want: fields{"proc.cmdline": "sh -c " + hostScript}}}
		}}})
}
