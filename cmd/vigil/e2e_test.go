package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// record is the part of a JSON line the tests look at.
type record struct {
	Time         string         `json:"time"`
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Output       string         `json:"output"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Hostname     string         `json:"hostname"`
	Tags         []string       `json:"tags"`
	Event        string         `json:"event"`
	Fields       map[string]any `json:"fields"`
}

// agent is a running `vigil run` whose stdout lines arrive on a channel.
type agent struct {
	cmd    *exec.Cmd
	lines  chan record
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAgent runs vigil with args and waits for its "sensor attached" line.
func startAgent(t *testing.T, args ...string) *agent {
	t.Helper()
	testutil.RequireRoot(t)
	a := &agent{lines: make(chan record, 100000), stderr: &syncBuffer{}, done: make(chan error, 1)}
	a.cmd = exec.Command(vigilBin, append([]string{"run"}, relLockArgs(t, args)...)...)
	a.cmd.Stderr = a.stderr
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var r record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				r = record{Rule: "INVALID JSON: " + err.Error() + ": " + sc.Text()}
			}
			a.lines <- r
		}
		close(a.lines)
		a.done <- a.cmd.Wait()
	}()
	t.Cleanup(func() { a.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.stderr.String(), "sensor attached") {
		if time.Now().After(deadline) {
			t.Fatalf("vigil did not attach in 30s; stderr:\n%s", a.stderr)
		}
		select {
		case err := <-a.done:
			t.Fatalf("vigil exited before attaching: %v; stderr:\n%s", err, a.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return a
}

// stop sends SIGTERM and waits for a clean exit.
func (a *agent) stop(t *testing.T) {
	if a.cmd.ProcessState != nil {
		return
	}
	a.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("vigil exited with %v; stderr:\n%s", err, a.stderr)
		}
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		t.Errorf("vigil did not stop in 20s after SIGINT")
	}
}

// expect waits until a record satisfies match, failing after the deadline.
func (a *agent) expect(t *testing.T, what string, match func(record) bool) record {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case r, ok := <-a.lines:
			if !ok {
				t.Fatalf("%s: vigil's output ended; stderr:\n%s", what, a.stderr)
			}
			if strings.HasPrefix(r.Rule, "INVALID JSON") {
				t.Fatalf("%s: %s", what, r.Rule)
			}
			if match(r) {
				return r
			}
		case <-deadline:
			t.Fatalf("%s: no matching record in 15s; stderr:\n%s", what, a.stderr)
		}
	}
}

// expectNone checks that no record satisfying match arrives before a
// marker command, run after the activity under test, shows up: the kernel
// emits events in order per CPU and the marker bounds the wait.
func (a *agent) expectNone(t *testing.T, what string, match func(record) bool, marker func() int) {
	t.Helper()
	pid := marker()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case r, ok := <-a.lines:
			if !ok {
				t.Fatalf("%s: vigil's output ended", what)
			}
			if match(r) {
				t.Fatalf("%s: unexpected record %+v", what, r)
			}
			if r.Event != "" && num(r.Fields["proc.pid"]) == pid {
				return
			}
		case <-deadline:
			t.Fatalf("%s: the marker (pid %d) never arrived", what, pid)
		}
	}
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// runCmd runs a command to completion and returns its pid.
func runCommand(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running %s: %v", name, err)
		}
	}
	return cmd.Process.Pid
}

func TestRunAlertsWithStableFalcoRules(t *testing.T) {
	a := startAgent(t, "--rules", testutil.FalcoRulesPath(t, falcorules.Stable))
	runCommand(t, "cat", "/etc/shadow")
	r := a.expect(t, "reading /etc/shadow", func(r record) bool { return r.Rule == "Read sensitive file untrusted" })
	if r.OutputFields["fd.name"] != "/etc/shadow" || r.OutputFields["proc.name"] != "cat" || r.Source != "syscall" {
		t.Errorf("alert fields: %+v", r.OutputFields)
	}
	if !strings.Contains(r.Output, "Warning Sensitive file opened for reading") || r.Priority != "Warning" {
		t.Errorf("alert output/priority: %q %q", r.Priority, r.Output)
	}
	runCommand(t, "find", "/root", "-maxdepth", "1", "-name", "id_rsa")
	a.expect(t, "find for private keys", func(r record) bool {
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
	pid := runCommand(t, "cat", path)
	r := a.expect(t, "open of a hostile file name", func(r record) bool {
		return r.Event == "openat" && num(r.Fields["proc.pid"]) == pid && strings.HasPrefix(fmt.Sprint(r.Fields["fd.name"]), dir)
	})
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
