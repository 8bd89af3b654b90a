package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/sink/sinktest"
)

// shadowRule is the default rule that reading /etc/shadow raises.
const shadowRule = "Read Shadow or Sudoers File"

// shadowReader reads /etc/shadow with cat, the activity the tests alert
// on, naming in cat's command line a file of its own: other tests and
// agents on the machine read /etc/shadow too, and only lines with the
// marker are this test's.
type shadowReader struct {
	marker string
}

func newShadowReader(t *testing.T) *shadowReader {
	marker := filepath.Join(t.TempDir(), "shadow-marker")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &shadowReader{marker: marker}
}

func (r *shadowReader) read(t *testing.T) {
	t.Helper()
	if err := exec.Command("cat", "/etc/shadow", r.marker).Run(); err != nil {
		t.Fatalf("cat /etc/shadow: %v", err)
	}
}

// isAlert matches the stdout alert of read.
func (r *shadowReader) isAlert(l agenttest.Line) bool {
	cmdline, _ := l.OutputFields["proc.cmdline"].(string)
	return l.Rule == shadowRule && l.OutputFields["fd.name"] == "/etc/shadow" && strings.Contains(cmdline, r.marker)
}

// lines returns the lines of a file that carry the marker (none when the
// file does not exist).
func (r *shadowReader) lines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, r.marker) {
			out = append(out, l)
		}
	}
	return out
}

// An alert from real activity on this kernel reaches every kind of output,
// each in its format: a file (OCSF), falcosidekick's HTTP intake (Falco's
// body), syslog over UDP (ECS) and TCP (CEF), a program, and stdout.
func TestOutputsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	intake := &sinktest.Intake{}
	srv := httptest.NewServer(intake)
	defer srv.Close()
	udp := sinktest.ListenPacket(t, "udp", "127.0.0.1:0")
	tcp := sinktest.ListenTCP(t)
	ocsf, program := filepath.Join(dir, "alerts.ocsf.json"), filepath.Join(dir, "program.json")
	cfg := writeConfig(t, fmt.Sprintf(`
no_containerd: true
outputs:
  - type: stdout
  - type: file
    path: %s
    format: ocsf
  - type: http
    name: sidekick
    url: %s/
  - type: syslog
    name: syslog-udp
    network: udp
    address: %s
    format: ecs
    facility: local0
  - type: syslog
    name: syslog-tcp
    network: tcp
    address: %s
    format: cef
  - type: program
    command: [/bin/sh, -c, "cat >> %s"]
`, ocsf, srv.URL, udp.Addr, tcp.Addr, program))
	a := agenttest.Start(t, agenttest.Config{Bin: vigilBin, Args: []string{"--config", cfg}})
	r := newShadowReader(t)
	r.read(t)
	a.Expect(t, "the alert on stdout", r.isAlert)

	sinktest.WaitFor(t, 10*time.Second, "the OCSF line in the file", func() bool { return len(r.lines(ocsf)) > 0 })
	var finding struct {
		ClassUID    int                    `json:"class_uid"`
		FindingInfo struct{ Title string } `json:"finding_info"`
		Evidences   []struct {
			File    struct{ Path string }
			Process struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(r.lines(ocsf)[0]), &finding); err != nil || finding.ClassUID != 2004 ||
		finding.FindingInfo.Title != shadowRule || finding.Evidences[0].File.Path != "/etc/shadow" || finding.Evidences[0].Process.Name != "cat" {
		t.Errorf("OCSF line %s: %v", r.lines(ocsf)[0], err)
	}

	var req sinktest.Request
	sinktest.WaitFor(t, 10*time.Second, "the POST to the HTTP intake", func() bool {
		for _, q := range intake.Requests() {
			if strings.Contains(string(q.Body), r.marker) {
				req = q
				return true
			}
		}
		return false
	})
	if p := sinktest.DecodeFalco(t, req.Body); p.Rule != shadowRule || p.OutputFields["fd.name"] != "/etc/shadow" ||
		req.ContentType != "application/json" || req.Method != http.MethodPost {
		t.Errorf("request %s %s: %s", req.Method, req.ContentType, req.Body)
	}

	mine := func(c *sinktest.Collector) []sinktest.Message {
		var out []sinktest.Message
		for _, m := range c.Messages(t) {
			if strings.Contains(m.Msg, r.marker) {
				out = append(out, m)
			}
		}
		return out
	}
	sinktest.WaitFor(t, 10*time.Second, "the syslog messages", func() bool {
		return len(mine(udp)) > 0 && len(mine(tcp)) > 0
	})
	var doc struct {
		Event struct{ Kind string }
		Rule  struct{ Name string }
		File  struct{ Path string }
	}
	if m := mine(udp)[0]; m.Pri != 16*8+4 || m.App != "vigil" || json.Unmarshal([]byte(m.Msg), &doc) != nil ||
		doc.Event.Kind != "alert" || doc.Rule.Name != shadowRule || doc.File.Path != "/etc/shadow" {
		t.Errorf("UDP syslog message %+v", m)
	}
	if m := mine(tcp)[0]; !strings.HasPrefix(m.Msg, "CEF:0|vigil|vigil|") || !strings.Contains(m.Msg, "|"+shadowRule+"|") ||
		!strings.Contains(m.Msg, " filePath=/etc/shadow") {
		t.Errorf("TCP syslog message %+v", m)
	}

	sinktest.WaitFor(t, 10*time.Second, "the line on the program's stdin", func() bool { return len(r.lines(program)) > 0 })
	if p := sinktest.DecodeFalco(t, []byte(r.lines(program)[0])); p.Rule != shadowRule {
		t.Errorf("program got %s", r.lines(program)[0])
	}

	for _, sink := range []string{`sink="stdout",type="stdout"`, `sink="file",type="file"`, `sink="sidekick",type="http"`,
		`sink="syslog-udp",type="syslog"`, `sink="syslog-tcp",type="syslog"`, `sink="program",type="program"`} {
		a.WaitMetric(t, "vigil_sink_records_total{"+sink+"}", 10*time.Second, func(v float64) bool { return v >= 1 })
	}
}

// A stalled HTTP intake and a syslog collector that is not there drop and
// count their own alerts; every alert still reaches stdout and a file,
// and the drop records name the outputs that lost them.
func TestOutputsStalledDoNotBlock(t *testing.T) {
	srv := sinktest.Stalled(t)
	dead := sinktest.Refused(t)
	file := filepath.Join(t.TempDir(), "alerts.json")
	cfg := writeConfig(t, fmt.Sprintf(`
no_containerd: true
status_interval: 100ms
drain_timeout: 1s
outputs:
  - type: stdout
  - type: file
    path: %s
  - type: http
    url: %s/
    timeout: 200ms
    retries: 0
    queue: 2
  - type: syslog
    network: tcp
    address: %s
    queue: 2
`, file, srv.URL, dead))
	a := agenttest.Start(t, agenttest.Config{Bin: vigilBin, Args: []string{"--config", cfg}})
	r := newShadowReader(t)
	const n = 20
	for range n {
		r.read(t)
	}
	for i := range n {
		a.Expect(t, fmt.Sprintf("alert %d on stdout", i+1), r.isAlert)
	}
	sinktest.WaitFor(t, 10*time.Second, "every alert in the file", func() bool { return len(r.lines(file)) == n })
	drop := a.Expect(t, "a drop record naming the slow outputs", func(l agenttest.Line) bool {
		return l.Source == "internal" && l.Rule == "vigil internal: output drop" &&
			agenttest.Int(l.OutputFields["http.dropped"]) > 0 && agenttest.Int(l.OutputFields["syslog.dropped"]) > 0
	})
	if _, ok := drop.OutputFields["http.queue_depth"]; !ok {
		t.Errorf("drop record %s", drop.Raw)
	}
	m := a.Metrics(t)
	if v := m.Get(t, `vigil_sink_drops_total{sink="stdout",type="stdout"}`); v != 0 {
		t.Errorf("stdout dropped %v alerts", v)
	}
	if v := m.Get(t, `vigil_sink_drops_total{sink="http",type="http"}`); v == 0 {
		t.Error("the stalled intake's drops are not counted")
	}
}

// SIGHUP after logrotate renamed the file: alerts go to a new file at the
// path. A broken configuration on SIGHUP keeps the running one and the log
// says where it is broken; a fixed one adds an output.
func TestOutputsReloadOnHUP(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "alerts.json")
	fileOutput := fmt.Sprintf("no_containerd: true\noutputs:\n  - type: file\n    path: %s\n", file)
	cfg := writeConfig(t, fileOutput)
	a := agenttest.Start(t, agenttest.Config{Bin: vigilBin, Args: []string{"--config", cfg}})
	r := newShadowReader(t)
	reloads := 0
	hup := func(what string) string {
		reloads++
		a.Signal(t, syscall.SIGHUP)
		return a.WaitStderr(t, what, 10*time.Second, func(s string) bool {
			return strings.Count(s, `msg="rules reloaded"`)+strings.Count(s, `msg="reloading rules failed`) >= reloads
		})
	}

	r.read(t)
	sinktest.WaitFor(t, 10*time.Second, "the alert in the file", func() bool { return len(r.lines(file)) == 1 })
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	hup("the reload after the rename")
	r.read(t)
	sinktest.WaitFor(t, 10*time.Second, "the alert in a new file", func() bool { return len(r.lines(file)) == 1 })
	if n := len(r.lines(file + ".1")); n != 1 {
		t.Errorf("the renamed file has %d lines, want 1", n)
	}

	if err := os.WriteFile(cfg, []byte(fileOutput+"    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := hup("the failed reload")
	if !strings.Contains(stderr, cfg+":5:5: outputs[0].colour: unknown key") {
		t.Errorf("the log does not say where the configuration is broken:\n%s", a.StderrTail(2000))
	}
	r.read(t)
	sinktest.WaitFor(t, 10*time.Second, "the alert after the failed reload", func() bool { return len(r.lines(file)) == 2 })

	intake := &sinktest.Intake{}
	srv := httptest.NewServer(intake)
	defer srv.Close()
	if err := os.WriteFile(cfg, []byte(fileOutput+fmt.Sprintf("  - type: http\n    url: %s/\n", srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	hup("the reload adding an output")
	r.read(t)
	sinktest.WaitFor(t, 10*time.Second, "the alert at the new output", func() bool { return len(intake.Requests()) == 1 })
	if n := len(r.lines(file)); n != 3 {
		t.Errorf("the file has %d lines, want 3: the running output must keep its file", n)
	}
}
