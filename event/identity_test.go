package event

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestDevEncoding checks the device number's parts and its userspace
// encoding (Falco's fd.dev) against the kernel's and glibc's.
func TestDevEncoding(t *testing.T) {
	for _, tt := range []struct{ major, minor uint32 }{{0, 0}, {254, 0}, {8, 1}, {0, 45}, {259, 3}, {4095, 1<<20 - 1}, {1, 300}} {
		dev := DevOf(tt.major, tt.minor)
		if DevMajor(dev) != tt.major || DevMinor(dev) != tt.minor {
			t.Errorf("DevOf(%d, %d) = %#x splits into %d:%d", tt.major, tt.minor, dev, DevMajor(dev), DevMinor(dev))
		}
		if got, want := uint64(DevEncoded(dev)), unix.Mkdev(tt.major, tt.minor); got != want {
			t.Errorf("DevEncoded(%d:%d) = %#x, want makedev's %#x", tt.major, tt.minor, got, want)
		}
	}
}

// TestIdentityFields checks fd.identity, fd.dev, fd.ino and fd.nlink: a
// file the rules name by identity is named so whatever path reached it;
// any other has its resolved path.
func TestIdentityFields(t *testing.T) {
	ids := &FileIdentities{}
	shadow := FileID{Dev: DevOf(254, 0), Ino: 817}
	ids.Set(map[FileID]string{shadow: "/etc/shadow"})
	open := func(real string, id FileID, nlink uint32, table *FileIdentities) *Event {
		return &Event{Type: TypeOpenat, Res: 3, Identities: table,
			Open: Open{Name: []byte(real), RealPath: []byte(real), Dev: id.Dev, Ino: id.Ino, Nlink: nlink}}
	}
	str := func(name string, e *Event) (string, bool) {
		f, ok := LookupField(name)
		if !ok {
			t.Fatalf("no field %s", name)
		}
		return f.Str(e, Arg{})
	}
	num := func(name string, e *Event) int64 {
		f, ok := LookupField(name)
		if !ok {
			t.Fatalf("no field %s", name)
		}
		v, ok := f.Num(e, Arg{})
		if !ok {
			t.Fatalf("%s: no value", name)
		}
		return v
	}
	for _, tt := range []struct {
		e    *Event
		want string
	}{
		{open("/var/tmp/x", shadow, 2, ids), "/etc/shadow"},    // a hard link
		{open("/mnt/e/shadow", shadow, 1, ids), "/etc/shadow"}, // a bind mount
		{open("/etc/passwd", FileID{Dev: shadow.Dev, Ino: 818}, 1, ids), "/etc/passwd"},
		{open("/x/shadow", FileID{Dev: DevOf(254, 1), Ino: 817}, 1, ids), "/x/shadow"}, // same inode, other device
		{open("/var/tmp/x", shadow, 2, nil), "/var/tmp/x"},                             // no table
	} {
		if got, ok := str("fd.identity", tt.e); !ok || got != tt.want {
			t.Errorf("fd.identity of %s = %q %v, want %q", tt.e.Open.RealPath, got, ok, tt.want)
		}
	}
	e := open("/var/tmp/x", shadow, 2, ids)
	if num("fd.ino", e) != 817 || num("fd.nlink", e) != 2 || num("fd.dev.major", e) != 254 || num("fd.dev.minor", e) != 0 ||
		num("fd.dev", e) != 0xfe00 {
		t.Errorf("fd.ino %d fd.nlink %d fd.dev %#x (%d:%d)", num("fd.ino", e), num("fd.nlink", e), num("fd.dev", e),
			num("fd.dev.major", e), num("fd.dev.minor", e))
	}
	if _, ok := str("fd.identity", &Event{Type: TypeOpenat, Res: -2}); ok {
		t.Errorf("a failed open has an fd.identity")
	}
}

// TestFilterAdmitsIdentity: a clause that names files by identity admits
// them by another path, and only a successful open of them.
func TestFilterAdmitsIdentity(t *testing.T) {
	ids := &FileIdentities{}
	shadow := FileID{Dev: DevOf(254, 0), Ino: 817}
	ids.Set(map[FileID]string{shadow: "/etc/shadow", {Dev: shadow.Dev, Ino: 900}: "/etc/gshadow"})
	f := &Filter{Clauses: []Clause{{
		Types: KindOpen.Types(), Classes: OpenReadAccess, Results: ResultSucceeded,
		Prefixes: []string{"/etc/shadow"}, Identities: []string{"/etc/shadow"}, Resolved: true,
	}}}
	open := func(flags uint32, res int64, real string, ino uint64) *Event {
		return &Event{Type: TypeOpenat, Res: res, Identities: ids,
			Open: Open{Flags: flags, Name: []byte(real), RealPath: []byte(real), Raw: []byte(real), Dev: shadow.Dev, Ino: ino}}
	}
	for _, tt := range []struct {
		e    *Event
		want bool
	}{
		{open(unix.O_RDONLY, 3, "/etc/shadow", 817), true},
		{open(unix.O_RDONLY, 3, "/var/tmp/x", 817), true},    // a hard link
		{open(unix.O_RDONLY, 3, "/mnt/e/shadow", 817), true}, // a bind mount
		{open(unix.O_RDONLY, 3, "/var/tmp/y", 818), false},   // another file
		{open(unix.O_RDONLY, 3, "/var/tmp/g", 900), false},   // a file the clause does not name
		{open(unix.O_WRONLY, 3, "/var/tmp/x", 817), false},   // not a read
		{open(unix.O_RDONLY, -13, "", 0), false},             // failed
	} {
		if got := f.Admits(tt.e); got != tt.want {
			t.Errorf("Admits(%s ino %d flags %#o res %d) = %v, want %v", tt.e.Open.RealPath, tt.e.Open.Ino, tt.e.Open.Flags,
				tt.e.Res, got, tt.want)
		}
	}
	// Merging keeps every clause's files.
	m := MergeClauses(f.Clauses[0], Clause{Types: KindOpen.Types(), Classes: OpenReadAccess, Results: ResultSucceeded,
		Prefixes: []string{"/etc/gshadow"}, Identities: []string{"/etc/gshadow"}, Resolved: true})
	if len(m.Identities) != 2 || !(&Filter{Clauses: []Clause{m}}).Admits(open(unix.O_RDONLY, 3, "/var/tmp/g", 900)) {
		t.Errorf("merged %+v", m)
	}
}

// BenchmarkIdentityMiss is fd.identity of an open that is no file the rules
// name, the common case of every open a rule on fd.identity sees.
func BenchmarkIdentityMiss(b *testing.B) {
	ids := &FileIdentities{}
	m := map[FileID]string{}
	for i, p := range []string{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers"} {
		m[FileID{Dev: DevOf(254, 0), Ino: uint64(100 + i)}] = p
	}
	ids.Set(m)
	e := &Event{Type: TypeOpenat, Res: 3, Identities: ids,
		Open: Open{RealPath: []byte("/usr/lib/python3.11/os.py"), Dev: DevOf(254, 0), Ino: 4242}}
	f, _ := LookupField("fd.identity")
	b.ReportAllocs()
	for b.Loop() {
		if s, ok := f.Str(e, Arg{}); !ok || len(s) == 0 {
			b.Fatal("no value")
		}
	}
}
