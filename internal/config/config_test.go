package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("unknown level %q", b)
	}
	return nil
}

type server struct {
	Addr    string            `yaml:"addr"`
	Timeout time.Duration     `yaml:"timeout"`
	Level   level             `yaml:"level"`
	Headers map[string]string `yaml:"headers"`
	hidden  int
}

// shaped decodes itself: "kind" decides which keys the rest may use.
type shaped struct {
	Kind   string
	Common struct {
		Name string `yaml:"name"`
	}
	Circle struct {
		Radius int `yaml:"radius"`
	}
	Square struct {
		Side int `yaml:"side"`
	}
}

func (s *shaped) UnmarshalConfig(n Node) error {
	k, ok := n.Key("kind")
	if !ok {
		return n.Errorf("needs a kind")
	}
	k.Decode(&s.Kind)
	switch s.Kind {
	case "circle":
		n.DecodeFields([]string{"kind"}, &s.Common, &s.Circle)
	case "square":
		n.DecodeFields([]string{"kind"}, &s.Common, &s.Square)
	default:
		return k.Errorf("unknown kind %q", s.Kind)
	}
	return nil
}

type settings struct {
	count   int
	on      bool
	name    string
	every   time.Duration
	list    []string
	servers []server
	shapes  []shaped
	port    uint16
}

func (s *settings) keys() []Key {
	return []Key{
		{Name: "count", Dst: &s.count, Check: func() error {
			if s.count < 0 {
				return errors.New("must not be negative")
			}
			return nil
		}},
		{Name: "on", Dst: &s.on},
		{Name: "name", Dst: &s.name},
		{Name: "every", Dst: &s.every},
		{Name: "list", Dst: &s.list},
		{Name: "servers", Dst: &s.servers},
		{Name: "shapes", Dst: &s.shapes},
		{Name: "port", Dst: &s.port},
	}
}

func TestDecode(t *testing.T) {
	var s settings
	s.count = 7
	err := Decode("c.yaml", []byte(`
on: true
name: 123
every: 1m30s
list: [a, b]
servers:
  - addr: "127.0.0.1:80"
    timeout: 2s
    level: high
    headers: {X-A: "1"}
shapes:
  - kind: circle
    name: c
    radius: 3
  - kind: square
    side: 2
port: 8080
`), s.keys())
	if err != nil {
		t.Fatal(err)
	}
	if s.count != 7 || !s.on || s.name != "123" || s.every != 90*time.Second || strings.Join(s.list, ",") != "a,b" || s.port != 8080 {
		t.Errorf("decoded %+v", s)
	}
	if len(s.servers) != 1 || s.servers[0].Timeout != 2*time.Second || s.servers[0].Level != 2 || s.servers[0].Headers["X-A"] != "1" {
		t.Errorf("servers %+v", s.servers)
	}
	if len(s.shapes) != 2 || s.shapes[0].Circle.Radius != 3 || s.shapes[0].Common.Name != "c" || s.shapes[1].Square.Side != 2 {
		t.Errorf("shapes %+v", s.shapes)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown key", "bogus: 1\n", "c.yaml:1:1: bogus: unknown key (known: count, every, list, name, on, port, servers, shapes)"},
		{"wrong type", "count: many\n", `c.yaml:1:8: count: want an integer, got "many"`},
		{"check", "count: -1\n", "c.yaml:1:8: count: must not be negative"},
		{"bool", "on: yes please\n", `c.yaml:1:5: on: want true or false, got "yes please"`},
		{"duration", "every: 5\n", `c.yaml:1:8: every: want a duration like "5s" or "1m30s", got "5"`},
		{"null", "name:\n", "c.yaml:1:6: name: want a string, got no value"},
		{"list", "list: a\n", `c.yaml:1:7: list: want a list, got "a"`},
		{"range", "port: 70000\n", "c.yaml:1:7: port: integer 70000 out of range (want 0 or more)"},
		{"nested unknown", "servers:\n  - addr: x\n    tls: true\n", "c.yaml:3:5: servers[0].tls: unknown key (known: addr, headers, level, timeout)"},
		{"text", "servers:\n  - level: mid\n", `c.yaml:2:12: servers[0].level: unknown level "mid"`},
		{"unmarshaler", "shapes:\n  - kind: square\n    radius: 1\n", "c.yaml:3:5: shapes[0].radius: unknown key (known: kind, name, side)"},
		{"unmarshaler kind", "shapes:\n  - kind: blob\n", `c.yaml:2:11: shapes[0].kind: unknown kind "blob"`},
		{"syntax", "on: true\n  bad: [\n", "c.yaml:2:1: invalid YAML: "},
		{"not a mapping", "- a\n", "c.yaml:1:1: want a mapping of keys to values, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s settings
			err := Decode("c.yaml", []byte(tt.in), s.keys())
			if err == nil {
				t.Fatalf("no error for %q", tt.in)
			}
			es, ok := AsErrors(err)
			if !ok || len(es) == 0 {
				t.Fatalf("error %v is not Errors", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// Every problem is reported, not only the first.
func TestDecodeReportsAll(t *testing.T) {
	var s settings
	err := Decode("c.yaml", []byte("count: x\non: 1\nbogus: 2\n"), s.keys())
	es, _ := AsErrors(err)
	if len(es) != 3 || es[0].Line != 1 || es[1].Line != 2 || es[2].Line != 3 {
		t.Errorf("errors: %v", err)
	}
}

func TestDecodeEmpty(t *testing.T) {
	var s settings
	if err := Decode("c.yaml", []byte("# nothing\n"), s.keys()); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeTwice(t *testing.T) {
	var s settings
	err := Decode("c.yaml", []byte("on: true\non: false\n"), s.keys())
	if err == nil || !strings.HasPrefix(err.Error(), "c.yaml:2:") {
		t.Errorf("a key given twice: %v", err)
	}
}

// FuzzDecode feeds arbitrary files to the decoder: it never panics, and
// every problem it finds names the file and a line.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"count: 1\n", "servers:\n  - addr: x\n    timeout: 2s\n", "shapes:\n  - kind: circle\n    radius: 1\n",
		"list: [a, b]\nevery: 1m\n", "- a\n", "on: [\n", "a: &x 1\nb: *x\n", "servers: {}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s settings
		err := Decode("f.yaml", data, s.keys())
		if err == nil {
			return
		}
		es, ok := AsErrors(err)
		if !ok || len(es) == 0 {
			t.Fatalf("error %v is not Errors", err)
		}
		for _, e := range es {
			if e.File != "f.yaml" || !strings.HasPrefix(e.Error(), "f.yaml") {
				t.Fatalf("error %q does not name the file", e)
			}
		}
	})
}
