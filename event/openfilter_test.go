package event

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A merged clause keeps a raw-path needle only when both need it: either
// alone would drop what the other admits.
func TestMergeClausesNeedle(t *testing.T) {
	c := func(raw string, prefixes ...string) Clause {
		return Clause{Types: KindOpen.Types(), Classes: OpenAllAccess, Results: AllResults, Prefixes: prefixes, RawContains: raw}
	}
	if m := MergeClauses(c("../", "/etc/"), c("../", "/home/")); m.RawContains != "../" || len(m.Prefixes) != 2 {
		t.Errorf("same needle: %+v", m)
	}
	if m := MergeClauses(c("../", "/etc/"), c("", "/home/")); m.RawContains != "" {
		t.Errorf("one needle: %+v", m)
	}
	// Reduce merges only clauses with the same needle first.
	f := (&Filter{Clauses: []Clause{c("../", "/a/"), c("", "/b/"), c("../", "/c/"), c("x", "/d/")}}).Reduce(3)
	if len(f.Clauses) != 3 || f.Clauses[0].RawContains != "../" || len(f.Clauses[0].Prefixes) != 2 {
		t.Errorf("Reduce(3) = %+v", f.Clauses)
	}
}

// TestFilterAdmits checks the reference evaluation clause by clause.
func TestFilterAdmits(t *testing.T) {
	open := func(flags uint32, res int64, real, raw string) *Event {
		return &Event{Type: TypeOpenat, Res: res, Open: Open{Flags: flags, Name: []byte(real), RealPath: []byte(real), Raw: []byte(raw)}}
	}
	f := &Filter{Clauses: []Clause{{
		Types: TypeSetOf(TypeOpenat), Classes: OpenReadAccess, Results: ResultSucceeded,
		Prefixes: []string{"/etc/"}, Names: []string{"id_rsa"}, Resolved: true,
	}, {
		Types: KindOpen.Types(), Classes: OpenAllAccess, Results: AllResults, AnyPath: true, RawContains: "../",
	}, {
		Types: TypeSetOf(TypeOpenat), Classes: OpenWriteAccess, Results: ResultSucceeded, Suffixes: []string{"release_agent"}, Resolved: true,
	}, {
		// On the caller's name: judged only where the raw path is the
		// resolved one.
		Types: TypeSetOf(TypeOpenat), Classes: OpenWriteAccess, Results: ResultSucceeded, Prefixes: []string{"/proc/self/fd/"},
	}}}
	cut := open(unix.O_WRONLY, 3, "/tmp/x", "/tmp/x")
	cut.Open.RawTruncated = true
	// named sets the caller's name, where a symlink made it differ.
	named := func(e *Event, name string) *Event { e.Open.Name = []byte(name); return e }
	tests := []struct {
		e    *Event
		want bool
	}{
		{open(unix.O_RDONLY, 3, "/etc/passwd", "/etc/passwd"), true},
		{open(unix.O_RDWR, 3, "/home/a/.ssh/id_rsa", "id_rsa"), true},
		{open(unix.O_WRONLY, 3, "/etc/passwd", "/etc/passwd"), false},   // not a read
		{open(unix.O_RDONLY|unix.O_PATH, 3, "/etc/passwd", "x"), false}, // O_PATH: no read
		{open(unix.O_RDONLY, -2, "", "/etc/passwd"), false},             // failed: the first wants success
		{open(unix.O_RDONLY, -2, "", "../x"), true},                     // the needle
		{open(unix.O_WRONLY, 3, "/tmp/x", "a/../../tmp/x"), true},       // the needle, any path
		{open(unix.O_RDONLY, 3, "", "x"), true},                         // no resolved name: admitted
		{&Event{Type: TypeConnect, Res: -111}, true},                    // a kind the filter does not cover
		{open(unix.O_RDONLY, 3, "/home/a/.ssh/id_rsa.pub", "id_rsa.pub"), false},
		{open(unix.O_WRONLY, 3, "/sys/fs/cgroup/x/release_agent", "release_agent"), true}, // the suffix
		{open(unix.O_WRONLY, 3, "/sys/fs/cgroup/x/release_agent2", "/sys/fs/cgroup/x/release_agent2"), false},
		// The caller's-name clause: a symlinked or relative name is not
		// judged, the resolved path named as such is.
		{open(unix.O_WRONLY, 3, "/dev/pts/0", "/proc/self/fd/1"), true},
		{open(unix.O_WRONLY, 3, "/tmp/x", "x"), false}, // relative, clean, no link: judged
		{named(open(unix.O_WRONLY, 3, "/b/l/x", "l/x"), "/a/l/x"), true},
		{named(open(unix.O_WRONLY, 3, "/tmp/x", "link"), "/tmp/link"), true},
		{open(unix.O_WRONLY, 3, "/tmp/x", "../tmp/x"), true},
		{open(unix.O_WRONLY, 3, "/tmp/x", "./x"), true},
		{open(unix.O_WRONLY, 3, "/tmp/x", "/tmp//x"), true},
		{named(open(unix.O_WRONLY, 3, "/tmp/x", "x"), ""), true}, // the caller's name was cut
		{open(unix.O_WRONLY, 3, "/tmp/x", "/tmp/x"), false},
		{open(unix.O_WRONLY, 3, "/proc/self/fd/1", "/proc/self/fd/1"), true},
		{open(unix.O_WRONLY, 3, "/tmp/x", ""), true}, // raw unreadable
		{cut, true}, // raw cut
		{open(unix.O_RDONLY, 3, "/tmp/x", "x"), false}, // not a write: no clause on the caller's name
	}
	for _, tt := range tests {
		if got := f.Admits(tt.e); got != tt.want {
			t.Errorf("Admits(%s flags %#o res %d realpath %q raw %q) = %v, want %v", tt.e.Type, tt.e.Open.Flags, tt.e.Res,
				tt.e.Open.RealPath, tt.e.Open.Raw, got, tt.want)
		}
	}
}

// TestMergeClausesResolved: merging bounds on the caller's name with
// bounds on the resolved path gives bounds on the caller's name, which
// admit whatever either did.
func TestMergeClausesResolved(t *testing.T) {
	a := Clause{Types: TypeSetOf(TypeOpenat), Classes: OpenAllAccess, Results: AllResults, Prefixes: []string{"/etc/"}, Resolved: true}
	b := Clause{Types: TypeSetOf(TypeOpenat), Classes: OpenAllAccess, Results: AllResults, Prefixes: []string{"/proc/self/fd/"}}
	if m := MergeClauses(a, b); m.Resolved || len(m.Prefixes) != 2 {
		t.Errorf("merged %+v", m)
	}
	if m := MergeClauses(a, a); !m.Resolved {
		t.Errorf("two resolved clauses merged into %+v", m)
	}
	if a.Equal(b) || a.Equal(Clause{Types: a.Types, Classes: a.Classes, Results: a.Results, Prefixes: a.Prefixes}) {
		t.Error("Equal ignores Resolved")
	}
}
