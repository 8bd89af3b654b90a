package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestFSFilterFalcoRules runs the agent with Falco's three files and a rule
// bound to a temporary binary directory, as Falco's "Modify binary dirs" is
// to /bin and /usr/bin: renames, removals and mkdirs of absolute paths far
// from every bound stay in the kernel, counted as filtered, while a rename
// into the bound directory and the removal of a shell history still alert.
func TestFSFilterFalcoRules(t *testing.T) {
	bindir := tempDir(t, "/tmp")
	rule := filepath.Join(t.TempDir(), "bindir.yaml")
	text := fmt.Sprintf(`- rule: Modify test binary dir
  desc: a rename into the test's binary directory
  condition: evt.type in (rename, renameat, renameat2) and evt.arg.newpath startswith %s/
  output: test binary dir modified (newpath=%%evt.arg.newpath oldpath=%%evt.arg.oldpath)
  priority: ERROR
`, bindir)
	if err := os.WriteFile(rule, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--no-containerd"}
	for _, f := range falcorules.Files {
		args = append(args, "--rules", testutil.FalcoRulesPath(t, f))
	}
	a := startAgent(t, append(args, "--rules", rule)...)

	far := t.TempDir()
	const n = 1000
	before := a.Metrics(t)
	for i := range n {
		a, b, d := filepath.Join(far, fmt.Sprint("f", i)), filepath.Join(far, fmt.Sprint("g", i)), filepath.Join(far, fmt.Sprint("d", i))
		if err := os.WriteFile(a, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(a, b); err != nil {
			t.Fatal(err)
		}
		if err := unix.Unlink(b); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Rmdir(d); err != nil {
			t.Fatal(err)
		}
	}
	src, dst := filepath.Join(far, "tool"), filepath.Join(bindir, "tool")
	hist := filepath.Join(far, ".bash_history")
	for _, p := range []string{src, hist} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unlink(hist); err != nil {
		t.Fatal(err)
	}
	a.Expect(t, "the rename into the binary dir", func(l agenttest.Line) bool {
		return l.Rule == "Modify test binary dir" && l.OutputFields["evt.arg.newpath"] == dst && l.OutputFields["evt.arg.oldpath"] == src
	})
	a.Expect(t, "the shell history removal", func(l agenttest.Line) bool {
		// unlink(2) by x/sys is unlinkat: Falco's evt.arg.name.
		return l.Rule == "Delete or rename shell history" && l.OutputFields["evt.arg.name"] == hist
	})
	after := a.Metrics(t)
	delta := func(key string) float64 { return after.Get(t, key) - before.Get(t, key) }
	filtered, emitted := delta(`vigil_kernel_filtered_total{kind="fs"}`), delta(`vigil_kernel_events_total{kind="fs"}`)
	t.Logf("fs changes while the test made its %d: filtered in the kernel %v, emitted %v", 4*n, filtered, emitted)
	if filtered < 4*n {
		t.Errorf("%v fs changes filtered, want at least the test's %d", filtered, 4*n)
	}
	// The machine's other changes may be emitted meanwhile, but not the
	// test's.
	if emitted >= 2*n {
		t.Errorf("%v fs changes emitted: the test's were not filtered", emitted)
	}
}
