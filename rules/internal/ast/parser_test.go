package ast

import (
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"

	"gopkg.in/yaml.v3"
)

func TestParseAccept(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical form
	}{
		{"evt.type = open", "evt.type = open"},
		{"evt.type=open", "evt.type = open"},
		{"evt.type==open", "evt.type == open"},
		{"proc.name != bash", "proc.name != bash"},
		{"fd.num>=0", "fd.num >= 0"},
		{"fd.num > -1", "fd.num > -1"},
		{"fd.num<0x10", "fd.num < 0x10"},
		{"evt.rawres <= 1.5e+3", "evt.rawres <= 1.5e+3"},
		{"proc.name exists", "proc.name exists"},
		{"a", "a"},
		{"a and b", "a and b"},
		{"a or b", "a or b"},
		{"a and b or c", "a and b or c"},
		{"a or b and c", "a or b and c"},
		{"(a or b) and c", "(a or b) and c"},
		{"a and (b and c)", "a and (b and c)"},
		{"not a", "not a"},
		{"not not a", "a"},
		{"not(a)", "not a"},
		{"not (a and b)", "not (a and b)"},
		{"a and not(b or c)", "a and not (b or c)"},
		{"a and(b)", "a and b"},
		{"a or(b)", "a or b"},
		{"(((a)))", "a"},
		{"proc.name in (bash, sh, zsh)", "proc.name in (bash, sh, zsh)"},
		{"proc.name in(bash,sh)", "proc.name in (bash, sh)"},
		{"proc.name in ()", "proc.name in ()"},
		{"proc.name in ( )", "proc.name in ()"},
		{"proc.name in shell_binaries", "proc.name in shell_binaries"},
		{"proc.name in (shell_binaries)", "proc.name in (shell_binaries)"},
		{"fd.name pmatch (/etc, /usr/bin)", "fd.name pmatch (/etc, /usr/bin)"},
		{"proc.args intersects (a, b)", "proc.args intersects (a, b)"},
		{"proc.name = 'quoted value'", `proc.name = "quoted value"`},
		{`proc.name = "dq \"x\" \\ \t"`, `proc.name = "dq \"x\" \\ \t"`},
		{`proc.name = 'it\'s'`, `proc.name = "it's"`},
		{`proc.name = "a\/b"`, `proc.name = "a/b"`},
		{"proc.name = runc:[0:PARENT]", "proc.name = runc:[0:PARENT]"},
		{"proc.name in (runc:[0:PARENT], runc:[1:CHILD])", "proc.name in (runc:[0:PARENT], runc:[1:CHILD])"},
		{"fd.name startswith /etc/", "fd.name startswith /etc/"},
		{"fd.name endswith .pem", "fd.name endswith .pem"},
		{"proc.cmdline contains \"-e \"", `proc.cmdline contains "-e "`},
		{"proc.cmdline icontains Base64", "proc.cmdline icontains Base64"},
		{"evt.buffer bcontains 2f62696e", "evt.buffer bcontains 2f62696e"},
		{"fd.name bstartswith 2f", "fd.name bstartswith 2f"},
		{"fd.name glob /etc/*.conf", "fd.name glob /etc/*.conf"},
		{"fd.name iglob '/ETC/*'", `fd.name iglob "/ETC/*"`},
		{"proc.name regex '^ba?sh$'", `proc.name regex "^ba?sh$"`},
		{"proc.aname[2] = bash", "proc.aname[2] = bash"},
		{"container.label[app] = web", "container.label[app] = web"},
		{"container.label['io.k8s/name'] = web", "container.label[io.k8s/name] = web"},
		{`container.label["a b"] exists`, `container.label["a b"] exists`},
		{"proc.name = val(proc.pname)", "proc.name = val(proc.pname)"},
		{"proc.name = val( proc.aname[1] )", "proc.name = val(proc.aname[1])"},
		{"tolower(proc.name) = bash", "tolower(proc.name) = bash"},
		{"toupper(tolower(proc.name)) = BASH", "toupper(tolower(proc.name)) = BASH"},
		{"len(proc.args) > 10", "len(proc.args) > 10"},
		{"proc.name in tolower(proc.pname)", "proc.name in tolower(proc.pname)"},
		{"fd.num > val(fd.rport)", "fd.num > val(fd.rport)"},
		{"  \n evt.type = open \n\t and \r\n proc.name = x  \n", "evt.type = open and proc.name = x"},
		{"evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0",
			`evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.typechar = "f" and fd.num >= 0`},
		{"proc.name = ''", `proc.name = ""`},
		{"proc.name=a or proc.name=b", "proc.name = a or proc.name = b"},
		{"k8s.ns.name = default", "k8s.ns.name = default"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Errorf("Parse(%q) of the canonical form: %v", e.String(), err)
			continue
		}
		if !Equal(e, again) {
			t.Errorf("round trip of %q: %q is not equal", tt.in, again.String())
		}
	}
}

func TestParseReject(t *testing.T) {
	tests := []struct {
		in        string
		line, col int
		msg       string
	}{
		{"", 1, 1, "condition is empty"},
		{"   ", 1, 1, "expected a '(' token, a field check, or an identifier"},
		{"evt.type", 1, 9, "expected a valid check operator"},
		{"evt.type open", 1, 10, "expected a valid check operator"},
		{"evt.type =", 1, 11, "expected a string value"},
		{"fd.num > abc", 1, 10, "expected a number value"},
		{"a and", 1, 6, "expected blank or '(' after 'and', found end of condition"},
		{"a and ", 1, 6, "expected a '(' token, a field check, or an identifier"},
		{"a andb", 1, 6, "expected blank or '(' after 'and'"},
		{"a orb", 1, 5, "expected blank or '(' after 'or'"},
		{"(a", 1, 3, "expected a ')' token"},
		{"a)", 1, 2, "unexpected token after 'a', expecting 'or', 'and'"},
		{"proc.name = bash)", 1, 17, "unexpected token after 'bash'"},
		{"proc.name in (a, b", 1, 19, "expected a ')' token"},
		{"proc.name in (a,)", 1, 17, "expected a string value"},
		{"proc.name in (a b)", 1, 17, "expected a ')' token"},
		{"proc.name in 5", 1, 14, "expected a list"},
		{"proc.aname[2 = x", 1, 13, "expected a ']' token"},
		{"proc.aname[] = x", 1, 12, "expected a valid field argument"},
		{"proc.name contains\"x\"", 1, 11, "expected a valid check operator"},
		{`proc.name = "abc`, 1, 13, "unterminated quoted string"},
		{`proc.name = "a\qb"`, 1, 15, `unsupported string escape sequence: \q`},
		{`proc.name = "a\'b"`, 1, 15, `invalid \' escape`},
		{"proc.name = val(bash)", 1, 17, "expected a field within 'val' transformer"},
		{"proc.name = val(proc.pname", 1, 27, "expected a ')' token closing the transformer"},
		{"tolower(5) = x", 1, 9, "expected a field or a nested transformer"},
		{"a = b", 1, 3, "unexpected token after 'a'"},
		{"evt.type = open and\n  proc.name = x and\n  fd.name in (a,", 3, 17, "expected a string value"},
		{"evt.type = open and\r\n(proc.name = x", 2, 15, "expected a ')' token"},
		{strings.Repeat("(", 300) + "a" + strings.Repeat(")", 300), 1, 201, "exceeded max depth limit of 1000"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", tt.in, tt.msg)
			continue
		}
		perr, ok := err.(*Error)
		if !ok {
			t.Errorf("Parse(%q) error %T, want *Error", tt.in, err)
			continue
		}
		if perr.Line != tt.line || perr.Col != tt.col || !strings.Contains(perr.Msg, tt.msg) {
			t.Errorf("Parse(%q) = %d:%d %q, want %d:%d containing %q", tt.in, perr.Line, perr.Col, perr.Msg, tt.line, tt.col, tt.msg)
		}
	}
}

func TestParseTree(t *testing.T) {
	e, err := ParseConfig("not (a and b) or proc.aname[2] in (x, 'y')", Config{Src: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := &Or{Children: []Expr{
		&Not{Child: &And{Children: []Expr{&Macro{Name: "a"}, &Macro{Name: "b"}}}},
		&Check{
			Left:  &Field{Name: "proc.aname", Arg: "2", HasArg: true},
			Op:    "in",
			Right: &List{Items: []*Value{{Text: "x"}, {Text: "y", Quoted: true}}},
		},
	}}
	if !Equal(e, want) {
		t.Fatalf("got %s, want %s", e, want)
	}
	check := e.(*Or).Children[1].(*Check)
	if got := check.Position(); got != (Pos{Src: 7, Off: 17}) {
		t.Errorf("check position = %+v, want {7 17}", got)
	}
	if got := check.Right.(*List).Items[1].Position(); got != (Pos{Src: 7, Off: 38}) {
		t.Errorf("value position = %+v, want {7 38}", got)
	}
	if Equal(e, &Macro{Name: "a"}) || Equal(&Macro{Name: "a"}, &Macro{Name: "b"}) {
		t.Error("Equal of different trees returned true")
	}
}

func TestParseOperand(t *testing.T) {
	for _, in := range []string{"proc.name", "proc.aname[3]", " tolower(proc.name) "} {
		if _, err := ParseOperand(in, Config{}); err != nil {
			t.Errorf("ParseOperand(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "proc", "proc.name x", "5"} {
		if _, err := ParseOperand(in, Config{}); err == nil {
			t.Errorf("ParseOperand(%q) succeeded", in)
		}
	}
}

func TestLineCol(t *testing.T) {
	text := "ab\ncd\r\nef\rg"
	for _, tt := range []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {4, 2, 2}, {7, 3, 1}, {10, 4, 1}, {99, 4, 2},
	} {
		if l, c := LineCol(text, tt.off); l != tt.line || c != tt.col {
			t.Errorf("LineCol(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
}

// TestParseFalcoConditions parses every condition of the stable Falco rules
// and checks that each canonical form parses back to an equal tree.
func TestParseFalcoConditions(t *testing.T) {
	data := testutil.FalcoRules(t, falcorules.Stable)
	var items []map[string]any
	if err := yaml.Unmarshal(data, &items); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range items {
		cond, ok := it["condition"].(string)
		if !ok {
			continue
		}
		n++
		e, err := Parse(cond)
		if err != nil {
			t.Errorf("%v: %v", it, err)
			continue
		}
		again, err := Parse(e.String())
		if err != nil || !Equal(e, again) {
			t.Errorf("round trip of %q failed: %v", cond, err)
		}
	}
	if n < 100 {
		t.Errorf("parsed %d conditions, want over 100", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"evt.type = open and proc.name in (bash, sh)",
		"not (a or b) and proc.aname[2] = 'x y'",
		"fd.name pmatch (/etc) or tolower(proc.name) = val(proc.pname)",
		`proc.cmdline contains "\"x\"" and fd.num >= 0x1f`,
		"proc.name = runc:[0:PARENT] and container.label[app] exists",
		"((a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		text := e.String()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", text, s, err)
		}
		if !Equal(e, again) {
			t.Fatalf("round trip of %q through %q changed the tree to %q", s, text, again.String())
		}
	})
}
