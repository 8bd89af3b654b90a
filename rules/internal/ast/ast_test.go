package ast

import (
	"strings"
	"testing"
)

// TestInspect checks the order of the walk and that returning false skips
// a node's children only.
func TestInspect(t *testing.T) {
	e, err := Parse("p.a = 1 and not (p.b = 2 or p.c = 3) and (p.d = 4 or p.e = 5)")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Inspect(e, func(e Expr) bool {
		got = append(got, e.String())
		_, isNot := e.(*Not)
		return !isNot
	})
	want := []string{
		"p.a = 1 and not (p.b = 2 or p.c = 3) and (p.d = 4 or p.e = 5)",
		"p.a = 1",
		"not (p.b = 2 or p.c = 3)",
		"p.d = 4 or p.e = 5",
		"p.d = 4",
		"p.e = 5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("visited\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
