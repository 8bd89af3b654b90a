package sensor

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// TestOpenIdentity checks an open's identity (fd.dev, fd.ino, fd.nlink)
// against stat, and the kernel's open filter on it: a filter whose clause
// names a file by identity (event.Clause.Identities, as fd.identity =
// path derives) admits that file reached through a hard link and through
// a bind mount, whose paths its bounds do not admit, and not a file beside
// it; the kernel's verdict is kernelAdmits's. Both ways of tracing opens
// run it: the raw sys_exit program (direct loads) and the tracepoint pairs
// (helper reads).
func TestOpenIdentity(t *testing.T) {
	for name, mode := range map[string]string{"auto": SyscallHooksAuto, "tracepoint": SyscallHooksTracepoint} {
		t.Run(name, func(t *testing.T) { testOpenIdentity(t, mode) })
	}
}

func testOpenIdentity(t *testing.T, hooks string) {
	h := startHarness(t)
	fh, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: hooks})
	if err != nil {
		t.Fatalf("starting a second sensor: %v", err)
	}
	defer fh.close()

	dir := realTempDir(t)
	secret, other := filepath.Join(dir, "etc/secret"), filepath.Join(dir, "etc/other")
	for _, d := range []string{"etc", "links", "bind"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{secret, other, filepath.Join(dir, "etc/sentinel")} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(secret, filepath.Join(dir, "links/hard")); err != nil {
		t.Fatal(err)
	}
	// The bind mount lives below the test's own directory and goes with
	// it; detached so that a busy file cannot keep it.
	if err := unix.Mount(filepath.Join(dir, "etc"), filepath.Join(dir, "bind"), "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(dir, "bind"), unix.MNT_DETACH) })

	var st unix.Stat_t
	if err := unix.Stat(secret, &st); err != nil {
		t.Fatal(err)
	}
	id := event.FileID{Dev: event.DevOf(unix.Major(st.Dev), unix.Minor(st.Dev)), Ino: st.Ino}
	table := &event.FileIdentities{}
	table.Set(map[event.FileID]string{id: secret})
	// The filter is set first and the identities after, as a reload of
	// the identities does: the filter is compiled again with them.
	f := &event.Filter{Clauses: []event.Clause{{
		Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.ResultSucceeded,
		Prefixes: []string{secret, filepath.Join(dir, "etc/sentinel")}, Identities: []string{secret}, Resolved: true,
	}}}
	if err := fh.s.SetFilter(event.KindOpen, f); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	if err := fh.s.SetFileIdentities(table.Snapshot()); err != nil {
		t.Fatalf("SetFileIdentities: %v", err)
	}

	ops := []struct {
		raw    string
		admit  bool
		target string // the file the open reaches, for stat
	}{
		{"etc/secret", true, secret},
		{"links/hard", true, secret},
		{"bind/secret", true, secret},
		{"etc/other", false, other},
		{"bind/other", false, other},
	}
	args := make([]string, 0, len(ops)+1)
	for _, o := range ops {
		args = append(args, "openat:"+o.raw)
	}
	// Admitted by its path: once it arrives, so have the admitted opens
	// before it.
	args = append(args, "openat:etc/sentinel")
	before := fh.s.Stats().Kinds[event.KindOpen].Filtered
	c := h.spawn(t, dir, "open", args...)
	if len(c.results) != len(args) {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	isOpen := func(raw string) func(*captured) bool {
		return func(e *captured) bool {
			return e.PID == c.pid && e.Type.Kind() == event.KindOpen && string(e.Open.Raw) == raw
		}
	}
	fh.wait(t, c.pid, "sentinel open", isOpen("etc/sentinel"))
	for _, o := range ops {
		ref := h.wait(t, c.pid, "unfiltered open of "+o.raw, isOpen(o.raw))
		if err := unix.Stat(o.target, &st); err != nil {
			t.Fatal(err)
		}
		wantDev := event.DevOf(unix.Major(st.Dev), unix.Minor(st.Dev))
		if ref.Open.Ino != st.Ino || ref.Open.Dev != wantDev || ref.Open.Nlink != uint32(st.Nlink) {
			t.Errorf("%s: dev %#x ino %d nlink %d, want dev %#x ino %d nlink %d (stat of %s)", o.raw,
				ref.Open.Dev, ref.Open.Ino, ref.Open.Nlink, wantDev, st.Ino, st.Nlink, o.target)
		}
		if got, want := event.DevEncoded(ref.Open.Dev), uint32(st.Dev); got != want {
			t.Errorf("%s: fd.dev %#x, want st_dev %#x", o.raw, got, want)
		}
		ref.Event.Identities = table
		if got := kernelAdmits(f, &ref.Event); got != o.admit {
			t.Errorf("%s: kernelAdmits says %v, want %v (%s)", o.raw, got, o.admit, ref.String())
		}
		got := false
		for _, e := range fh.all(c.pid) {
			got = got || isOpen(o.raw)(&e)
		}
		if got != o.admit {
			t.Errorf("%s: the filtered sensor delivered it: %v, want %v (%s)", o.raw, got, o.admit, ref.String())
		}
	}
	if st.Nlink != 1 {
		t.Errorf("%s has %d links, want 1", other, st.Nlink)
	}
	if fh.s.Stats().Kinds[event.KindOpen].Filtered == before {
		t.Errorf("the open filter left out opens but its counter did not move")
	}
	// The file replaced under its name (as passwd replaces /etc/shadow):
	// the old identity no longer admits once the new one is set.
	if err := os.Rename(other, secret); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(secret, &st); err != nil {
		t.Fatal(err)
	}
	table.Set(map[event.FileID]string{{Dev: id.Dev, Ino: st.Ino}: secret})
	if err := fh.s.SetFileIdentities(table.Snapshot()); err != nil {
		t.Fatalf("SetFileIdentities: %v", err)
	}
	if err := os.Link(secret, filepath.Join(dir, "links/new")); err != nil {
		t.Fatal(err)
	}
	c = h.spawn(t, dir, "open", "openat:links/hard", "openat:links/new", "openat:etc/sentinel")
	fh.wait(t, c.pid, "sentinel open", isOpen("etc/sentinel"))
	h.wait(t, c.pid, "unfiltered open of links/hard", isOpen("links/hard"))
	for raw, want := range map[string]bool{"links/hard": false, "links/new": true} {
		got := false
		for _, e := range fh.all(c.pid) {
			got = got || isOpen(raw)(&e)
		}
		if got != want {
			t.Errorf("after the replacement, %s: delivered %v, want %v", raw, got, want)
		}
	}
}

// TestCompileOpenIdentities checks the kernel's identity table: each
// identity of a file a clause names carries that clause's bit under the
// filter's generation, identities of files no clause names are left out,
// and more files than the table holds make their clauses admit every path.
func TestCompileOpenIdentities(t *testing.T) {
	shadow := event.FileID{Dev: event.DevOf(254, 0), Ino: 817}
	gshadow := event.FileID{Dev: event.DevOf(254, 0), Ino: 900}
	other := event.FileID{Dev: event.DevOf(254, 1), Ino: 5}
	ids := map[event.FileID]string{shadow: "/etc/shadow", gshadow: "/etc/gshadow", other: "/etc/other"}
	clause := func(files ...string) event.Clause {
		return event.Clause{Types: event.KindOpen.Types(), Classes: event.OpenReadAccess, Results: event.ResultSucceeded,
			Prefixes: files, Identities: files, Resolved: true}
	}
	f := &event.Filter{Clauses: []event.Clause{clause("/etc/shadow"), clause("/etc/shadow", "/etc/gshadow"), {
		Types: event.KindOpen.Types(), Classes: event.OpenReadAccess, Results: event.ResultSucceeded,
		Prefixes: []string{"/etc/passwd"}, Resolved: true,
	}}}
	k := compileFilter(event.KindOpen, openKeyClass, f, 7, ids)
	if k.filter.IdentClauses != 0b011 || k.filter.PathAny != 0 {
		t.Errorf("ident clauses %#b, path any %#b", k.filter.IdentClauses, k.filter.PathAny)
	}
	got := map[event.FileID]uint32{}
	for i, key := range k.idents {
		if key.Gen != 7 || key.Kind != uint16(event.KindOpen) {
			t.Errorf("key %+v: not generation 7 of opens", key)
		}
		got[event.FileID{Dev: key.Dev, Ino: key.Ino}] = k.identMasks[i]
	}
	if want := map[event.FileID]uint32{shadow: 0b011, gshadow: 0b010}; len(got) != len(want) || got[shadow] != want[shadow] ||
		got[gshadow] != want[gshadow] {
		t.Errorf("identities %v, want %v", got, want)
	}
	// Past the table's bound: no identities, and the clauses that named
	// files by identity admit any path.
	many := map[event.FileID]string{}
	var files []string
	for i := range maxIdents + 1 {
		name := "/etc/f" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		many[event.FileID{Dev: 1, Ino: uint64(i + 1)}] = name
		files = append(files, name)
	}
	k = compileFilter(event.KindOpen, openKeyClass, &event.Filter{Clauses: []event.Clause{clause(files...)}}, 1, many)
	if len(k.idents) != 0 || k.filter.IdentClauses != 0 || k.filter.PathAny != 1 {
		t.Errorf("past the bound: %d identities, ident clauses %#b, path any %#b", len(k.idents), k.filter.IdentClauses, k.filter.PathAny)
	}
}
