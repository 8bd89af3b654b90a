package rules

import (
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/rules/internal/ast"
)

// typeNames names the types of s; a set missing only a few types is "all
// but" those, so that the expectations hold as types are added.
func typeNames(s typeSet) string {
	if s == event.AllTypes() {
		return "all"
	}
	join := func(s typeSet) string {
		var names []string
		for _, t := range s.Types() {
			names = append(names, t.String())
		}
		return strings.Join(names, ",")
	}
	if missing := event.AllTypes().Minus(s); len(missing.Types()) <= 3 {
		return "all but " + join(missing)
	}
	return join(s)
}

// TestEventTypes checks the event types derived from conditions, as
// libsinsp derives them.
func TestEventTypes(t *testing.T) {
	tests := []struct {
		cond    string
		want    string
		unknown string
	}{
		{"evt.type = open", "open", ""},
		{"evt.type == connect", "connect", ""},
		{"evt.type in (open, openat, openat2)", "open,openat,openat2", ""},
		{"evt.type != open", "all but open", ""},
		{"not evt.type = open", "all but open", ""},
		{"not evt.type != open", "open", ""},
		{"proc.name = x", "all", ""},
		{"not proc.name = x", "all", ""},
		{"evt.type = open and proc.name = x", "open", ""},
		{"evt.type = open or proc.name = x", "all", ""},
		{"evt.type = open or evt.type = connect", "open,connect", ""},
		{"evt.type in (open, connect) and evt.type in (connect, execve)", "connect", ""},
		{"not (evt.type = open or evt.type = connect)", "all but open,connect", ""},
		{"not (evt.type = open and proc.name = x)", "all", ""},
		{"evt.type = process_vm_writev", "", "process_vm_writev"},
		{"evt.type in (process_vm_writev, open)", "open", "process_vm_writev"},
		{"evt.type != process_vm_writev", "all", "process_vm_writev"},
		{"evt.type = connect or (evt.type in (sendmmsg, recvmmsg) and fd.l4proto != tcp)", "connect", "sendmmsg,recvmmsg"},
		{"evt.type startswith open", "all", ""},
		{"evt.type exists", "all", ""},
		{"evt.type = open and evt.type = connect", "", ""},
	}
	for _, tt := range tests {
		e, err := ast.Parse(tt.cond)
		if err != nil {
			t.Fatal(err)
		}
		s, unknown := eventTypes(e)
		if got := typeNames(s); got != tt.want || strings.Join(unknown, ",") != tt.unknown {
			t.Errorf("%s: got %s (unknown %v), want %s (unknown %s)", tt.cond, got, unknown, tt.want, tt.unknown)
		}
	}
}

// TestPrune checks that parts of conditions that can only hold for event
// types vigil does not produce fold away.
func TestPrune(t *testing.T) {
	tests := []struct {
		cond string
		want string // canonical form, or "false" / "true"
	}{
		{"evt.type = open and proc.name = x", "evt.type = open and proc.name = x"},
		{"evt.type = process_vm_writev", "false"},
		{"evt.type = process_vm_writev and proc.name = x", "false"},
		{"evt.type = process_vm_writev or proc.name = x", "proc.name = x"},
		{"not evt.type = process_vm_writev", "true"},
		{"evt.type != process_vm_writev", "true"},
		{"proc.name = x and not evt.type = process_vm_writev", "proc.name = x"},
		{"(evt.type = connect or (evt.type = sendmmsg and evt.arg.data = x)) and fd.sport = 22",
			"evt.type = connect and fd.sport = 22"},
		{"evt.type in (process_vm_writev, open) and proc.name = x", "evt.type in (process_vm_writev, open) and proc.name = x"},
		{"not (evt.type = process_vm_writev and a.b = c)", "true"},
		{"evt.type = open and (evt.type = process_vm_writev or fd.name = x)", "evt.type = open and fd.name = x"},
	}
	for _, tt := range tests {
		e, err := ast.Parse(tt.cond)
		if err != nil {
			t.Fatal(err)
		}
		p, k := prune(e)
		got := ""
		switch k {
		case constFalse:
			got = "false"
		case constTrue:
			got = "true"
		default:
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("prune(%s) = %s, want %s", tt.cond, got, tt.want)
		}
	}
}
