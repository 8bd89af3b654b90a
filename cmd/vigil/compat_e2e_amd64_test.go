package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/internal/testutil/ia32"
)

// compatBlindLog is the start-up log line of an agent that does not see
// 32-bit syscalls.
const compatBlindLog = "32-bit (ia32) syscalls are not seen"

// TestCompatProgramReadsShadow: a 32-bit program (an ia32 ELF, as built
// with -m32) reads /etc/shadow. On the raw sys_exit hook, which auto takes
// on x86-64, the credential rule fires on its open. On the syscalls
// tracepoints, which do not see its open, the agent says at start that it
// does not see 32-bit syscalls and raises an alert on the program's exec,
// and none on a 64-bit program's.
func TestCompatProgramReadsShadow(t *testing.T) {
	testutil.RequireRoot(t)
	prog := filepath.Join(t.TempDir(), "shadow32")
	if err := os.WriteFile(prog, ia32.OpenProgram("/etc/shadow"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T) int {
		t.Helper()
		cmd := exec.Command(prog)
		err := cmd.Run()
		if errors.Is(err, unix.ENOEXEC) {
			testutil.SkipKernelLacks(t, "32-bit programs (CONFIG_IA32_EMULATION, not booted with ia32_emulation=false)", err)
		}
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("running the 32-bit program: %v", err)
		}
		// It exits with open's result: a descriptor.
		if fd := cmd.ProcessState.ExitCode(); fd < 3 || fd > 127 {
			t.Fatalf("the 32-bit program's open of /etc/shadow returned %d", fd)
		}
		return cmd.Process.Pid
	}
	isCompatAlert := func(pid int) func(agenttest.Line) bool {
		return func(l agenttest.Line) bool {
			return l.Rule == ruleCompatExec && agenttest.Int(l.OutputFields["proc.pid"]) == int64(pid)
		}
	}

	t.Run("auto", func(t *testing.T) {
		a := startAgent(t)
		if strings.Contains(a.Stderr(), compatBlindLog) {
			t.Errorf("the agent on the raw sys_exit hook says it does not see 32-bit syscalls:\n%s", a.StderrTail(2000))
		}
		pid := run(t)
		a.Expect(t, "the credential rule on the 32-bit program's open", func(l agenttest.Line) bool {
			return l.Rule == "Read Shadow or Sudoers File" && l.OutputFields["proc.cmdline"] == "shadow32"
		})
		// Its exec came before its open: an alert on it would be read.
		for _, l := range a.Alerts() {
			if isCompatAlert(pid)(l) {
				t.Errorf("32-bit program alert from an agent that sees 32-bit syscalls: %s", l.Raw)
			}
		}
	})

	t.Run("tracepoint", func(t *testing.T) {
		a := startAgent(t, "--syscall-hooks", "tracepoint")
		if n := strings.Count(a.Stderr(), compatBlindLog); n != 1 {
			t.Errorf("the agent on the syscalls tracepoints logged %q %d times, want once:\n%s", compatBlindLog, n, a.StderrTail(2000))
		}
		pid := run(t)
		l := a.Expect(t, "the 32-bit program alert", isCompatAlert(pid))
		if l.Source != "internal" || l.Priority != "Warning" || l.OutputFields["proc.exepath"] != prog ||
			l.OutputFields["proc.cmdline"] != "shadow32" || l.OutputFields["container.id"] != "host" ||
			!strings.Contains(l.Output, "does not see 32-bit syscalls") {
			t.Errorf("32-bit program alert: %s", l.Raw)
		}
		// A 64-bit program: its credential alert comes after its exec.
		cat := runCommand(t, "cat", "/etc/shadow")
		a.Expect(t, "the credential rule on a 64-bit program", func(l agenttest.Line) bool {
			return l.Rule == "Read Shadow or Sudoers File" && l.OutputFields["proc.cmdline"] == "cat /etc/shadow"
		})
		for _, l := range a.Alerts() {
			if isCompatAlert(cat)(l) {
				t.Errorf("32-bit program alert on a 64-bit program: %s", l.Raw)
			}
		}
	})
}
