package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// vigilBin is the binary the end-to-end tests run, built once by TestMain.
var vigilBin string

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "vigil-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vigilBin = filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", vigilBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building vigil:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startAgent runs `vigil run args...`, the binary TestMain built, and reads
// its stdout.
func startAgent(t *testing.T, args ...string) *agenttest.Agent {
	t.Helper()
	return startAgentStdout(t, agenttest.ReadStdout, args...)
}

// startAgentStdout is startAgent with stdout read, blocked or closed.
func startAgentStdout(t *testing.T, stdout agenttest.Stdout, args ...string) *agenttest.Agent {
	t.Helper()
	testutil.RequireRoot(t)
	return agenttest.Start(t, agenttest.Config{Bin: vigilBin, Args: args, Stdout: stdout})
}

// runCommand runs a command to completion and returns its pid; a non-zero
// exit is not an error.
func runCommand(t *testing.T, name string, args ...string) int {
	t.Helper()
	return runEnv(t, nil, name, args...)
}

func TestRunAlertsWithStableFalcoRules(t *testing.T) {
	a := startAgent(t, "--rules", testutil.FalcoRulesPath(t, falcorules.Stable))
	runCommand(t, "cat", "/etc/shadow")
	r := a.Expect(t, "reading /etc/shadow", func(r agenttest.Line) bool { return r.Rule == "Read sensitive file untrusted" })
	if r.OutputFields["fd.name"] != "/etc/shadow" || r.OutputFields["proc.name"] != "cat" || r.Source != "syscall" {
		t.Errorf("alert fields: %+v", r.OutputFields)
	}
	if !strings.Contains(r.Output, "Warning Sensitive file opened for reading") || r.Priority != "Warning" {
		t.Errorf("alert output/priority: %q %q", r.Priority, r.Output)
	}
	runCommand(t, "find", "/root", "-maxdepth", "1", "-name", "id_rsa")
	a.Expect(t, "find for private keys", func(r agenttest.Line) bool {
		return r.Rule == "Search Private Keys or Passwords" && r.OutputFields["proc.name"] == "find"
	})
}

func TestRunEventsStream(t *testing.T) {
	a := startAgent(t, "--events", "--no-containerd")
	dir := t.TempDir()
	path := filepath.Join(dir, "line\nbreak\"quote\xff")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// sh, started after vigil, forks cat: the fork (the child's first
	// record) and the exec carry cat's environment and capabilities, which
	// its open leaves out. (A process that was running when vigil started
	// has no environment known until it execs.)
	runCommand(t, "sh", "-c", `cat "$0"; true`, path)
	seen := map[int64]map[string]agenttest.Line{}
	r := a.Expect(t, "open of a hostile file name", func(r agenttest.Line) bool {
		pid := agenttest.Int(r.Fields["proc.pid"])
		if r.Event == "clone" || r.Event == "execve" {
			if seen[pid] == nil {
				seen[pid] = map[string]agenttest.Line{}
			}
			seen[pid][r.Event] = r
		}
		return r.Event == "openat" && r.Fields["proc.name"] == "cat" && strings.HasPrefix(fmt.Sprint(r.Fields["fd.name"]), dir)
	})
	pid := agenttest.Int(r.Fields["proc.pid"])
	for _, ev := range []string{"clone", "execve"} {
		l, ok := seen[pid][ev]
		if !ok {
			t.Errorf("no %s record of pid %d before its open", ev, pid)
			continue
		}
		if !strings.Contains(fmt.Sprint(l.Fields["thread.cap_effective"]), "CAP_SYS_ADMIN") || l.Fields["proc.env"] == nil {
			t.Errorf("%s record: thread.cap_effective %v, proc.env %v, want root's capabilities and the environment",
				ev, l.Fields["thread.cap_effective"], l.Fields["proc.env"])
		}
	}
	for _, f := range []string{"proc.env", "thread.cap_effective", "thread.cap_permitted", "thread.cap_inheritable"} {
		if v, has := r.Fields[f]; has {
			t.Errorf("open record carries %s (%v): only execs, forks and credential changes do", f, v)
		}
	}
	if want := dir + "/line\nbreak\"quote\ufffd"; r.Fields["fd.name"] != want {
		t.Errorf("fd.name = %q, want %q", r.Fields["fd.name"], want)
	}
	if r.Fields["container.id"] != "host" || r.Fields["evt.res"] != "SUCCESS" {
		t.Errorf("fields: %+v", r.Fields)
	}
}

// TestValidateFalcoFiles loads Falco's three upstream files together, in the
// order users load them (later files use lists and macros of earlier ones).
func TestValidateFalcoFiles(t *testing.T) {
	args := []string{"validate", "--json"}
	for _, name := range falcorules.Files {
		args = append(args, testutil.FalcoRulesPath(t, name))
	}
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("validate of Falco's upstream rules exited %d: %s %s", code, out.String(), errb.String())
	}
	var res struct {
		Results []struct {
			Name        string   `json:"name"`
			Successful  bool     `json:"successful"`
			RulesLoaded []string `json:"rules_loaded"`
		} `json:"falco_load_results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != len(falcorules.Files) {
		t.Fatalf("got %d results for %d files: %s", len(res.Results), len(falcorules.Files), out.String())
	}
	for i, r := range res.Results {
		if !r.Successful || len(r.RulesLoaded) == 0 || filepath.Base(r.Name) != falcorules.Files[i] {
			t.Errorf("result %d: %+v", i, r)
		}
	}
}

func TestValidate(t *testing.T) {
	var out, errb bytes.Buffer
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("- rule: broken\n  desc: d\n  condition: proc.name = cat and (\n  output: o\n  priority: WARNING\n"), 0o644)
	if code := run([]string{"validate", bad}, &out, &errb); code != exitUsage {
		t.Fatalf("validate of a broken file exited %d, want %d", code, exitUsage)
	}
	if !strings.Contains(out.String(), bad+":3:") || !strings.Contains(out.String(), "broken") {
		t.Errorf("error does not name file:line:col and the rule:\n%s", out.String())
	}
}

func TestFieldsAndUsage(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"fields"}, &out, io.Discard); code != exitOK {
		t.Fatalf("fields exited %d", code)
	}
	for _, want := range []string{"evt.type", "proc.aname[N]", "container.label[KEY]", "fd.sip"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("fields output lacks %s", want)
		}
	}
	if code := run([]string{"bogus"}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("unknown command exited %d, want %d", code, exitUsage)
	}
	if code := run([]string{"run", "--ring-buffer-size", "nope"}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("bad flag exited %d, want %d", code, exitUsage)
	}
}
