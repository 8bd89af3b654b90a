package event

import "testing"

// TestFSFilterAdmits checks how an fs clause judges an event's two paths:
// by the path it names, either path when it names both, unknown (not
// final) paths admitted, failed calls not judged by path.
func TestFSFilterAdmits(t *testing.T) {
	rename := TypeSetOf(TypeRename, TypeRenameat, TypeRenameat2)
	bin := Clause{Types: rename, Classes: ^uint64(0), Results: AllResults, Paths: FSPath2, Prefixes: []string{"/usr/bin/"}}
	hist := Clause{Types: rename, Classes: ^uint64(0), Results: AllResults, Paths: FSPath1, AnyPath: true, Contains: "fish_read"}
	ev := func(old, new string, res int64) *Event {
		e := &Event{Type: TypeRenameat2, Res: res}
		e.FS.Raw1, e.FS.Raw2 = []byte(old), []byte(new)
		return e
	}
	for _, tc := range []struct {
		name string
		c    Clause
		e    *Event
		want bool
	}{
		{"newpath in the bin dir", bin, ev("/tmp/a", "/usr/bin/a", 0), true},
		{"oldpath in the bin dir only", bin, ev("/usr/bin/a", "/tmp/a", 0), false},
		{"newpath relative: unknown", bin, ev("/tmp/a", "a", 0), true},
		{"newpath through ..: unknown", bin, ev("/tmp/a", "/usr/lib/../bin/a", 0), true},
		{"newpath elsewhere", bin, ev("/tmp/a", "/tmp/b", 0), false},
		{"failed: not judged by path", bin, ev("/tmp/a", "/tmp/b", -2), true},
		{"oldpath contains the needle", hist, ev("/root/fish_read_history", "/tmp/b", 0), true},
		{"newpath contains it, not oldpath", hist, ev("/tmp/b", "/root/fish_read_history", 0), false},
		{"wrong type", bin, &Event{Type: TypeUnlink}, false},
	} {
		f := Filter{Clauses: []Clause{tc.c}}
		if got := f.Admits(tc.e); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
	}
	// Merged, each clause's events stay admitted.
	m := MergeClauses(bin, hist)
	f := Filter{Clauses: []Clause{m}}
	for _, e := range []*Event{ev("/tmp/a", "/usr/bin/a", 0), ev("/root/fish_read_history", "/tmp/b", 0)} {
		if !f.Admits(e) {
			t.Errorf("the merged clause %+v drops %s -> %s", m, e.FS.Raw1, e.FS.Raw2)
		}
	}
	// A clause bounding the kind's one path (0) does not mix with one
	// naming path arguments: merged, they bound nothing.
	if m := MergeClauses(bin, Clause{Types: rename, Results: AllResults, Prefixes: []string{"/x"}}); !m.AnyPath || m.Paths != 0 {
		t.Errorf("merging Paths 0 with FSPath2 gave %+v, want any path", m)
	}
}
