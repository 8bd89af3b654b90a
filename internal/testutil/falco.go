package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/internal/falcorules"
)

// ModuleRoot is the directory of vigil's go.mod, found upwards from the
// test's working directory (its package directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// FalcoRulesPath is the path of one of Falco's upstream rule files
// (falcorules.Stable, ...). Where the files are absent, as in a user's clone,
// the test skips naming the variable that points at them; in CI, where they
// are laid beside the clone, a missing file fails the test.
func FalcoRulesPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(falcorules.Dir(ModuleRoot(t)), name)
	if _, err := os.Stat(p); err != nil {
		skip(t, "Falco's upstream rule files are not here ("+err.Error()+"); set "+
			falcorules.EnvDir+" to the directory holding "+name)
	}
	return p
}

// FalcoRules reads one of Falco's upstream rule files, as FalcoRulesPath finds it.
func FalcoRules(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(FalcoRulesPath(t, name))
	if err != nil {
		t.Fatalf("reading Falco's rules: %v", err)
	}
	return data
}
