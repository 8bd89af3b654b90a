package event

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFieldTableConsistent(t *testing.T) {
	for _, f := range Fields() {
		n := 0
		for _, set := range []bool{f.Str != nil, f.Num != nil, f.IP != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d extractors, want exactly 1", f.Name, n)
		}
		switch {
		case f.Type == FieldString && f.Str == nil,
			f.Type.Numeric() && f.Num == nil,
			(f.Type == FieldIP || f.Type == FieldIPNet) && f.IP == nil:
			t.Errorf("%s: type %s has no matching extractor", f.Name, f.Type)
		}
		if f.Desc == "" || f.Type.String() == "" {
			t.Errorf("%s: missing description or type name", f.Name)
		}
		if m := f.Multi; m != nil && (m.Count == nil || m.Max < 1 || m.Of == "") {
			t.Errorf("%s: incomplete Multi %+v", f.Name, m)
		}
	}
}

// TestMultiValues checks the fields with several values: how many each
// event has, and which value each argument reads.
func TestMultiValues(t *testing.T) {
	open := sampleOpen()
	conn := &Event{Type: TypeConnect, Proc: open.Proc}
	conn.Connect = Connect{FD: 5, Family: AFInet, Proto: ProtoTCP,
		Local: netip.MustParseAddrPort("10.0.0.2:40000"), Remote: netip.MustParseAddrPort("[::ffff:93.184.216.34]:443")}
	aname, _ := LookupField("proc.aname")
	if n := aname.Multi.Count(open); n != 1 {
		t.Errorf("proc.aname: %d values, want 1 (the parent)", n)
	}
	if got, ok := aname.Str(open, Arg{Set: true, Index: aname.Multi.First}); !ok || got != "systemd" {
		t.Errorf("proc.aname first value = %q, %v", got, ok)
	}
	if got, _ := aname.Str(open, Arg{}); got != "systemd" {
		t.Errorf("proc.aname without index = %q, want the parent", got)
	}
	for _, tt := range []struct {
		field          string
		client, server string
	}{
		{"fd.ip", "10.0.0.2", "93.184.216.34"},
		{"fd.net", "10.0.0.2", "93.184.216.34"},
		{"fd.port", "40000", "443"},
		{"fd.proto", "40000", "443"},
	} {
		f, ok := LookupField(tt.field)
		if !ok || f.Multi == nil || !f.Multi.NotEqualAll || !f.Alias {
			t.Fatalf("%s: %+v", tt.field, f)
		}
		if n := f.Multi.Count(conn); n != 2 {
			t.Errorf("%s: %d values on a connect, want 2", tt.field, n)
		}
		if n := f.Multi.Count(open); n != 0 {
			t.Errorf("%s: %d values on an open, want 0", tt.field, n)
		}
		text := func(a Arg) string { b, _ := f.AppendText(nil, conn, a); return string(b) }
		if got := text(Arg{Set: true, Index: f.Multi.First}); got != tt.client {
			t.Errorf("%s value 0 = %q, want the client end %q", tt.field, got, tt.client)
		}
		if got := text(Arg{Set: true, Index: f.Multi.First + 1}); got != tt.server {
			t.Errorf("%s value 1 = %q, want the server end %q", tt.field, got, tt.server)
		}
		if got := text(Arg{}); got != tt.server {
			t.Errorf("%s in output = %q, want the server end %q", tt.field, got, tt.server)
		}
		if _, ok := f.AppendText(nil, open, Arg{}); ok {
			t.Errorf("%s has a value on an open", tt.field)
		}
	}
}

func TestAppendOpenFlags(t *testing.T) {
	tests := []struct {
		flags uint32
		want  string
	}{
		{unix.O_RDONLY, "O_RDONLY"},
		{unix.O_RDONLY | unix.O_CLOEXEC, "O_RDONLY|O_CLOEXEC"},
		{unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC"},
		{unix.O_RDWR | unix.O_SYNC, "O_RDWR|O_SYNC"},
		{unix.O_RDWR | unix.O_TMPFILE, "O_RDWR|O_TMPFILE"},
		{unix.O_PATH | unix.O_NOFOLLOW, "O_NOFOLLOW|O_PATH"},
		{unix.O_WRONLY | 1<<30, "O_WRONLY|0x40000000"},
	}
	for _, tt := range tests {
		if got := string(AppendOpenFlags(nil, tt.flags)); got != tt.want {
			t.Errorf("AppendOpenFlags(%#o) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}

func TestErrnoName(t *testing.T) {
	for res, want := range map[int64]string{3: "SUCCESS", 0: "SUCCESS", -2: "ENOENT", -115: "EINPROGRESS", -4000: "E4000"} {
		if got := ErrnoName(res); got != want {
			t.Errorf("ErrnoName(%d) = %q, want %q", res, got, want)
		}
	}
}

func sampleOpen() *Event {
	parent := &Process{PID: 1, Name: "systemd", ExePath: "/usr/lib/systemd/systemd"}
	e := &Event{
		Type: TypeOpenat, PID: 42, TID: 42, Res: 3, Time: 2e9,
		Proc: &Process{PID: 42, PPID: 1, Name: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Args: "/etc/shadow",
			Cmdline: "cat /etc/shadow", StartTime: 1e9, Parent: parent, LoginUID: unsetUID, UserName: "root"},
	}
	e.Open.Flags = unix.O_RDONLY | unix.O_CLOEXEC
	e.Open.Name = append(e.Open.Name, "/etc/shadow"...)
	e.Open.Raw = append(e.Open.Raw, "../etc/shadow"...)
	e.Open.DirFD = -100
	return e
}

func TestFieldValues(t *testing.T) {
	e := sampleOpen()
	strs := map[string]string{
		"evt.type": "openat", "evt.res": "SUCCESS", "evt.arg.flags": "O_RDONLY|O_CLOEXEC", "fd.name": "/etc/shadow",
		"fd.nameraw": "../etc/shadow", "fd.directory": "/etc", "fd.filename": "shadow", "fd.typechar": "f",
		"proc.pname": "systemd", "container.id": "host", "user.name": "root",
	}
	for name, want := range strs {
		f, _ := LookupField(name)
		if got, ok := f.Str(e, Arg{}); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, ok, want)
		}
	}
	nums := map[string]int64{"fd.name_truncated": 0, "fd.num": 3, "evt.is_open_read": 1, "evt.is_open_write": 0, "user.loginuid": -1, "proc.duration": 1e9}
	for name, want := range nums {
		f, _ := LookupField(name)
		if got, ok := f.Num(e, Arg{}); !ok || got != want {
			t.Errorf("%s = %d, %v; want %d", name, got, ok, want)
		}
	}
	trunc, _ := LookupField("fd.name_truncated")
	e.Open.NameTruncated = true
	if got, ok := trunc.Num(e, Arg{}); !ok || got != 1 {
		t.Errorf("fd.name_truncated = %d, %v on a cut path", got, ok)
	}
	e.Open.NameTruncated = false
	aname, _ := LookupField("proc.aname")
	if got, ok := aname.Str(e, Arg{Set: true, Index: 0}); !ok || got != "cat" {
		t.Errorf("proc.aname[0] = %q, %v", got, ok)
	}
	if _, ok := aname.Str(e, Arg{Set: true, Index: 2}); ok {
		t.Errorf("proc.aname[2] has a value past the top of the tree")
	}
	if sip, _ := LookupField("fd.sip"); sip.IP != nil {
		if _, ok := sip.IP(e, Arg{}); ok {
			t.Errorf("fd.sip has a value on an open")
		}
	}
}

func TestConnectFields(t *testing.T) {
	e := &Event{Type: TypeConnect, Res: -115, Proc: &Process{}}
	e.Connect = Connect{FD: 5, Family: AFInet, Proto: ProtoTCP,
		Local: netip.MustParseAddrPort("10.0.0.2:40000"), Remote: netip.MustParseAddrPort("169.254.169.254:80")}
	name, _ := LookupField("fd.name")
	if got, _ := name.Str(e, Arg{}); got != "10.0.0.2:40000->169.254.169.254:80" {
		t.Errorf("fd.name = %q", got)
	}
	sip, _ := LookupField("fd.sip")
	if got, _ := sip.IP(e, Arg{}); got != netip.MustParseAddr("169.254.169.254") {
		t.Errorf("fd.sip = %v", got)
	}
	res, _ := LookupField("evt.res")
	if got, _ := res.Str(e, Arg{}); got != "EINPROGRESS" {
		t.Errorf("evt.res = %q", got)
	}
}

// Reading fields on the hot path must not allocate once derived buffers
// have grown (the first read of a rendered field may).
func TestFieldExtractionAllocs(t *testing.T) {
	e := sampleOpen()
	fields := Fields()
	read := func() {
		for i := range fields {
			f := &fields[i]
			a := Arg{}
			if f.ArgRequired {
				a = Arg{Set: true, Key: "k"}
			}
			switch {
			case f.Str != nil:
				f.Str(e, a)
			case f.Num != nil:
				f.Num(e, a)
			default:
				f.IP(e, a)
			}
		}
	}
	read()
	if n := testing.AllocsPerRun(100, read); n != 0 {
		t.Errorf("reading every field allocates %.1f times", n)
	}
}
