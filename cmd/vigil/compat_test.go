package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/output"
)

// TestCompatAlert: a pipeline that raises the 32-bit program alert does so
// for the successful exec of a 32-bit program only, with the fields that
// say which program ran; one that does not (the sensor sees 32-bit
// syscalls) stays silent.
func TestCompatAlert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	rule := "- rule: Never\n  desc: d\n  condition: evt.type = connect and fd.sport = 1\n  output: o\n  priority: INFO\n"
	if err := os.WriteFile(path, []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseRunConfig([]string{"--rules", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rs, _, err := cfg.loadRules(nil)
	if err != nil {
		t.Fatal(err)
	}
	proc32 := &event.Process{PID: 42, PPID: 7, Name: "x32", Exe: "/tmp/x32", ExePath: "/tmp/x32", Args: "-a", Cmdline: "x32 -a", UID: 1000, Compat: true, ExecSeen: true}
	proc64 := &event.Process{PID: 43, PPID: 7, Name: "cat", Exe: "cat", ExePath: "/usr/bin/cat", ExecSeen: true}
	for _, tt := range []struct {
		name   string
		compat bool // the pipeline raises the alert
		e      event.Event
		want   bool
	}{
		{"32-bit exec", true, event.Event{Type: event.TypeExecve, Time: 5, PID: 42, Proc: proc32}, true},
		{"32-bit execveat", true, event.Event{Type: event.TypeExecveat, Time: 5, PID: 42, Proc: proc32}, true},
		{"64-bit exec", true, event.Event{Type: event.TypeExecve, Time: 5, PID: 43, Proc: proc64}, false},
		{"failed exec of a 32-bit process", true, event.Event{Type: event.TypeExecve, Time: 5, PID: 42, Res: -2, Proc: proc32}, false},
		{"open of a 32-bit process", true, event.Event{Type: event.TypeOpenat, Time: 5, PID: 42, Res: 3, Proc: proc32}, false},
		{"32-bit exec, 32-bit syscalls seen", false, event.Event{Type: event.TypeExecve, Time: 5, PID: 42, Proc: proc32}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := output.NewWriter(&out, 16)
			p := newPipeline(nil, rs, false, output.NewEncoder("h"), w)
			if tt.compat {
				if p.compat, err = newCompatAlert(); err != nil {
					t.Fatal(err)
				}
			}
			e := tt.e
			p.handle(&e)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !tt.want {
				if out.Len() != 0 {
					t.Errorf("got %s, want no alert", out.String())
				}
				return
			}
			var got struct {
				Rule, Priority, Source, Output string
				OutputFields                   map[string]any `json:"output_fields"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("decoding %q: %v", out.String(), err)
			}
			want := map[string]any{"proc.pid": 42.0, "proc.ppid": 7.0, "proc.exepath": "/tmp/x32", "proc.cmdline": "x32 -a",
				"user.uid": 1000.0, "container.id": "host"}
			if got.Rule != ruleCompatExec || got.Priority != "Warning" || got.Source != output.SourceInternal {
				t.Errorf("got rule %q priority %q source %q", got.Rule, got.Priority, got.Source)
			}
			for k, v := range want {
				if got.OutputFields[k] != v {
					t.Errorf("output_fields[%s] = %v, want %v (%s)", k, got.OutputFields[k], v, out.String())
				}
			}
			if !strings.Contains(got.Output, `proc.exepath="/tmp/x32"`) || !strings.Contains(got.Output, "proc.pid=42") {
				t.Errorf("output %q does not name the program", got.Output)
			}
		})
	}
}
