package sensor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// runHelperAt runs the copy of the test binary at path in helper mode
// "exit" and returns its pid.
func runHelperAt(t *testing.T, path string) uint32 {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), helperEnv+"=exit")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running %s: %v: %s", path, err, out)
	}
	return uint32(cmd.Process.Pid)
}

// copyExe copies the executable src to dst.
func copyExe(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestExecWhere checks what the kernel says of where an executable came
// from: a path deeper than the walk follows is flagged truncated (never
// read as a real path); a program run through a bind mount of a directory
// of the root file system has its path on the root's own mount; a #!
// script is flagged as run by an interpreter, with the script as the
// target.
func TestExecWhere(t *testing.T) {
	h := startHarness(t)
	dir := t.TempDir()
	waitExec := func(pid uint32, what string) *event.Process {
		t.Helper()
		e := h.wait(t, pid, what, isType(pid, event.TypeExecve))
		if e.Proc == nil {
			t.Fatalf("%s: exec without a process", what)
		}
		return e.Proc
	}

	t.Run("deep", func(t *testing.T) {
		deep := dir
		for range 70 {
			deep = filepath.Join(deep, "d")
		}
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		copyExe(t, h.bin, filepath.Join(deep, "x"))
		p := waitExec(runHelperAt(t, filepath.Join(deep, "x")), "the deep exec")
		if !p.ExeTruncated || !strings.HasSuffix(p.ExePath, "/d/d/x") || strings.HasPrefix(p.ExePath, dir) {
			t.Errorf("deep exec: exepath %q truncated %v, want a truncated tail of %s", p.ExePath, p.ExeTruncated, deep)
		}
		shallow := filepath.Join(dir, "x")
		copyExe(t, h.bin, shallow)
		p = waitExec(runHelperAt(t, shallow), "the shallow exec")
		if p.ExeTruncated || p.ExePath != shallow || p.ExeRootPath != "" || p.Target != "" {
			t.Errorf("shallow exec: %+v", p)
		}
	})

	t.Run("bind mount", func(t *testing.T) {
		var st, root unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		if err := unix.Stat("/", &root); err != nil {
			t.Fatal(err)
		}
		if st.Dev != root.Dev {
			t.Skipf("%s is not on the root file system: its bind mounts are not traced back (README, threat model)", dir)
		}
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		for _, d := range []string{src, dst} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		copyExe(t, h.bin, filepath.Join(src, "x"))
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("bind-mounting: %v", err)
		}
		defer unix.Unmount(dst, unix.MNT_DETACH)
		p := waitExec(runHelperAt(t, filepath.Join(dst, "x")), "the exec through the bind mount")
		if p.ExePath != filepath.Join(dst, "x") || p.ExeRootPath != filepath.Join(src, "x") || p.ExeTruncated {
			t.Errorf("exec through a bind mount: exepath %q root path %q, want %q and %q", p.ExePath, p.ExeRootPath,
				filepath.Join(dst, "x"), filepath.Join(src, "x"))
		}
	})

	t.Run("script", func(t *testing.T) {
		// The test binary is the interpreter: the kernel runs it with
		// the script as its argument.
		script := filepath.Join(dir, "s.sh")
		if err := os.WriteFile(script, []byte("#!"+h.bin+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("./s.sh")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), helperEnv+"=exit")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("running the script: %v: %s", err, out)
		}
		e := h.wait(t, uint32(cmd.Process.Pid), "the script's exec", isType(uint32(cmd.Process.Pid), event.TypeExecve))
		if e.Proc == nil || e.Proc.Target != script || string(e.Exec.Filename) != "./s.sh" {
			t.Errorf("script exec: filename %q, process %+v, want target %s", e.Exec.Filename, e.Proc, script)
		}
	})
}
