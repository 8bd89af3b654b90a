package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI, where a skipped tier is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// skip skips t with reason, or fails it in CI where the tier must run.
func skip(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("required in CI: %s", reason)
	}
	t.Skip(reason)
}

// RequireRoot skips (fails in CI) unless the test runs as root, which loading
// BPF programs, starting containerd and creating network namespaces need.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, "needs root (run `sudo make test`)")
	}
}

// RequireCommand skips (fails in CI) unless name is on PATH; `make test`
// installs every command the tests use, so a miss in CI is a setup bug.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skip(t, name+" is not installed (make test installs it)")
	}
	return p
}

// SkipKernelLacks skips t because the running kernel lacks feature, checked
// by the caller with a real probe. It never fails in CI: a kernel that lacks
// a hook is a fact of the machine, not of the setup. Name the feature and the
// probe's error so the log says which kernel lacks what.
func SkipKernelLacks(t testing.TB, feature string, probeErr error) {
	t.Helper()
	t.Skipf("kernel lacks %s: %v", feature, probeErr)
}
