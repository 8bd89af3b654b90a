// Package falcorules finds Falco's upstream rule files (stable, incubating,
// sandbox): the real input users bring, which tests and the benchmark harness
// load unchanged. They are not part of vigil; a clone finds them beside it in
// ../shared/falco, or wherever VIGIL_FALCO_RULES_DIR points.
package falcorules

import (
	"os"
	"path/filepath"
)

// EnvDir names the environment variable that overrides where the files are.
const EnvDir = "VIGIL_FALCO_RULES_DIR"

// The upstream files, in the order Falco users load them: later files refer
// to lists and macros of earlier ones.
const (
	Stable     = "falco_rules.yaml"
	Incubating = "falco-incubating_rules.yaml"
	Sandbox    = "falco-sandbox_rules.yaml"
)

// Files lists the upstream files in load order.
var Files = []string{Stable, Incubating, Sandbox}

// Dir is the directory that holds the files: $VIGIL_FALCO_RULES_DIR when set,
// else ../shared/falco beside the module root.
func Dir(moduleRoot string) string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return filepath.Join(moduleRoot, "..", "shared", "falco")
}
