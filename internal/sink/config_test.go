package sink

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/config"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

func TestConfigDecode(t *testing.T) {
	cfgs := parseOutputs(t, `
  - type: stdout
    format: ecs
  - type: http
    name: sidekick
    url: https://127.0.0.1:2801/
    min_priority: warning
    timeout: 2s
    retries: 0
    ca_cert: /etc/ca.pem
    headers: {Authorization: "Bearer x"}
  - type: syslog
    network: tcp
    address: 127.0.0.1:514
    facility: local3
    format: cef
  - type: program
    command: [/usr/bin/logger, -t, vigil]
  - type: file
    path: /var/log/vigil.json
    events: true
`)
	if len(cfgs) != 5 {
		t.Fatalf("%d outputs", len(cfgs))
	}
	h := cfgs[1]
	if cfgs[0].Format != output.FormatECS || h.SinkName() != "sidekick" || h.MinPriority != rules.PriorityWarning ||
		h.HTTP.Timeout != 2*time.Second || h.HTTP.Retries == nil || *h.HTTP.Retries != 0 || h.HTTP.Headers["Authorization"] != "Bearer x" {
		t.Errorf("decoded %+v", cfgs[:2])
	}
	if cfgs[2].Syslog.Facility != "local3" || cfgs[2].Format != output.FormatCEF || strings.Join(cfgs[3].Program.Command, " ") != "/usr/bin/logger -t vigil" ||
		!cfgs[4].events() || cfgs[2].events() || !cfgs[0].events() {
		t.Errorf("decoded %+v", cfgs[2:])
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no type", "  - path: /x\n", "c.yaml:2:5: outputs[0]: needs a type (one of stdout, file, http, syslog, program)"},
		{"unknown type", "  - type: kafka\n", `c.yaml:2:11: outputs[0].type: unknown type "kafka"`},
		{"other type's key", "  - type: file\n    path: /x\n    url: http://a/\n", "c.yaml:4:5: outputs[0].url: unknown key (known: events, format, min_priority, name, path, queue, queue_bytes, type)"},
		{"no path", "  - type: file\n", "c.yaml:2:5: outputs[0]: path: a file output needs a path"},
		{"bad url", "  - type: http\n    url: ftp://x/\n", `c.yaml:3:10: outputs[0].url: "ftp://x/" is not an http:// or https:// URL`},
		{"tls on http", "  - type: http\n    url: http://x/\n    ca_cert: /ca\n", "c.yaml:3:10: outputs[0].url: TLS settings need an https:// URL"},
		{"half client cert", "  - type: http\n    url: https://x/\n    client_cert: /c\n", "c.yaml:4:18: outputs[0].client_cert: client_cert and client_key go together"},
		{"bad priority", "  - type: stdout\n    min_priority: loud\n", `c.yaml:3:19: outputs[0].min_priority: parsing priority "loud"`},
		{"bad format", "  - type: stdout\n    format: xml\n", `c.yaml:3:13: outputs[0].format: unknown format "xml"`},
		{"events need falco", "  - type: file\n    path: /x\n    format: ocsf\n    events: true\n", "c.yaml:5:13: outputs[0].events: event records need format falco, not ocsf"},
		{"facility", "  - type: syslog\n    address: a:1\n    facility: local9\n", `c.yaml:4:15: outputs[0].facility: unknown facility "local9"`},
		{"network", "  - type: syslog\n    address: a:1\n    network: sctp\n", `c.yaml:4:14: outputs[0].network: "sctp": want udp, tcp or unix`},
		{"no command", "  - type: program\n    command: []\n", "c.yaml:3:14: outputs[0].command: a program output needs a command"},
		{"command string", "  - type: program\n    command: logger -t vigil\n", `c.yaml:3:14: outputs[0].command: want a list, got "logger -t vigil"`},
		{"two unnamed", "  - type: file\n    path: /a\n  - type: file\n    path: /b\n", "c.yaml:4:5: outputs[1]: a second file output needs a name of its own"},
		{"two stdout", "  - type: stdout\n  - type: stdout\n    name: again\n", "c.yaml:3:5: outputs[1]: a second stdout output"},
		{"bad name", "  - type: stdout\n    name: a b\n", `c.yaml:3:11: outputs[0].name: "a b": use letters`},
		{"timeout type", "  - type: http\n    url: http://x/\n    timeout: 5\n", `c.yaml:4:14: outputs[0].timeout: want a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfgs Configs
			err := config.Decode("c.yaml", []byte("outputs:\n"+tt.in), []config.Key{{Name: "outputs", Dst: &cfgs}})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n got %v\nwant %s...", err, tt.want)
			}
		})
	}
}
