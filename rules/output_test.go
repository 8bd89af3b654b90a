package rules

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/output"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestOutputGolden renders output templates for synthetic events and
// compares text and typed fields with testdata/output.golden.
func TestOutputGolden(t *testing.T) {
	events := testEvents()
	templates := []struct {
		event, template string
	}{
		{"open", "Sensitive file opened for reading by non-trusted program | file=%fd.name gparent=%proc.aname[2] ggparent=%proc.aname[3] gggparent=%proc.aname[4] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty"},
		{"openctr", "Log truncated (file=%fd.name flags=%evt.arg.flags container=%container.id name=%container.name image=%container.image.repository:%container.image.tag app=%container.label[app] privileged=%container.privileged)"},
		{"openfail", "res=%evt.res rawres=%evt.rawres fd=%fd.num failed=%evt.failed at %evt.time."},
		{"connect", "connection=%fd.name sip=%fd.sip sport=%fd.sport proto=%fd.l4proto typechar=%fd.typechar"},
		{"connect6", "%fd.name %fd.sip %evt.res"},
		// Either-end fields show the server end, the ancestor fields the parent.
		{"metadata", "ip=%fd.ip net=%fd.net port=%fd.port proto=%fd.proto aname=%proc.aname"},
		{"exec", "[%8proc.name] [%2proc.name] %proc.args (unknown=%evt.arg.whence, missing=%container.image.repository)"},
		{"orphan", "parent=%proc.pname gp=%proc.aname[2]"},
		{"noproc", "%proc.name %fd.name"},
	}
	var out bytes.Buffer
	for _, tt := range templates {
		tmpl, unknown, err := parseTemplate(tt.template)
		if err != nil {
			t.Fatalf("%s: %v", tt.template, err)
		}
		e := events[tt.event]
		fmt.Fprintf(&out, "template: %s\nevent: %s\nunknown: %v\ntext: %s\nfields:\n", tt.template, tt.event, unknown, tmpl.appendText(nil, e))
		for _, v := range tmpl.appendFields(nil, e) {
			typ := "unknown"
			if v.Type != 0 {
				typ = v.Type.String()
			}
			val := output.AppendTyped(nil, v.Type, v.OK, v.Str, v.Num, v.IP)
			fmt.Fprintf(&out, "  %s (%s) = %s\n", v.Name, typ, val)
		}
		out.WriteString("\n")
	}
	golden := "testdata/output.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", golden, err)
	}
	if got := out.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("output differs from %s at line %d:\n got %s\nwant %s", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("output differs from %s in length: %d lines, want %d", golden, len(gl), len(wl))
	}
}

// TestRuleOutput checks the Rule methods on a loaded rule.
func TestRuleOutput(t *testing.T) {
	rs := mustLoad(t, Options{}, `
- rule: R
  desc: d
  condition: evt.type = openat
  output: >
    %proc.name opened %fd.name
    (user=%user.name uid=%user.uid
    name=%proc.name)
  priority: WARNING
`)
	r := rs.Rule("R")
	e := testEvents()["open"]
	if got := string(r.AppendOutput([]byte("prefix: "), e)); got != "prefix: cat opened /etc/shadow (user=alice uid=1000 name=cat)" {
		t.Errorf("AppendOutput = %q", got)
	}
	if got := strings.Join(r.OutputFieldNames(), ","); got != "proc.name,fd.name,user.name,user.uid" {
		t.Errorf("OutputFieldNames = %s", got)
	}
	fields := r.AppendOutputFields(nil, e)
	if len(fields) != 4 || fields[3].Type != event.FieldInt || fields[3].Num != 1000 || !fields[3].OK || fields[0].Str != "cat" {
		t.Errorf("AppendOutputFields = %+v", fields)
	}
	buf := make([]byte, 0, 256)
	dst := make([]FieldValue, 0, 8)
	if n := testing.AllocsPerRun(100, func() {
		buf = r.AppendOutput(buf[:0], e)
		dst = r.AppendOutputFields(dst[:0], e)
	}); n != 0 {
		t.Errorf("rendering allocates %v times", n)
	}
}

func TestTemplateErrors(t *testing.T) {
	for text, msg := range map[string]string{
		"100%":               "cannot end with a %",
		"a % b":              "invalid formatting token",
		"%5":                 "invalid formatting token",
		"%proc":              "invalid formatting token",
		"%proc.name[1]":      "does not take an argument",
		"%proc.aname[x]":     "non-negative index",
		"%99999999proc.name": "width too large",
	} {
		_, _, err := parseTemplate(text)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseTemplate(%q) = %v, want %q", text, err, msg)
		}
	}
}

// TestOutputEscapesControls: what a caller chose (file names, argv) reaches
// the output text with every terminal control visibly escaped, and the
// output fields with the exact value.
func TestOutputEscapesControls(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain /etc/shadow", "plain /etc/shadow"},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"a\x1b[2Jb\nc\rd\x7f", `a\x1b[2Jb\x0ac\x0dd\x7f`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"evil\u202egnp.exe", `evil\u202egnp.exe`},
		{"iso\u2066x\u2069", `iso\u2066x\u2069`},
		{"héllo 世界 \u2028", "héllo 世界 \u2028"},
		{"\xff\xc2", "\xff\xc2"}, // invalid UTF-8 is the JSON encoder's to replace
	} {
		b := append([]byte("prefix:"), tc.in...)
		if got := string(escapeControls(b, len("prefix:"))); got != "prefix:"+tc.want {
			t.Errorf("escapeControls(%q) = %q, want %q", tc.in, got, "prefix:"+tc.want)
		}
	}

	rs := mustLoad(t, Options{}, `
- rule: R
  desc: d
  condition: evt.type = openat
  output: opened %fd.name by %proc.name
  priority: WARNING
`)
	r := rs.Rule("R")
	name := "/tmp/\x1b]0;owned\x07\u202e"
	e := *testEvents()["open"]
	e.Open.Name = []byte(name)
	if got, want := string(r.AppendOutput(nil, &e)), `opened /tmp/\x1b]0;owned\x07\u202e by cat`; got != want {
		t.Errorf("AppendOutput = %q, want %q", got, want)
	}
	if f := r.AppendOutputFields(nil, &e); f[0].Str != name {
		t.Errorf("output field fd.name = %q, want the exact %q", f[0].Str, name)
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = r.AppendOutput(buf[:0], &e) }); n != 0 {
		t.Errorf("escaping allocates %v times with room in the buffer", n)
	}
}
