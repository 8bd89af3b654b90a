package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"golang.org/x/sys/unix"
)

const okRule = `
- rule: r
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
`

// TestLoadErrors checks that malformed files fail with Falco's code, the
// item and the exact file:line:col.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		code string
		pos  string
		item string
		msg  string
	}{
		{"yaml syntax", "- rule: x\n  desc: d: e\n", ErrYAMLParse, "test.yaml:2:1", "", "mapping values are not allowed in this context"},
		{"not a sequence", "rule: x\n", ErrYAMLValidate, "test.yaml:1:1", "", "not yaml array of objects"},
		{"scalar item", "- just a string\n", ErrYAMLValidate, "test.yaml:1:3", "", "Each element should be a yaml associative array"},
		{"duplicate key", "- rule: x\n  rule: y\n", ErrYAMLValidate, "test.yaml:2:3", "", "duplicate key 'rule'"},
		{"missing output", "- rule: x\n  desc: d\n  condition: evt.type=open\n  priority: INFO\n", ErrYAMLValidate, "test.yaml:1:3", "rule x", "no mapping for key 'output'"},
		{"empty desc", "- rule: x\n  desc:\n  condition: a\n  output: o\n  priority: INFO\n", ErrYAMLValidate, "test.yaml:1:3", "rule x", "Mapping for key 'desc' is empty"},
		{"bad priority", "- rule: x\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: LOUD\n", ErrYAMLValidate, "test.yaml:5:13", "rule x", "Invalid priority"},
		{"bad bool", "- rule: x\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  enabled: maybe\n", ErrYAMLValidate, "test.yaml:6:12", "rule x", "as a boolean"},
		{"tags not a list", "- rule: x\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  tags: a\n", ErrYAMLValidate, "test.yaml:6:9", "rule x", "Value is not a sequence"},
		{"items not a list", "- list: l\n  items: a\n", ErrYAMLValidate, "test.yaml:2:10", "list l", "Value is not a sequence"},
		{"bad list name", "- list: 'a b'\n  items: []\n", ErrValidate, "test.yaml:1:3", "list a b", "List has an invalid name"},
		{"bad macro name", "- macro: a.b\n  condition: x\n", ErrValidate, "test.yaml:1:3", "macro a.b", "Macro has an invalid name"},
		{"engine version", "- required_engine_version: abc\n", ErrYAMLValidate, "test.yaml:1:28", "", "Unable to parse engine version"},
		{"plugin versions", "- required_plugin_versions: x\n", ErrYAMLValidate, "test.yaml:1:29", "", "must be a sequence"},
		{"parse error in block", "- rule: x\n  desc: d\n  condition: >\n    evt.type = open and\n    proc.name in (a,\n  output: o\n  priority: INFO\n",
			ErrCompileCondition, "test.yaml:5:21", "rule x", "expected a string value, found end of condition"},
		{"parse error in plain multi-line", "- rule: x\n  desc: d\n  condition: evt.type = open\n    and )\n  output: o\n  priority: INFO\n",
			ErrCompileCondition, "test.yaml:4:9", "rule x", "expected a '(' token"},
		{"parse error in quoted", "- rule: x\n  desc: d\n  condition: \"evt.type = open and (\"\n  output: o\n  priority: INFO\n",
			ErrCompileCondition, "test.yaml:3:36", "rule x", "expected a '(' token"},
		{"parse error in macro", "- macro: m\n  condition: >-\n    proc.name = a or\n    ((b\n", ErrCompileCondition, "test.yaml:4:8", "macro m", "expected a ')' token"},
		{"undefined macro", "- rule: x\n  desc: d\n  condition: evt.type = open and not mymacro\n  output: o\n  priority: INFO\n",
			ErrCompileCondition, "test.yaml:3:38", "rule x", "Undefined macro 'mymacro' used in filter."},
		{"macro used before definition", "- macro: a\n  condition: b\n- macro: b\n  condition: proc.name = x\n", ErrCompileCondition, "test.yaml:2:14", "macro a", "Undefined macro 'b'"},
		{"append without list", "- list: l\n  items: [a]\n  append: true\n", ErrValidate, "test.yaml:1:3", "list l", "no list by that name already exists"},
		{"append without rule", "- rule: r\n  condition: and x\n  append: true\n", ErrValidate, "test.yaml:1:3", "rule r", "no rule by that name already exists"},
		{"enabled without rule", "- rule: r\n  enabled: false\n", ErrValidate, "test.yaml:1:3", "rule r", "no rule by that name already exists"},
		{"override and append", okRule + "- rule: r\n  condition: and x\n  append: true\n  override:\n    condition: append\n", ErrYAMLValidate, "test.yaml:7:3", "rule r", "cannot be used together"},
		{"override bad op", okRule + "- rule: r\n  condition: and x\n  override:\n    condition: merge\n", ErrYAMLValidate, "test.yaml:10:16", "rule r", "Invalid override operation for key 'condition': 'merge'"},
		{"override priority append", okRule + "- rule: r\n  priority: INFO\n  override:\n    priority: append\n", ErrYAMLValidate, "test.yaml:10:5", "rule r", "cannot be appended to"},
		{"override key missing", okRule + "- rule: r\n  override:\n    condition: append\n", ErrYAMLValidate, "test.yaml:7:3", "rule r", "An append override for 'condition' was specified but 'condition' is not defined"},
		{"key without override", okRule + "- rule: r\n  condition: and x\n  output: more\n  override:\n    condition: append\n", ErrYAMLValidate, "test.yaml:9:3", "rule r", "Unexpected key 'output'"},
		{"exception bad comps", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=, like]\n",
			ErrValidate, "test.yaml:7:7", "rule x", "'like' is not a supported comparison operator"},
		{"exception comps length", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=]\n",
			ErrValidate, "test.yaml:7:7", "rule x", "Fields and comps lists must have equal length"},
		{"exception single comps", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: proc.name\n      comps: =\n",
			ErrValidate, "test.yaml:7:7", "rule x", "comps must be one of (in, pmatch, intersects)"},
		{"exception values length", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      values:\n        - [a]\n",
			ErrValidate, "test.yaml:7:7", "rule x", "Fields and values lists must have equal length"},
		{"exception duplicate name", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: proc.name\n    - name: e\n      fields: fd.name\n",
			ErrYAMLValidate, "test.yaml:9:7", "rule x", "Exceptions names in the same object must be unique"},
		{"exception value type", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [fd.num]\n      values:\n        - [abc]\n",
			ErrCompileCondition, "test.yaml:10:12", "rule x", "'abc' is not a number"},
		{"output ends with %", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: 100%\n  priority: INFO\n", ErrCompileOutput, "test.yaml:4:14", "rule x", "formatting cannot end with a %"},
		{"output bad token", "- rule: x\n  desc: d\n  condition: evt.type = open\n  output: a % b\n  priority: INFO\n", ErrCompileOutput, "test.yaml:4:13", "rule x", "invalid formatting token"},
		{"different source", "- rule: x\n  desc: d\n  condition: a\n  output: o\n  priority: INFO\n  source: k8s_audit\n" +
			"- rule: x\n  desc: d\n  condition: b\n  output: o\n  priority: INFO\n", ErrValidate, "test.yaml:7:3", "rule x", "re-defined with a different source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, res, err := loadOne(t, tt.text, Options{})
			if err == nil || rs != nil {
				t.Fatalf("loaded, want error %q", tt.msg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			errs := res.Errors()
			if len(errs) == 0 {
				t.Fatal("no error in the result")
			}
			m := errs[0]
			item := ""
			if typ, name := m.Item(); name != "" {
				item = typ + " " + name
			}
			if m.Code != tt.code || m.Pos().String() != tt.pos || item != tt.item || !strings.Contains(m.Message, tt.msg) {
				t.Errorf("\n got %s %s %q %q\nwant %s %s %q %q\n%s", m.Code, m.Pos(), item, m.Message, tt.code, tt.pos, tt.item, tt.msg, m.Context.Snippet)
			}
			if res.Files[0].Successful {
				t.Error("file marked successful")
			}
		})
	}
}

// TestLoadWarnings checks the warnings of files that still load.
func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name string
		text string
		code string
		pos  string
		msg  string
	}{
		{"unknown key", okRule + "  colour: red\n", WarnUnknownKey, "test.yaml:7:3", "Unknown key 'colour'"},
		{"unknown item", "- frobnicate: yes\n", WarnUnknownItem, "test.yaml:1:3", "Unknown top level item"},
		{"deprecated append", okRule + "- rule: r\n  condition: and proc.name = x\n  append: true\n", WarnDeprecatedItem, "test.yaml:7:3", "'append' key is deprecated"},
		{"deprecated enabled", okRule + "- rule: r\n  enabled: false\n", WarnDeprecatedItem, "test.yaml:7:3", "standalone 'enabled'"},
		{"no evttype", "- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: INFO\n", WarnNoEvtType, "test.yaml:1:3", "too many evt.type values"},
		{"unused macro", okRule + "- macro: m\n  condition: proc.name = x\n", WarnUnusedMacro, "test.yaml:7:3", "Macro not referred to"},
		{"unused list", okRule + "- list: l\n  items: [a]\n", WarnUnusedList, "test.yaml:7:3", "List not referred to"},
		{"unknown source", "- rule: r\n  desc: d\n  condition: ka.verb = get\n  output: o\n  priority: INFO\n  source: k8s_audit\n", WarnUnknownSource, "test.yaml:1:3", "Unknown source k8s_audit"},
		{"unknown output field", "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: a %evt.arg.whence b\n  priority: INFO\n", WarnUnknownFilter, "test.yaml:4:11", "evt.arg.whence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res, err := loadOne(t, tt.text, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range res.Warnings() {
				if m.Code == tt.code {
					if m.Pos().String() != tt.pos || !strings.Contains(m.Message, tt.msg) {
						t.Errorf("got %s %q, want %s %q", m.Pos(), m.Message, tt.pos, tt.msg)
					}
					return
				}
			}
			t.Errorf("no %s warning in %v", tt.code, res.Warnings())
		})
	}
}

// TestSkipped checks rules that need what vigil does not have: skipped
// with a reason by default, errors in strict mode unless the rule allows
// unknown filters.
func TestSkipped(t *testing.T) {
	tests := []struct {
		cond   string
		reason string
	}{
		{"evt.type = process_vm_writev", "only event types vigil does not trace: process_vm_writev"},
		{"evt.type in (process_vm_writev, kcmp) and proc.name = x", "only event types vigil does not trace: process_vm_writev, kcmp"},
		{"evt.type = open and evt.type = execve", "condition matches no event type"},
		{"evt.type = open and evt.arg.ptrace_data contains X", "unknown field evt.arg.ptrace_data"},
		{"evt.arg.whence = a or evt.arg.data = x", "unknown fields evt.arg.whence, evt.arg.data"},
		// The unknown field sits only in the branch of a type vigil does not
		// trace: it is pruned and the rule loads (no skip).
		{"(evt.type = connect or (evt.type = sendmmsg and evt.arg.data = x)) and fd.sport = 22", ""},
		{"not evt.type = process_vm_writev", ""},
	}
	for _, tt := range tests {
		rs, res, err := loadOne(t, ruleFile(tt.cond), Options{})
		if err != nil {
			t.Errorf("%s: %v", tt.cond, err)
			continue
		}
		skipped := res.Skipped()
		if tt.reason == "" {
			if len(skipped) != 0 || len(rs.Rules()) != 1 {
				t.Errorf("%s: skipped %v, want loaded", tt.cond, skipped)
			}
			continue
		}
		if len(skipped) != 1 || skipped[0].Reason != tt.reason || skipped[0].Name != "t" {
			t.Errorf("%s: skipped %+v, want reason %q", tt.cond, skipped, tt.reason)
		}
		if len(rs.Rules()) != 0 || len(res.Files[0].RulesLoaded) != 0 {
			t.Errorf("%s: skipped rule is loaded", tt.cond)
		}
		// Strict: an error, unless skip-if-unknown-filter.
		if _, res, err := loadOne(t, ruleFile(tt.cond), Options{Strict: true}); err == nil || !strings.Contains(res.Errors()[0].Message, tt.reason) {
			t.Errorf("%s: strict load: %v", tt.cond, err)
		}
		text := strings.Replace(ruleFile(tt.cond), "warn_evttypes: false", "skip-if-unknown-filter: true", 1)
		if _, res, err := loadOne(t, text, Options{Strict: true}); err != nil || len(res.Skipped()) != 1 {
			t.Errorf("%s: strict load with skip-if-unknown-filter: %v", tt.cond, err)
		}
	}
	// The pruned rule matches connects on port 22.
	rs := mustLoad(t, Options{}, ruleFile("(evt.type = connect or (evt.type = sendmmsg and evt.arg.data = x)) and fd.sport = 22"))
	if got := matches(rs, connectEvent(procTree(), nil, "10.0.0.1:5000", "10.0.0.2:22", 0)); len(got) != 1 {
		t.Errorf("pruned rule matched %v", got)
	}
	if got := rs.Rules()[0].Types(); len(got) != 1 || got[0] != event.TypeConnect {
		t.Errorf("pruned rule types %v, want [connect]", got)
	}
}

// TestOverrides runs append, override and exception semantics through
// several files: each case is a list of files and which events match.
func TestOverrides(t *testing.T) {
	bash := procTree()
	cat := proc("cat", "/usr/bin/cat", "", bash)
	vi := proc("vi", "/usr/bin/vi", "", bash)
	openBy := func(p string, path string) *event.Event {
		return openEvent(proc(p, "/usr/bin/"+p, "", bash), nil, path, unix.O_RDONLY, 3)
	}
	base := `
- list: readers
  items: [cat, less]
- macro: sensitive
  condition: fd.name in (/etc/shadow, /etc/sudoers)
- rule: R
  desc: read
  condition: evt.type = openat and sensitive and proc.name in (readers)
  output: "%proc.name read %fd.name"
  priority: WARNING
  tags: [a]
`
	tests := []struct {
		name  string
		files []string
		match map[*event.Event]bool
		check func(t *testing.T, r *Rule)
	}{
		{"base", []string{base}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): true,
			openEvent(vi, nil, "/etc/shadow", 0, 3):  false,
			openEvent(cat, nil, "/etc/passwd", 0, 3): false,
		}, nil},
		{"list append", []string{base, "- list: readers\n  items: [vi]\n  append: true\n"}, map[*event.Event]bool{
			openEvent(vi, nil, "/etc/shadow", 0, 3): true,
		}, nil},
		{"list override append", []string{base, "- list: readers\n  items: [vi]\n  override:\n    items: append\n"}, map[*event.Event]bool{
			openEvent(vi, nil, "/etc/shadow", 0, 3):  true,
			openEvent(cat, nil, "/etc/shadow", 0, 3): true,
		}, nil},
		{"list redefine", []string{base, "- list: readers\n  items: [vi]\n"}, map[*event.Event]bool{
			openEvent(vi, nil, "/etc/shadow", 0, 3):  true,
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
		}, nil},
		{"list in list", []string{"- list: more\n  items: [vi]\n" + base + "- list: readers\n  items: [more, cat]\n"}, map[*event.Event]bool{
			openEvent(vi, nil, "/etc/shadow", 0, 3): true,
		}, nil},
		{"macro append", []string{base, "- macro: sensitive\n  condition: or fd.name = /etc/gshadow\n  append: true\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/gshadow", 0, 3): true,
			openEvent(cat, nil, "/etc/shadow", 0, 3):  true,
		}, nil},
		{"macro override replace", []string{base, "- macro: sensitive\n  condition: fd.name = /etc/gshadow\n  override:\n    condition: replace\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/gshadow", 0, 3): true,
			openEvent(cat, nil, "/etc/shadow", 0, 3):  false,
		}, nil},
		{"rule append condition", []string{base, "- rule: R\n  condition: and not user.uid = 0\n  append: true\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): false, // cat runs as root
		}, func(t *testing.T, r *Rule) {
			if !strings.HasSuffix(r.Condition, "and not user.uid = 0") {
				t.Errorf("condition %q", r.Condition)
			}
		}},
		{"rule override append and replace", []string{base, `
- rule: R
  condition: and fd.name = /etc/sudoers
  output: "(appended)"
  tags: [b]
  priority: ERROR
  enabled: true
  override:
    condition: append
    output: append
    tags: append
    priority: replace
    enabled: replace
`}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/sudoers", 0, 3): true,
			openEvent(cat, nil, "/etc/shadow", 0, 3):  false,
		}, func(t *testing.T, r *Rule) {
			if r.Output != "%proc.name read %fd.name (appended)" || r.Priority != PriorityError ||
				strings.Join(r.Tags, ",") != "a,b" {
				t.Errorf("got output %q priority %v tags %v", r.Output, r.Priority, r.Tags)
			}
		}},
		{"rule override replace condition and desc", []string{base, "- rule: R\n  condition: evt.type = openat and proc.name = vi\n  desc: new\n  override:\n    condition: replace\n    desc: replace\n"}, map[*event.Event]bool{
			openEvent(vi, nil, "/etc/passwd", 0, 3):  true,
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
		}, func(t *testing.T, r *Rule) {
			if r.Desc != "new" {
				t.Errorf("desc %q", r.Desc)
			}
		}},
		{"rule redefine", []string{base, "- rule: R\n  desc: d\n  condition: evt.type = openat and proc.name = vi\n  output: o\n  priority: DEBUG\n"}, map[*event.Event]bool{
			openEvent(vi, nil, "/x", 0, 3):           true,
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
		}, func(t *testing.T, r *Rule) {
			if r.Priority != PriorityDebug || r.Pos.Name != "f2.yaml" {
				t.Errorf("priority %v pos %v", r.Priority, r.Pos)
			}
		}},
		{"rule disabled", []string{base, "- rule: R\n  enabled: false\n  override:\n    enabled: replace\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
		}, func(t *testing.T, r *Rule) {
			if r.Enabled {
				t.Error("rule enabled")
			}
		}},
		{"rule disabled deprecated", []string{base, "- rule: R\n  enabled: false\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
		}, nil},
		{"exception single field", []string{base + "  exceptions:\n    - name: e\n      fields: proc.pname\n      values: [bash, zsh]\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): false, // parent is bash
		}, nil},
		{"exception field list", []string{base + `  exceptions:
    - name: e
      fields: [proc.name, fd.name]
      values:
        - [cat, /etc/sudoers]
        - [less, /etc/shadow]
`}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3):  true,
			openEvent(cat, nil, "/etc/sudoers", 0, 3): false,
			openBy("less", "/etc/shadow"):             false,
			openBy("less", "/etc/sudoers"):            true,
		}, nil},
		{"exception comps and value lists", []string{base + `  exceptions:
    - name: e
      fields: [proc.name, fd.name]
      comps: [in, startswith]
      values:
        - [[cat, vi], /etc/sh]
`}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3):  false,
			openEvent(cat, nil, "/etc/sudoers", 0, 3): true,
		}, nil},
		{"exception value naming a list", []string{"- list: quiet\n  items: [cat]\n" + base + `  exceptions:
    - name: e
      fields: [proc.name]
      comps: [in]
      values:
        - [quiet]
`}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
		}, nil},
		{"exception appended values", []string{base + "  exceptions:\n    - name: e\n      fields: [proc.name]\n      values:\n        - [less]\n",
			"- rule: R\n  exceptions:\n    - name: e\n      values:\n        - [cat]\n  override:\n    exceptions: append\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
			openBy("less", "/etc/shadow"):            false,
		}, nil},
		{"exception added by append", []string{base,
			"- rule: R\n  exceptions:\n    - name: new\n      fields: [fd.name]\n      values:\n        - [/etc/shadow]\n  append: true\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3):  false,
			openEvent(cat, nil, "/etc/sudoers", 0, 3): true,
		}, nil},
		{"exceptions replaced", []string{base + "  exceptions:\n    - name: e\n      fields: [proc.name]\n      values:\n        - [cat]\n",
			"- rule: R\n  exceptions:\n    - name: e2\n      fields: [fd.name]\n      values:\n        - [/etc/sudoers]\n  override:\n    exceptions: replace\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3):  true,
			openEvent(cat, nil, "/etc/sudoers", 0, 3): false,
		}, nil},
		{"exception pmatch", []string{base + "  exceptions:\n    - name: e\n      fields: fd.name\n      comps: pmatch\n      values: [/etc]\n"}, map[*event.Event]bool{
			openEvent(cat, nil, "/etc/shadow", 0, 3): false,
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := mustLoad(t, Options{}, tt.files...)
			for e, want := range tt.match {
				got := len(matches(rs, e)) > 0
				if got != want {
					t.Errorf("%s opening %s: got %v, want %v", e.Proc.Name, e.Open.Name, got, want)
				}
			}
			if tt.check != nil {
				tt.check(t, rs.Rule("R"))
			}
		})
	}
}

// TestLoadFalcoStable loads the stable Falco rules unmodified: every rule
// of exec, open or connect events vigil can read compiles, the others are
// skipped with their reasons.
func TestLoadFalcoStable(t *testing.T) {
	rs, res, err := Load([]Source{falcoRules(t)}, Options{})
	if err != nil {
		for _, m := range res.Errors() {
			t.Log(m.String())
		}
		t.Fatal(err)
	}
	loaded := map[string]bool{}
	for _, r := range rs.Rules() {
		loaded[r.Name] = true
		for _, typ := range r.Types() {
			switch typ.Kind() {
			case event.KindExec, event.KindOpen, event.KindConnect, event.KindFS, event.KindSocket, event.KindDup, event.KindPriv, event.KindSendRecv:
			default:
				t.Errorf("rule %q applies to %v", r.Name, typ)
			}
		}
	}
	for _, name := range []string{
		"Directory traversal monitored file read", "Read sensitive file trusted after startup",
		"Read sensitive file untrusted", "Run shell untrusted", "System user interactive",
		"Terminal shell in container", "Netcat Remote Code Execution in Container",
		"Search Private Keys or Passwords", "Clear Log Activities", "Remove Bulk Data from Disk",
		"Debugfs Launched in Privileged Container", "Find AWS Credentials", "Execution from /dev/shm",
		"Fileless execution via memfd_create", "Disallowed SSH Connection Non Standard Port",
		"Create Symlink Over Sensitive Files", "Create Hardlink Over Sensitive Files",
		"Packet socket created in container", "Redirect STDOUT/STDIN to Network Connection in Container",
	} {
		if !loaded[name] {
			t.Errorf("rule %q did not load", name)
		}
	}
	// Its outbound macro reads fd.ip and fd.net, which match either end.
	ssh := proc("ssh", "/usr/bin/ssh", "-p 443 attacker.example", procTree())
	for _, tt := range []struct {
		remote string
		want   bool
	}{
		{"93.184.216.34:443", true},
		{"93.184.216.34:22", false},
		{"10.0.0.5:443", false},
		{"127.0.0.1:443", false},
	} {
		got := slices.Contains(matches(rs, connectEvent(ssh, nil, "10.1.2.3:40000", tt.remote, 0)), "Disallowed SSH Connection Non Standard Port")
		if got != tt.want {
			t.Errorf("ssh connecting to %s: matched %v, want %v", tt.remote, got, tt.want)
		}
	}
	// Rules for events vigil does not trace are skipped for that reason;
	// the stable file has none left.
	wantTypes := map[string]string{}
	skipped := map[string]string{}
	for _, s := range res.Skipped() {
		skipped[s.Name] = s.Reason
		if want, ok := wantTypes[s.Name]; ok {
			if s.Reason != "only event types vigil does not trace: "+want {
				t.Errorf("%q skipped for %q, want untraced types %s", s.Name, s.Reason, want)
			}
			continue
		}
		// Any other skip must name fields the field table really lacks.
		names, ok := strings.CutPrefix(s.Reason, "unknown field ")
		if !ok {
			names, ok = strings.CutPrefix(s.Reason, "unknown fields ")
		}
		if !ok {
			t.Errorf("%q skipped for %q", s.Name, s.Reason)
			continue
		}
		for _, f := range strings.Split(names, ", ") {
			if _, known := event.LookupField(f); known {
				t.Errorf("%q skipped for field %s, which vigil provides", s.Name, f)
			}
		}
	}
	for name := range wantTypes {
		if _, ok := skipped[name]; !ok {
			t.Errorf("rule %q was not skipped", name)
		}
	}
	if len(loaded)+len(skipped) != 25 {
		t.Errorf("%d loaded + %d skipped, want the file's 25 rules", len(loaded), len(skipped))
	}
	if got := kindNames(rs.Kinds()); got != "exec,open,connect,fs,socket,dup,priv,sendrecv" {
		t.Errorf("kinds %s", got)
	}
	// The result marshals in Falco's -V shape.
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Results []struct {
			Name         string `json:"name"`
			Successful   bool   `json:"successful"`
			RulesSkipped []struct {
				Name, Reason string
			} `json:"rules_skipped"`
			Warnings []struct {
				Code    string `json:"code"`
				Context struct {
					Locations []struct {
						ItemType string `json:"item_type"`
						Position struct {
							Line int `json:"line"`
						} `json:"position"`
					} `json:"locations"`
				} `json:"context"`
			} `json:"warnings"`
		} `json:"falco_load_results"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 1 || !back.Results[0].Successful || back.Results[0].Name != "falco_rules.yaml" ||
		len(back.Results[0].RulesSkipped) != len(skipped) || len(back.Results[0].Warnings) == 0 ||
		back.Results[0].Warnings[0].Context.Locations[0].Position.Line == 0 {
		t.Errorf("JSON result: %s", b)
	}
}

func kindNames(ks []event.Kind) string {
	var names []string
	for _, k := range ks {
		names = append(names, k.String())
	}
	return strings.Join(names, ",")
}

// TestLoadFalcoAndDefault loads the Falco rules and vigil's defaults
// together: their names do not collide.
func TestLoadFalcoAndDefault(t *testing.T) {
	rs, res, err := Load([]Source{falcoRules(t), Default()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files[1].RulesSkipped) != 0 || len(res.Files[1].Warnings) != 0 {
		t.Errorf("default rules: skipped %v warnings %v", res.Files[1].RulesSkipped, res.Files[1].Warnings)
	}
	names := map[string]bool{}
	for _, r := range rs.Rules() {
		if names[r.Name] {
			t.Errorf("rule %q twice", r.Name)
		}
		names[r.Name] = true
	}
	if len(res.Files[0].RulesLoaded)+len(res.Files[1].RulesLoaded) != len(rs.Rules()) {
		t.Errorf("loaded %d+%d rules, ruleset has %d", len(res.Files[0].RulesLoaded), len(res.Files[1].RulesLoaded), len(rs.Rules()))
	}
}

// TestOptions checks minimum priority, enable/disable and first-match.
func TestOptions(t *testing.T) {
	text := `
- rule: A
  desc: d
  condition: evt.type = openat and proc.name = cat
  output: a
  priority: NOTICE
- rule: B
  desc: d
  condition: evt.type = openat
  output: b
  priority: CRITICAL
- rule: C
  desc: d
  condition: evt.type = connect
  output: c
  priority: DEBUG
  enabled: false
`
	e := openEvent(proc("cat", "/usr/bin/cat", "", nil), nil, "/x", 0, 3)
	first := func(rs *Ruleset) []string {
		var got []string
		rs.Match(e, func(r *Rule) { got = append(got, r.Name) })
		return got
	}
	rs := mustLoad(t, Options{}, text)
	if got := first(rs); strings.Join(got, ",") != "A" {
		t.Errorf("first match: %v", got)
	}
	if got := kindNames(rs.Kinds()); got != "open" {
		t.Errorf("kinds %s, want open (C is disabled)", got)
	}
	rs = mustLoad(t, Options{MatchAll: true}, text)
	if got := first(rs); strings.Join(got, ",") != "A,B" {
		t.Errorf("all matches: %v", got)
	}
	rs = mustLoad(t, Options{MatchAll: true, MinPriority: PriorityWarning}, text)
	if got := first(rs); strings.Join(got, ",") != "B" {
		t.Errorf("min priority warning: %v", got)
	}
	if len(rs.Rules()) != 3 || len(rs.Active()) != 1 {
		t.Errorf("rules %d active %d", len(rs.Rules()), len(rs.Active()))
	}
	rs = mustLoad(t, Options{Enable: []string{"C"}, Disable: []string{"A"}}, text)
	var active []string
	for _, r := range rs.Active() {
		active = append(active, r.Name)
	}
	sort.Strings(active)
	if strings.Join(active, ",") != "B,C" || kindNames(rs.Kinds()) != "open,connect" {
		t.Errorf("active %v kinds %s", active, kindNames(rs.Kinds()))
	}
}

func TestParsePriority(t *testing.T) {
	for in, want := range map[string]Priority{
		"EMERGENCY": PriorityEmergency, "alert": PriorityAlert, "Critical": PriorityCritical,
		"ERROR": PriorityError, "warning": PriorityWarning, "NOTICE": PriorityNotice,
		"INFO": PriorityInformational, "Informational": PriorityInformational, "debug": PriorityDebug,
	} {
		got, err := ParsePriority(in)
		if err != nil || got != want {
			t.Errorf("ParsePriority(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePriority("loud"); err == nil {
		t.Error("ParsePriority(loud) succeeded")
	}
	if PriorityInformational.String() != "Informational" || PriorityEmergency.String() != "Emergency" {
		t.Error("priority names")
	}
	if !PriorityCritical.AtLeast(PriorityWarning) || PriorityDebug.AtLeast(PriorityWarning) || !PriorityDebug.AtLeast(0) {
		t.Error("AtLeast")
	}
}

// TestLoadLimits checks that hostile files (lists and macros doubling at
// each level, lists naming each other) fail or load quickly instead of
// exploding.
func TestLoadLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("- list: l0\n  items: [a, b]\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "- list: l%d\n  items: [l%d, l%d]\n", i, i-1, i-1)
	}
	b.WriteString(ruleFile("evt.type = open and proc.name in (l39)"))
	if _, res, err := loadOne(t, b.String(), Options{}); err == nil || !strings.Contains(res.Errors()[0].Message, "items once expanded") {
		t.Errorf("doubling lists: %v", err)
	}

	b.Reset()
	b.WriteString("- macro: m0\n  condition: proc.name = a\n")
	for i := 1; i < 60; i++ {
		fmt.Fprintf(&b, "- macro: m%d\n  condition: m%d or m%d\n", i, i-1, i-1)
	}
	b.WriteString(ruleFile("evt.type = open and m59"))
	if _, res, err := loadOne(t, b.String(), Options{}); err == nil || !strings.Contains(res.Errors()[0].Message, "nodes once macros and lists are expanded") {
		t.Errorf("doubling macros: %v", err)
	}

	text := "- list: a\n  items: [b, x]\n- list: b\n  items: [a, y]\n- list: a\n  items: [b]\n  append: true\n" +
		ruleFile("evt.type = openat and proc.name in (a)")
	rs := mustLoad(t, Options{}, text)
	if got := matches(rs, openEvent(proc("y", "/y", "", nil), nil, "/f", 0, 3)); len(got) != 1 {
		t.Errorf("lists naming each other: matched %v", got)
	}
}

// TestConditionPositions checks that errors inside conditions point at the
// offending token in the file whatever the YAML scalar style, including
// conditions appended from another file.
func TestConditionPositions(t *testing.T) {
	head := "- rule: r\n  desc: d\n  output: o\n  priority: INFO\n"
	tests := []struct {
		name  string
		files []string
		pos   string
	}{
		{"plain", []string{head + "  condition: evt.type = open and fd.num = x\n"}, "f1.yaml:5:43"},
		{"plain multi-line", []string{head + "  condition: evt.type = open\n    and fd.num = x\n"}, "f1.yaml:6:18"},
		{"folded", []string{head + "  condition: >\n    evt.type = open\n    and proc.name = a\n\n    and fd.num = x\n"}, "f1.yaml:9:18"},
		{"literal", []string{head + "  condition: |\n    evt.type = open and (\n      proc.name = a\n      or fd.num = x)\n"}, "f1.yaml:8:19"},
		{"folded strip indented", []string{head + "  condition: >-\n      evt.type = open and\n      fd.num = x\n"}, "f1.yaml:7:16"},
		{"double quoted", []string{head + "  condition: \"evt.type = open and fd.num = x\"\n"}, "f1.yaml:5:44"},
		{"double quoted escapes", []string{head + "  condition: \"evt.type = open and proc.name = \\\"a\\\" and\n    fd.num = x\"\n"}, "f1.yaml:6:14"},
		{"double quoted escape on the line", []string{head + "  condition: \"proc.name = \\\"a\\tb\\\" and fd.num = x\"\n"}, "f1.yaml:5:49"},
		{"single quoted", []string{head + "  condition: 'evt.type = open and proc.name = ''a'' and fd.num = x'\n"}, "f1.yaml:5:66"},
		{"crlf", []string{strings.ReplaceAll(head+"  condition: >\n    evt.type = open\n    and fd.num = x\n", "\n", "\r\n")}, "f1.yaml:7:18"},
		{"appended in another file", []string{head + "  condition: evt.type = open\n",
			"- rule: r\n  condition: >\n    and proc.name = a\n    and fd.num = x\n  override:\n    condition: append\n"}, "f2.yaml:4:18"},
		{"macro in another file", []string{"- macro: m\n  condition: fd.num = x\n", head + "  condition: evt.type = open and m\n"}, "f1.yaml:2:23"},
		{"exception value", []string{head + "  condition: evt.type = open\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.num]\n      values:\n        - [a, x]\n"}, "f1.yaml:10:15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srcs []Source
			for i, text := range tt.files {
				srcs = append(srcs, Source{Name: fmt.Sprintf("f%d.yaml", i+1), Data: []byte(text)})
			}
			_, res, err := Load(srcs, Options{})
			if err == nil {
				t.Fatal("loaded")
			}
			m := res.Errors()[0]
			if got := m.Pos().String(); got != tt.pos {
				t.Errorf("error at %s, want %s: %s\n%s", got, tt.pos, m.Message, m.Context.Snippet)
			}
			if !strings.Contains(m.Message, "'x' is not a number") {
				t.Errorf("message %q", m.Message)
			}
			// The message belongs to the file the position is in.
			for _, f := range res.Files {
				if len(f.Errors) > 0 && f.Name != m.Pos().Name {
					t.Errorf("error filed under %s", f.Name)
				}
			}
		})
	}
}

// TestListItemsAndExceptionFields covers list items written in quotes (as
// Falco's files do: '"(systemd)"') and exceptions on fields vigil lacks.
func TestListItemsAndExceptionFields(t *testing.T) {
	rs := mustLoad(t, Options{}, `
- list: names
  items: ['"(sd-pam)"', "'two words'", plain]
- rule: R
  desc: d
  condition: evt.type = execve and proc.name in (names)
  output: o
  priority: INFO
`)
	for name, want := range map[string]bool{"(sd-pam)": true, "two words": true, "plain": true, `"(sd-pam)"`: false} {
		if got := len(matches(rs, execEvent(proc(name, "/x", "", nil), nil))) > 0; got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	_, res, err := loadOne(t, okRule+"  exceptions:\n    - name: e\n      fields: [evt.arg.whence]\n      values:\n        - [x]\n", Options{})
	if err != nil || len(res.Skipped()) != 1 || res.Skipped()[0].Reason != "unknown field evt.arg.whence" {
		t.Errorf("exception on an unknown field: %v %+v", err, res.Skipped())
	}
}

// TestAliasBomb checks that YAML aliases nested in aliases cannot make an
// exception's values explode.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("- anchors: &a0 [x, x]\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "- anchors: &a%d [*a%d, *a%d]\n", i, i-1, i-1)
	}
	b.WriteString(okRule + "  exceptions:\n    - name: e\n      fields: [proc.name]\n      values:\n        - [*a29]\n")
	_, res, err := loadOne(t, b.String(), Options{})
	if err == nil || !strings.Contains(res.Errors()[0].Message, "more than") {
		t.Errorf("alias bomb: %v", err)
	}
}

// TestLoadRefusesOversizedFile: a file over MaxFileBytes is an error at its
// first line, and is not parsed (a small list of many items costs about a
// hundred times its size to parse); other files still load.
func TestLoadRefusesOversizedFile(t *testing.T) {
	big := "- list: big\n  items: [" + strings.Repeat("a,", MaxFileBytes/2) + "a]\n"
	_, res, err := Load([]Source{{Name: "ok.yaml", Data: []byte(okRule)}, {Name: "big.yaml", Data: []byte(big)}}, Options{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	errs := res.Errors()
	if len(errs) != 1 || errs[0].Code != ErrFileRead || !strings.HasPrefix(errs[0].String(), "big.yaml:1:1: ") ||
		!strings.Contains(errs[0].Message, "larger than") {
		t.Errorf("errors = %v", errs)
	}
	if !res.Files[0].Successful || res.Files[1].Successful {
		t.Errorf("results = %+v", res.Files)
	}
}
