package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
)

// writeConfig writes a configuration file in the test's directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sample is a valid value other than the default for an option, as a flag
// argument and as YAML.
func sample(o runOption) (arg string, yaml string) {
	switch o.ptr.(type) {
	case *bool:
		return "", "true"
	case *int:
		return "4096", "4096"
	case *time.Duration:
		return "7s", "7s"
	case *stringList:
		return "a", "[a]"
	}
	v := map[string]string{"min-priority": "warning", "rule-matching": "all", "syscall-hooks": "tracepoint", "response": "log",
		"pprof-addr": "127.0.0.1:6060"}[o.name]
	if v == "" {
		v = "/run/x"
	}
	return v, fmt.Sprintf("%q", v)
}

// Every flag of vigil run has a configuration key of the same meaning: set
// one way or the other, each gives the same settings.
func TestEveryFlagHasAKey(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	defaultRunConfig().bind(fs)
	opts := defaultRunConfig().options()
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" && !slices.ContainsFunc(opts, func(o runOption) bool { return o.name == f.Name || o.alias == f.Name }) {
			t.Errorf("flag --%s has no configuration key", f.Name)
		}
	})
	for i, o := range opts {
		arg, value := sample(o)
		args := []string{"--" + o.name}
		if arg != "" {
			args = append(args, arg)
		}
		byFlag, err := parseRunConfig(args, io.Discard)
		if err != nil {
			t.Fatalf("--%s: %v", o.name, err)
		}
		path := writeConfig(t, fmt.Sprintf("%s: %s\n", o.key(), value))
		byFile, err := parseRunConfig([]string{"--config", path}, io.Discard)
		if err != nil {
			t.Fatalf("key %s: %v", o.key(), err)
		}
		fromFlag := reflect.ValueOf(byFlag.options()[i].ptr).Elem().Interface()
		fromFile := reflect.ValueOf(byFile.options()[i].ptr).Elem().Interface()
		def := reflect.ValueOf(defaultRunConfig().options()[i].ptr).Elem().Interface()
		if !reflect.DeepEqual(fromFlag, fromFile) || reflect.DeepEqual(fromFlag, def) {
			t.Errorf("--%s gives %v, key %s gives %v (default %v)", o.name, fromFlag, o.key(), fromFile, def)
		}
	}
}

func TestFlagsWinOverFile(t *testing.T) {
	path := writeConfig(t, "min_priority: error\nrules: [a.yaml, b.yaml]\nevents: true\ndisable_tag: [network]\n")
	cfg, err := parseRunConfig([]string{"--config", path, "--min-priority", "warning", "--rules", "c.yaml", "-T", "filesystem"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.minPriority != "warning" || strings.Join(cfg.rules, ",") != "c.yaml" || !cfg.events ||
		strings.Join(cfg.disableTags, ",") != "filesystem" || cfg.configFile != path {
		t.Errorf("settings %+v", cfg)
	}
}

// A bad configuration file stops vigil run before it touches the kernel,
// with exit status 2 and the file:line:col of each problem.
func TestRunConfigErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown key", "events: true\nbogus: 1\n", []string{":2:1: bogus: unknown key"}},
		{"wrong type", "ring_buffer_size: big\n", []string{`:1:19: ring_buffer_size: want an integer, got "big"`}},
		{"bad value", "min_priority: loud\nrule_matching: some\n", []string{
			`:1:15: min_priority: parsing priority "loud"`, `:2:16: rule_matching: "some": want first or all`}},
		{"bad output", "outputs:\n  - type: http\n    url: ftp://x/\n", []string{`:3:10: outputs[0].url: "ftp://x/" is not an http:// or https:// URL`}},
		{"syntax", "events: [\n", []string{":1:1: invalid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.text)
			var stderr bytes.Buffer
			if code := run([]string{"run", "--config", path}, io.Discard, &stderr); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), path+w) {
					t.Errorf("stderr lacks %q:\n%s", path+w, stderr.String())
				}
			}
		})
	}
	var stderr bytes.Buffer
	if code := run([]string{"run", "--config", "/nonexistent/vigil.yaml"}, io.Discard, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "reading configuration") {
		t.Errorf("missing file: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"run", "-t", "network", "-D", "Shell"}, io.Discard, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "cannot be combined") {
		t.Errorf("-t with -D: exit %d: %s", code, stderr.String())
	}
}

func TestValidateConfig(t *testing.T) {
	good := writeConfig(t, `
min_priority: notice
rule_matching: all
disable_tag: [network]
outputs:
  - type: stdout
  - type: syslog
    network: udp
    address: 127.0.0.1:514
    format: cef
`)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--config", good}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "configuration ok") || !strings.Contains(stdout.String(), "vigil_rules.yaml: ok") {
		t.Errorf("output:\n%s%s", stdout.String(), stderr.String())
	}
	for _, tt := range []struct{ text, want string }{
		{"outputs:\n  - type: file\n    path: /x\n    colour: red\n", ":4:5: outputs[0].colour: unknown key"},
		{"outputs:\n  - type: program\n    command: [/nonexistent/forwarder]\n", "output program (program /nonexistent/forwarder)"},
		{"enable_tag: [a]\ndisable_rule: [b]\n", "cannot be combined"},
		{"rules: [/nonexistent/rules.yaml]\n", "reading rules"},
		{"dedup:\n  window: 1m\n  fields: [proc.name, proc.nme]\n", `:3:23: dedup.fields[1]: unknown field "proc.nme"`},
		{"dedup:\n  rules:\n    Shell Spawned in Container: {window: -1s}\n", ":3:42: dedup.rules.Shell Spawned in Container.window: must not be negative"},
		{"response: enforce\n", `:1:11: response: "enforce": want run, log`},
		{"actions:\n  - name: pause\n    rules: [x]\n    command: [/bin/true]\n    timeout: -1s\n", ":5:14: actions[0].timeout: must be positive"},
		{"actions:\n  - name: pause\n    rules: [x]\n    command: [/nonexistent/pause]\n", `action pause: exec: "/nonexistent/pause"`},
	} {
		bad := writeConfig(t, tt.text)
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"validate", "--config", bad}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr %s; want %q", tt.text, code, stderr.String(), tt.want)
		}
	}
}

// validate --config warns of rules the dedup and actions keys name that
// no rule file loads: a typo would otherwise do nothing.
func TestValidateConfigRuleNames(t *testing.T) {
	path := writeConfig(t, `
dedup:
  window: 1m
  rules:
    Shell Spawned in Container: {window: 10s}
    Shell spawned in a container: {window: 10s}
actions:
  - name: pause
    rules: [Shell Spawned in Container, Read sensitive fil]
    command: [/bin/true]
`)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--config", path}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, w := range []string{`warning: dedup.rules: no loaded rule is named "Shell spawned in a container"`,
		`warning: actions[0].rules[1]: no loaded rule is named "Read sensitive fil"`} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
		}
	}
	if strings.Count(stderr.String(), "warning:") != 2 {
		t.Errorf("want two warnings:\n%s", stderr.String())
	}
}

func TestRuleSelection(t *testing.T) {
	rule := func(name string, enabled bool, tags ...string) *rules.Rule {
		return &rules.Rule{Name: name, Enabled: enabled, Tags: tags}
	}
	all := []*rules.Rule{
		rule("Shell Spawned in Container", true, "container", "shell"),
		rule("Read Shadow File", true, "filesystem"),
		rule("Outbound Connection", true, "network"),
		rule("Noisy Network Rule", false, "network"),
	}
	tests := []struct {
		name            string
		sel             ruleSelection
		enable, disable []string
	}{
		{"by name part (-D)", ruleSelection{disableRules: []string{"Shell"}}, nil, []string{"Shell Spawned in Container"}},
		{"by tag (-T)", ruleSelection{disableTags: []string{"filesystem", "shell"}}, nil, []string{"Shell Spawned in Container", "Read Shadow File"}},
		{"only a tag (-t)", ruleSelection{enableTags: []string{"network"}}, []string{"Noisy Network Rule"}, []string{"Shell Spawned in Container", "Read Shadow File"}},
		{"enable by name, last", ruleSelection{disableTags: []string{"network"}, enableRules: []string{"Outbound"}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enable, disable := tt.sel.resolve(all)
			if !slices.Equal(enable, tt.enable) || !slices.Equal(disable, tt.disable) {
				t.Errorf("enable %q disable %q, want %q %q", enable, disable, tt.enable, tt.disable)
			}
		})
	}
	// With the default rules: only the rules of one tag stay active.
	rs, _, err := loadSelected(nil, rules.Options{}, ruleSelection{enableTags: []string{"network"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Active()) == 0 {
		t.Fatal("no default rule has the network tag")
	}
	for _, r := range rs.Active() {
		if !slices.Contains(r.Tags, "network") {
			t.Errorf("rule %q is active without the tag", r.Name)
		}
	}
}

// rule_matching: all raises every matching rule's alert; first only the
// first's.
func TestRuleMatching(t *testing.T) {
	src := []byte(`
- rule: First
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: first %fd.name
  priority: WARNING
- rule: Second
  desc: d
  condition: evt.type = openat and fd.name startswith /etc/
  output: second %fd.name
  priority: ERROR
`)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		matching string
		want     []string
	}{{"first", []string{"First"}}, {"all", []string{"First", "Second"}}} {
		cfg, err := parseRunConfig([]string{"--rules", path, "--rule-matching", tt.matching}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		rs, _, err := cfg.loadRules(nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		w := output.NewWriter(&out, 16)
		p := newPipeline(nil, rs, false, output.NewEncoder("h"), w)
		e := &event.Event{Type: event.TypeOpenat, Time: 1, Res: 3, Proc: &event.Process{Name: "cat"}}
		e.Open.Name, e.Open.RealPath = []byte("/etc/shadow"), []byte("/etc/shadow")
		p.handle(e)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var r struct{ Rule string }
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Rule)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("rule_matching %s: alerts of %q, want %q", tt.matching, got, tt.want)
		}
	}
}
