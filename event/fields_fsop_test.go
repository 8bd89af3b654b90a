package event

import (
	"net/netip"
	"path"
	"strings"
	"testing"
)

func TestArgMode(t *testing.T) {
	for _, tc := range []struct {
		typ  Type
		mode uint32
		want string
	}{
		{TypeChmod, 0o4755, "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"},
		{TypeFchmodat, 0o2000, "S_ISGID"},
		{TypeMkdir, 0, "0"},
		{TypeOpenat, 0o644, "0644"},
		{TypeOpenat, 0, "0"},
		{TypeOpenat, 0o100755, "0755"},
	} {
		e := &Event{Type: tc.typ}
		e.FS.Mode, e.Open.Mode = tc.mode, tc.mode
		if got, _ := mustField(t, "evt.arg.mode").Str(e, Arg{}); got != tc.want {
			t.Errorf("%v mode %o: %q, want %q", tc.typ, tc.mode, got, tc.want)
		}
	}
	if _, ok := mustField(t, "evt.arg.mode").Str(&Event{Type: TypeUnlink}, Arg{}); ok {
		t.Error("unlink has a mode")
	}
}

func TestFsopPathFields(t *testing.T) {
	e := &Event{Type: TypeRenameat2}
	e.FS.Path1, e.FS.Path2 = []byte("/bin/a"), []byte("/usr/bin/b")
	want := map[string]string{"evt.arg.oldpath": "/bin/a", "evt.arg.newpath": "/usr/bin/b"}
	for name, v := range want {
		if got, ok := mustField(t, name).Str(e, Arg{}); !ok || got != v {
			t.Errorf("%s = %q %v, want %q", name, got, ok, v)
		}
	}
	for _, name := range []string{"evt.arg.path", "evt.arg.name", "evt.arg.target", "evt.arg.filename"} {
		if _, ok := mustField(t, name).Str(e, Arg{}); ok {
			t.Errorf("renameat2 has %s", name)
		}
	}
	e = &Event{Type: TypeUnlinkat}
	e.FS.Path1 = []byte("/root/.bash_history")
	if got, ok := mustField(t, "evt.arg.name").Str(e, Arg{}); !ok || got != "/root/.bash_history" {
		t.Errorf("unlinkat name %q %v", got, ok)
	}
}

func TestDupSocketFields(t *testing.T) {
	e := &Event{Type: TypeDup2, Res: 1}
	e.Dup.Sock = Sock{Family: AFInet, SockType: 1, Proto: ProtoTCP,
		Local: netip.MustParseAddrPort("10.0.0.2:40000"), Remote: netip.MustParseAddrPort("192.0.2.1:4444")}
	for name, want := range map[string]string{
		"fd.type": "ipv4", "fd.l4proto": "tcp", "fd.name": "10.0.0.2:40000->192.0.2.1:4444", "fd.sockfamily": "ip",
	} {
		if got, ok := mustField(t, name).Str(e, Arg{}); !ok || got != want {
			t.Errorf("%s = %q %v, want %q", name, got, ok, want)
		}
	}
	if ip, ok := mustField(t, "fd.sip").IP(e, Arg{}); !ok || ip != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("fd.sip = %v %v", ip, ok)
	}
	file := &Event{Type: TypeDup}
	file.Dup.FileType, file.Dup.Name = 0o100000, []byte("/var/log/x")
	if got, _ := mustField(t, "fd.type").Str(file, Arg{}); got != "file" {
		t.Errorf("dup of a file: fd.type %q", got)
	}
	if got, _ := mustField(t, "fd.name").Str(file, Arg{}); got != "/var/log/x" {
		t.Errorf("dup of a file: fd.name %q", got)
	}
	sock := &Event{Type: TypeSocket}
	sock.Socket.Domain = AFPacket
	if got, _ := mustField(t, "evt.arg.domain").Str(sock, Arg{}); got != "AF_PACKET" {
		t.Errorf("evt.arg.domain %q", got)
	}
}

// mustField is LookupField for tests: it fails t when the field is missing.
func mustField(t *testing.T, name string) *Field {
	t.Helper()
	f, ok := LookupField(name)
	if !ok {
		t.Fatalf("no field %s", name)
	}
	return f
}

func TestIsOpenCreate(t *testing.T) {
	e := &Event{Type: TypeOpenat}
	e.Open.Created = true
	if v, ok := mustField(t, "evt.is_open_create").Num(e, Arg{}); !ok || v != 1 {
		t.Errorf("created open: %d %v", v, ok)
	}
	if _, ok := mustField(t, "evt.is_open_create").Num(&Event{Type: TypeChmod}, Arg{}); ok {
		t.Error("chmod has evt.is_open_create")
	}
}

func TestIsOpenExec(t *testing.T) {
	for _, tc := range []struct {
		flags, mode uint32
		want        bool
	}{
		{0o101, 0o755, true},     // O_WRONLY|O_CREAT, rwxr-xr-x
		{0o101, 0o100644, false}, // no execute bit
		{0o1, 0o755, false},      // no O_CREAT: the mode is not used
		{0o100, 0o010, true},
	} {
		e := &Event{Type: TypeOpenat}
		e.Open.Flags, e.Open.Mode = tc.flags, tc.mode
		if got, ok := mustField(t, "evt.is_open_exec").Num(e, Arg{}); !ok || (got == 1) != tc.want {
			t.Errorf("flags %o mode %o: %d %v, want %v", tc.flags, tc.mode, got, ok, tc.want)
		}
	}
}

// TestAcceptEnds checks that an accept's client is the remote end.
func TestAcceptEnds(t *testing.T) {
	e := &Event{Type: TypeAccept4, Res: 5}
	e.Socket.Sock = Sock{Family: AFInet, SockType: 1, Proto: ProtoTCP,
		Local: netip.MustParseAddrPort("192.0.2.1:80"), Remote: netip.MustParseAddrPort("198.51.100.7:50000")}
	if got, _ := mustField(t, "fd.name").Str(e, Arg{}); got != "198.51.100.7:50000->192.0.2.1:80" {
		t.Errorf("fd.name %q", got)
	}
	for name, want := range map[string]string{"fd.cip": "198.51.100.7", "fd.sip": "192.0.2.1", "fd.lip": "192.0.2.1", "fd.rip": "198.51.100.7"} {
		if ip, ok := mustField(t, name).IP(e, Arg{}); !ok || ip.String() != want {
			t.Errorf("%s = %v, want %s", name, ip, want)
		}
	}
	for name, want := range map[string]int64{"fd.sport": 80, "fd.cport": 50000, "fd.lport": 80, "fd.rport": 50000} {
		if p, ok := mustField(t, name).Num(e, Arg{}); !ok || p != want {
			t.Errorf("%s = %d, want %d", name, p, want)
		}
	}
}

// TestFSPathField keeps the filter derivation's view of the fs kind's path
// fields in step with the fields: on every type FSPathField names, the
// field is the path it says; on the others it is absent.
func TestFSPathField(t *testing.T) {
	names := []string{"evt.arg.target", "evt.arg.linkpath", "evt.arg.oldpath", "evt.arg.newpath", "evt.arg.path",
		"evt.arg.name", "evt.arg.filename"}
	for _, name := range names {
		types, path, ok := FSPathField(name)
		if !ok || types.Empty() {
			t.Errorf("%s: not a path field of the fs kind", name)
			continue
		}
		for _, typ := range KindFS.Types().Types() {
			e := &Event{Type: typ}
			e.FS.Path1, e.FS.Path2 = []byte("/one"), []byte("/two")
			got, present := mustField(t, name).Str(e, Arg{})
			want := "/one"
			if path == FSPath2 {
				want = "/two"
			}
			if present != types.Has(typ) || (present && got != want) {
				t.Errorf("%s on %s: %q present %v; FSPathField says present %v, path %d", name, typ, got, present, types.Has(typ), path)
			}
		}
	}
	for _, name := range []string{"fd.name", "evt.arg.mode", "proc.name"} {
		if _, _, ok := FSPathField(name); ok {
			t.Errorf("%s is not a path argument of the fs kind", name)
		}
	}
}

func TestFSFilterPath(t *testing.T) {
	long := "/" + strings.Repeat("a", FSFilterPathMax-1)
	for _, tc := range []struct {
		raw   string
		trunc bool
		want  bool
	}{
		{"/", false, true},
		{"/tmp/x", false, true},
		{"/tmp/x.d/..a/...", false, true},
		{"/tmp/.bash_history", false, true},
		{long, false, true},
		{long + "b", false, false},
		{"/tmp/x", true, false},
		{"", false, false},
		{"tmp/x", false, false},
		{"./x", false, false},
		{"/tmp//x", false, false},
		{"//tmp", false, false},
		{"/tmp/x/", false, false},
		{"/tmp/./x", false, false},
		{"/tmp/.", false, false},
		{"/tmp/../x", false, false},
		{"/..", false, false},
	} {
		got := FSFilterPath([]byte(tc.raw), tc.trunc)
		if (got != nil) != tc.want || (got != nil && string(got) != tc.raw) {
			t.Errorf("FSFilterPath(%q, %v) = %q, want judged %v", tc.raw, tc.trunc, got, tc.want)
		}
		if tc.want && !tc.trunc && path.Clean(tc.raw) != tc.raw {
			t.Errorf("%q is judged but path.Clean changes it to %q", tc.raw, path.Clean(tc.raw))
		}
	}
}
