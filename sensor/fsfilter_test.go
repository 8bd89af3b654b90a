package sensor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// helperFSPath runs one file-system change described as "op|path" or
// "op|path|path2" and returns its result or -errno. The plain syscalls
// (rename, unlink, mkdir, ...) are called by number.
func helperFSPath(op string) int {
	parts := strings.Split(op, "|")
	p1, p2 := parts[1], ""
	if len(parts) > 2 {
		p2 = parts[2]
	}
	switch parts[0] {
	case "rename":
		return rawPath(unix.SYS_RENAME, p1, p2, 0)
	case "renameat2":
		return errnoRes(unix.Renameat2(unix.AT_FDCWD, p1, unix.AT_FDCWD, p2, 0))
	case "unlink":
		return rawPath(unix.SYS_UNLINK, p1, "", 0)
	case "unlinkat":
		return errnoRes(unix.Unlinkat(unix.AT_FDCWD, p1, 0))
	case "mkdir":
		return rawPath(unix.SYS_MKDIR, p1, "", 0o755)
	case "rmdir":
		return rawPath(unix.SYS_RMDIR, p1, "", 0)
	case "symlink":
		return rawPath(unix.SYS_SYMLINK, p1, p2, 0)
	case "link":
		return rawPath(unix.SYS_LINK, p1, p2, 0)
	case "chmod":
		return rawPath(unix.SYS_CHMOD, p1, "", 0o644)
	}
	return -1000
}

// fsOpType is the event type of a helperFSPath op.
func fsOpType(op string) event.Type {
	switch op {
	case "rename":
		return event.TypeRename
	case "renameat2":
		return event.TypeRenameat2
	case "unlink":
		return event.TypeUnlink
	case "unlinkat":
		return event.TypeUnlinkat
	case "mkdir":
		return event.TypeMkdir
	case "rmdir":
		return event.TypeRmdir
	case "symlink":
		return event.TypeSymlink
	case "link":
		return event.TypeLink
	case "chmod":
		return event.TypeChmod
	}
	return event.TypeUnknown
}

// TestFSPathFilter runs real file-system changes under an fs filter that
// bounds each path argument, beside the shared unfiltered sensor: the
// filtered sensor must deliver a change exactly when kernelAdmits says so
// of the change as the unfiltered one saw it (the kernel and the Go
// reference agree), and that verdict must be the expected one. Paths are
// absolute, relative, through "..", with an empty component, and longer
// than the kernel judges.
func TestFSPathFilter(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) { fsPathFilterCase(t, h, fh) })
}

func fsPathFilterCase(t *testing.T, h, fh *harness) {
	dir := realTempDir(t)
	j := func(name string) string { return dir + "/" + name }
	mid, long := "m"+strings.Repeat("i", 140), "l"+strings.Repeat("o", 240)
	for _, d := range []string{"keep", "other"} {
		if err := os.Mkdir(j(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"a1", "x_history", "needle-in-name.txt", "b1", "c1", mid, long, "zz_history"} {
		if err := os.WriteFile(filepath.Join(dir, "other", f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(j("other/"+mid)) > event.FSFilterPathMax || len(j("other/"+long)) <= event.FSFilterPathMax {
		t.Fatalf("temporary dir %s too long for the test's paths", dir)
	}
	types := func(ts ...event.Type) event.TypeSet { return event.TypeSetOf(ts...) }
	unlinks := types(event.TypeUnlink, event.TypeUnlinkat, event.TypeRmdir)
	all := ^uint64(0)
	f := &event.Filter{Clauses: []event.Clause{
		{Types: types(event.TypeRename, event.TypeRenameat, event.TypeRenameat2), Classes: all, Results: event.ResultSucceeded,
			Paths: event.FSPath2, Prefixes: []string{j("keep/")}},
		{Types: unlinks, Classes: all, Results: event.ResultSucceeded, Paths: event.FSPath1, Suffixes: []string{"_history"}},
		// The kernel compares the needle's first 8 bytes ("needle-i").
		{Types: unlinks, Classes: all, Results: event.ResultSucceeded, Paths: event.FSPath1, AnyPath: true, Contains: "needle-in-name"},
		{Types: types(event.TypeMkdir, event.TypeMkdirat), Classes: all, Results: event.ResultSucceeded, Paths: event.FSPath1, Names: []string{"special"}},
		{Types: types(event.TypeSymlink, event.TypeSymlinkat), Classes: all, Results: event.ResultSucceeded, Paths: event.FSPath1, Prefixes: []string{"/etc/shadow"}},
		{Types: types(event.TypeLink, event.TypeLinkat), Classes: all, Results: event.ResultSucceeded,
			Paths: event.FSPath1 | event.FSPath2, Prefixes: []string{j("keep/")}},
		{Types: unlinks, Classes: all, Results: event.ResultFailed, AnyPath: true},
	}}
	ops := []struct {
		op    string
		admit bool
	}{
		{"rename|" + j("other/a1") + "|" + j("other/a2"), false},
		{"rename|" + j("other/a2") + "|" + j("keep/a3"), true},
		{"rename|keep/a3|other/a4", true}, // relative: userspace judges
		{"renameat2|" + j("other/a4") + "|" + j("other/../other/a5"), true},
		{"renameat2|" + j("other/a5") + "|" + dir + "//other/a6", true},
		{"renameat2|" + j("other/a6") + "|" + j("other/a7"), false},
		{"unlink|" + j("other/x_history"), true},
		{"unlink|" + j("other/b1"), false},
		{"unlinkat|" + j("other/needle-in-name.txt"), true},
		{"unlink|other/c1", true},
		{"unlink|" + j("other/"+mid), false},
		{"unlink|" + j("other/"+long), true},   // longer than the kernel judges
		{"unlink|" + j("other/missing"), true}, // failed
		{"mkdir|" + j("other/special"), true},
		{"mkdir|" + j("other/plain"), false},
		{"rmdir|" + j("other/plain"), false},
		{"rmdir|" + j("other/special"), false},
		{"symlink|/etc/shadow|" + j("other/l1"), true},
		{"symlink|/etc/passwd|" + j("other/l2"), false},
		{"symlink|../x|" + j("other/l3"), true},
		{"link|" + j("other/a7") + "|" + j("keep/h1"), true},
		{"link|" + j("keep/h1") + "|" + j("other/h2"), true},
		{"link|" + j("other/a7") + "|" + j("other/h3"), false},
		{"chmod|" + j("other/a7"), false},
	}
	if err := fh.s.SetFilter(event.KindFS, f); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	before := fh.s.Stats().Kinds[event.KindFS].Filtered
	sentinel := "unlink|" + j("other/zz_history")
	args := []string{}
	for _, o := range ops {
		args = append(args, o.op)
	}
	c := h.spawn(t, dir, "fspath", append(args, sentinel)...)
	if len(c.results) != len(args)+1 {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	is := func(op string) func(*captured) bool {
		parts := strings.Split(op, "|")
		raw2 := ""
		if len(parts) > 2 {
			raw2 = parts[2]
		}
		return func(e *captured) bool {
			return e.PID == c.pid && e.Type == fsOpType(parts[0]) && string(e.FS.Raw1) == parts[1] && string(e.FS.Raw2) == raw2
		}
	}
	// Admitted: once it arrives, so have the admitted changes before it.
	fh.wait(t, c.pid, "the sentinel unlink", is(sentinel))
	for i, o := range ops {
		ref := h.wait(t, c.pid, o.op, is(o.op))
		if ref.Res != int64(c.results[i]) {
			t.Errorf("%s: result %d, the helper saw %d", o.op, ref.Res, c.results[i])
		}
		if got := kernelAdmits(f, &ref.Event); got != o.admit {
			t.Errorf("%s: kernelAdmits says %v, want %v (%s)", o.op, got, o.admit, ref.String())
		}
		got := false
		for _, e := range fh.all(c.pid) {
			got = got || is(o.op)(&e)
		}
		if got != o.admit {
			t.Errorf("%s: the filtered sensor delivered it: %v, want %v (%s)", o.op, got, o.admit, ref.String())
		}
	}
	if fh.s.Stats().Kinds[event.KindFS].Filtered == before {
		t.Errorf("the fs filter left out changes but its counter did not move")
	}
}

// TestCompileFSPaths checks the kernel tables of the fs kind's path
// bounds: path_args per path argument, Contains as a needle, and bounds on
// no path argument (or a raw-path needle, which the fs kind has not)
// bounding nothing; opens ignore Contains.
func TestCompileFSPaths(t *testing.T) {
	c := func(paths uint8) event.Clause {
		return event.Clause{Types: event.KindFS.Types(), Classes: ^uint64(0), Results: event.AllResults, Paths: paths}
	}
	with := func(cl event.Clause, f func(*event.Clause)) event.Clause { f(&cl); return cl }
	f := &event.Filter{Clauses: []event.Clause{
		with(c(event.FSPath1), func(cl *event.Clause) { cl.Prefixes = []string{"/bin/"} }),
		with(c(event.FSPath2), func(cl *event.Clause) { cl.Suffixes = []string{"_history"} }),
		with(c(event.FSPath1|event.FSPath2), func(cl *event.Clause) { cl.Prefixes = []string{"/usr/bin/"} }),
		with(c(event.FSPath1), func(cl *event.Clause) { cl.AnyPath, cl.Contains = true, "fish_read_history" }),
		with(c(0), func(cl *event.Clause) { cl.Prefixes = []string{"/etc/"} }),
		with(c(event.FSPath1), func(cl *event.Clause) { cl.AnyPath, cl.RawContains = true, "../" }),
	}}
	k := compileFilter(event.KindFS, func(key uint32) int { return int(key) }, f, 1, nil)
	for _, tc := range []struct {
		what      string
		got, want uint32
	}{
		{"path_args[0]", k.filter.PathArgs[0], 0b101101},
		{"path_args[1]", k.filter.PathArgs[1], 0b000110},
		{"path_any", k.filter.PathAny, 0b111000},
		{"raw_need", k.filter.RawNeed, 0b001000},
		{"needle clauses", k.filter.NeedleClauses[0], 0b001000},
		{"needle length", k.filter.NeedleLen[0], 8},
		{"suffix clauses", k.filter.SuffixClauses[0], 0b000010},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#b, want %#b", tc.what, tc.got, tc.want)
		}
	}
	if k.filter.Needle[0] != leWord("fish_rea") {
		t.Errorf("needle %#x, want fish_rea", k.filter.Needle[0])
	}
	open := &event.Filter{Clauses: []event.Clause{{Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.AllResults,
		AnyPath: true, Contains: "x"}}}
	if k := compileFilter(event.KindOpen, openKeyClass, open, 1, nil); k.filter.RawNeed != 0 || k.filter.PathArgs != [2]uint32{} {
		t.Errorf("an open clause's Contains reached the kernel: raw_need %#b, path_args %v", k.filter.RawNeed, k.filter.PathArgs)
	}
}
