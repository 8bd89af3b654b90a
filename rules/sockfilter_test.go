package rules

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestSocketFilter checks the socket kind's filter derived from Falco's
// three files: packet sockets and inbound IP connections leave the
// kernel, an IP client's socket and a unix server's accept do not.
func TestSocketFilter(t *testing.T) {
	var srcs []Source
	for _, f := range falcorules.Files {
		srcs = append(srcs, Source{Name: f, Data: testutil.FalcoRules(t, f)})
	}
	rs, _, err := Load(srcs, Options{Enable: []string{"Unexpected inbound connection source"}})
	if err != nil {
		t.Fatal(err)
	}
	f := rs.Filters()[event.KindSocket]
	if f == nil || f.All {
		t.Fatalf("no bounded socket filter: %+v", f)
	}
	sock := func(typ event.Type, domain uint32, family uint16, res int64) *event.Event {
		e := &event.Event{Type: typ, Res: res}
		e.Socket.Domain = domain
		e.Socket.Sock.Family = family
		if family == event.AFInet {
			e.Socket.Sock.Local = netip.MustParseAddrPort("192.0.2.1:80")
			e.Socket.Sock.Remote = netip.MustParseAddrPort("198.51.100.7:50000")
		}
		return e
	}
	for _, tc := range []struct {
		name string
		e    *event.Event
		want bool
	}{
		{"AF_PACKET socket", sock(event.TypeSocket, event.AFPacket, event.AFPacket, 3), true},
		{"refused AF_PACKET socket", sock(event.TypeSocket, event.AFPacket, 0, -int64(unix.EPERM)), true},
		{"AF_INET socket", sock(event.TypeSocket, event.AFInet, event.AFInet, 3), false},
		{"inbound accept4", sock(event.TypeAccept4, 0, event.AFInet, 4), true},
		{"unix accept", sock(event.TypeAccept, 0, event.AFUnix, 4), false},
	} {
		if got := f.Admits(tc.e); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
	}

	// Dups: the redirect rule wants IP sockets.
	d := rs.Filters()[event.KindDup]
	if d == nil || d.All {
		t.Fatalf("no bounded dup filter: %+v", d)
	}
	dup := func(family uint16, ftype uint32) *event.Event {
		e := &event.Event{Type: event.TypeDup2, Res: 1}
		e.Dup.Sock.Family, e.Dup.FileType = family, ftype
		return e
	}
	for _, tc := range []struct {
		name string
		e    *event.Event
		want bool
	}{
		{"TCP socket onto stdout", dup(event.AFInet, unix.S_IFSOCK), true},
		{"TCP6 socket onto stdout", dup(event.AFInet6, unix.S_IFSOCK), true},
		{"file onto stdout", dup(0, unix.S_IFREG), false},
		{"pipe onto stdin", dup(0, unix.S_IFIFO), false},
		{"unix socket onto stdout", dup(event.AFUnix, unix.S_IFSOCK), false},
	} {
		if got := d.Admits(tc.e); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFSFilter checks the fs kind's filter: only the syscalls the rules
// name leave the kernel, chmods only with the bits the rules search, and
// changes only of the paths the rules name, where the caller's are final.
func TestFSFilter(t *testing.T) {
	stable := mustLoadSources(t, falcoRules(t)).Filters()[event.KindFS]
	var srcs []Source
	for _, f := range falcorules.Files {
		srcs = append(srcs, Source{Name: f, Data: testutil.FalcoRules(t, f)})
	}
	all := mustLoadSources(t, srcs...).Filters()[event.KindFS]
	fs := func(typ event.Type, mode uint32) *event.Event {
		e := &event.Event{Type: typ}
		e.FS.Mode = mode
		e.FS.Path1 = []byte("/tmp/x")
		return e
	}
	fsPaths := func(typ event.Type, p1, p2 string) *event.Event {
		e := &event.Event{Type: typ}
		e.FS.Raw1, e.FS.Raw2 = []byte(p1), []byte(p2)
		return e
	}
	for _, tc := range []struct {
		name string
		f    *event.Filter
		e    *event.Event
		want bool
	}{
		{"stable: symlink", stable, fs(event.TypeSymlinkat, 0), true},
		{"stable: rename", stable, fs(event.TypeRename, 0), false},
		{"all: rename", all, fs(event.TypeRename, 0), true},
		{"all: chmod u+s", all, fs(event.TypeFchmodat, 0o4755), true},
		{"all: chmod 644", all, fs(event.TypeFchmodat, 0o644), false},
		// Paths, where the caller's are final: far from every bound.
		{"all: rename in /tmp", all, fsPaths(event.TypeRenameat2, "/tmp/cc1.s", "/tmp/cc2.s"), false},
		{"all: unlink in a build dir", all, fsPaths(event.TypeUnlink, "/home/u/src/main.o", ""), false},
		{"all: mkdir in /tmp", all, fsPaths(event.TypeMkdirat, "/tmp/build", ""), false},
		{"all: rename into /usr/bin", all, fsPaths(event.TypeRename, "/tmp/x", "/usr/bin/x"), true},
		{"all: rename out of /sbin", all, fsPaths(event.TypeRenameat, "/sbin/x", "/tmp/x"), true},
		{"all: unlink of shell history", all, fsPaths(event.TypeUnlinkat, "/root/.bash_history", ""), true},
		{"all: unlink of fish's history", all, fsPaths(event.TypeUnlink, "/root/.local/share/fish/fish_read_history.x", ""), true},
		{"all: mkdir in /bin", all, fsPaths(event.TypeMkdir, "/bin/new", ""), true},
		{"all: rename into the apt sources", all, fsPaths(event.TypeRename, "/tmp/s", "/etc/apt/sources.list.d/x.list"), true},
		// Not final: userspace judges them.
		{"all: relative unlink", all, fsPaths(event.TypeUnlink, "main.o", ""), true},
		{"all: rename through ..", all, fsPaths(event.TypeRename, "/tmp/a", "/tmp/../usr/bin/a"), true},
		{"stable: hard link of /etc/shadow", stable, fsPaths(event.TypeLinkat, "/etc/shadow", "/tmp/s"), true},
		{"stable: hard link in /tmp", stable, fsPaths(event.TypeLinkat, "/tmp/a", "/tmp/b"), false},
	} {
		if got := tc.f.Admits(tc.e); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
	}
}
