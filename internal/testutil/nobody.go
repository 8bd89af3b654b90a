package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the user and group id of nobody, whom tests run programs as to
// see how they fail without privileges.
const nobody = 65534

// ExecutableForNobody copies the executable at src into a fresh directory
// that nobody can reach and run (go test's build directory is private),
// under the given name, and returns the copy's path. The directory is
// removed when the test ends.
func ExecutableForNobody(t testing.TB, src, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vigil-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// AsNobody makes cmd run as nobody (the test must run as root to switch).
func AsNobody(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd
}
