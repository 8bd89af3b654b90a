package sensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// encode builds a raw record the way the kernel lays it out: the fixed part
// from a generated type, then the strings, with hdr.size patched to the
// total.
func encode(t testing.TB, fixed any, strs ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, fixed); err != nil {
		t.Fatalf("encoding %T: %v", fixed, err)
	}
	for _, s := range strs {
		b.Write(s)
	}
	raw := b.Bytes()
	binary.LittleEndian.PutUint16(raw[unsafe.Offsetof(bpf.VigilRecHdr{}.Size):], uint16(len(raw)))
	return raw
}

func hdr(typ uint16) bpf.VigilRecHdr {
	return bpf.VigilRecHdr{TsBootNs: 5_000_000_000, CgroupId: 77, Tgid: 100, Tid: 101, Type: typ, Cpu: 1}
}

// TestLayouts checks that the generated types have no implicit padding, so
// the packed encoding above and the kernel's C layout agree, and that the
// fixed sizes the decoder uses are the C sizes.
func TestLayouts(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int
	}{
		{bpf.VigilRecHdr{}, hdrSize},
		{bpf.VigilExecRec{}, execSize},
		{bpf.VigilForkRec{}, forkSize},
		{bpf.VigilExitRec{}, exitSize},
		{bpf.VigilOpenRec{}, openSize},
		{bpf.VigilConnectRec{}, connectSize},
	} {
		if got := binary.Size(tc.v); got != tc.want {
			t.Errorf("%T: packed size %d, decoder uses %d", tc.v, got, tc.want)
		}
	}
	if execSize%8 != 0 || openSize%8 != 0 {
		t.Errorf("string areas must start 8-byte aligned: exec %d, open %d", execSize, openSize)
	}
}

const bootOff = 1_700_000_000_000_000_000

func decode(t testing.TB, raw []byte) *Record {
	t.Helper()
	d := Decoder{BootOffset: bootOff}
	var r Record
	if err := d.Decode(raw, &r); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return &r
}

func TestDecodeHeader(t *testing.T) {
	r := decode(t, encode(t, bpf.VigilExitRec{Hdr: hdr(recExit), ExitCode: 3 << 8}))
	e := r.Event
	if e.Time != bootOff+5_000_000_000 || e.CPU != 1 || e.PID != 100 || e.TID != 101 || e.CgroupID != 77 {
		t.Errorf("header fields: %+v", e)
	}
	if e.Type != event.TypeProcExit || e.Res != 3<<8 {
		t.Errorf("exit: type %v res %d", e.Type, e.Res)
	}
}

func TestDecodeOpen(t *testing.T) {
	raw := []byte("sub/../file\n\"q'\xff")
	real := []byte("/data/file\n\"q'\xff")
	dir := []byte("/tmp/x")
	for _, tc := range []struct {
		sys  uint16
		want event.Type
	}{
		{sysOpen, event.TypeOpen},
		{sysOpenat, event.TypeOpenat},
		{sysOpenat2, event.TypeOpenat2},
		{sysCreat, event.TypeCreat},
	} {
		rec := bpf.VigilOpenRec{
			Hdr: hdr(recOpen), Ret: 3, Flags: 0o100101, Mode: 0o640, Dirfd: -100, FileType: 0o100000,
			Syscall: tc.sys, Rflags: openNameTrunc, RawLen: uint16(len(raw)), NameLen: uint16(len(real)), DirLen: uint16(len(dir)),
			Ino: 1 << 40, Dev: 254<<20 | 3, Nlink: 2,
		}
		r := decode(t, encode(t, rec, raw, real, dir))
		o := r.Event.Open
		if r.Event.Type != tc.want || r.Event.Res != 3 {
			t.Errorf("syscall %d: type %v res %d", tc.sys, r.Event.Type, r.Event.Res)
		}
		if o.Flags != 0o100101 || o.Mode != 0o640 || o.DirFD != -100 || o.FileType != 0o100000 || o.Ino != 1<<40 ||
			o.Dev != event.DevOf(254, 3) || o.Nlink != 2 {
			t.Errorf("open fields: %+v", o)
		}
		if !bytes.Equal(o.Raw, raw) || !bytes.Equal(o.RealPath, real) || string(o.Name) != "/tmp/x/file\n\"q'\xff" {
			t.Errorf("strings: raw %q name %q realpath %q", o.Raw, o.Name, o.RealPath)
		}
		if !o.RealPathTruncated || o.NameTruncated || o.RawTruncated || o.ViaHook || r.openJoin {
			t.Errorf("flags: %+v join %v", o, r.openJoin)
		}
	}
}

// TestDecodeOpenNames is the golden table of the two names of an open: the
// caller's (raw joined to the directory the kernel gave, cleaned) and the
// resolved one, for successful and failed opens.
func TestDecodeOpenNames(t *testing.T) {
	for _, tc := range []struct {
		name              string
		ret               int64
		dirfd             int32
		rflags            uint16
		raw, real, kdir   string
		cwd               string
		want, wantReal    string
		wantNameTrunc     bool
		wantRealPathTrunc bool
	}{
		{name: "absolute, as resolved", ret: 3, raw: "/etc/shadow", real: "/etc/shadow", want: "/etc/shadow", wantReal: "/etc/shadow"},
		{name: "symlink not followed", ret: 1, raw: "/proc/self/fd/1", real: "/dev/pts/0", want: "/proc/self/fd/1", wantReal: "/dev/pts/0"},
		{name: "absolute, cleaned", ret: 3, raw: "/etc/./ssh//../shadow", real: "/etc/shadow", want: "/etc/shadow", wantReal: "/etc/shadow"},
		{name: "relative to the cwd", ret: 3, raw: "a/./b/../c", real: "/srv/d/a/c", kdir: "/srv/d", cwd: "/elsewhere", want: "/srv/d/a/c", wantReal: "/srv/d/a/c"},
		{name: "relative through a symlink", ret: 3, raw: "link/x", real: "/target/x", kdir: "/home/u", want: "/home/u/link/x", wantReal: "/target/x"},
		{name: "dotdot past the root", ret: 3, raw: "../../../etc/passwd", real: "/etc/passwd", kdir: "/home", want: "/etc/passwd", wantReal: "/etc/passwd"},
		{name: "relative to a dirfd", ret: 4, dirfd: 3, raw: "f", real: "/opt/dir/f", kdir: "/opt/dir", want: "/opt/dir/f", wantReal: "/opt/dir/f"},
		{name: "dirfd closed under the call", ret: -9, dirfd: 3, raw: "f", cwd: "/home/u", want: "f"},
		{name: "cwd not given", ret: 3, raw: "x//y", real: "/home/u/x/y", cwd: "/home/u", want: "/home/u/x/y", wantReal: "/home/u/x/y"},
		{name: "raw unreadable", ret: 3, real: "/etc/hosts", want: "/etc/hosts", wantReal: "/etc/hosts"},
		{name: "failed, relative", ret: -2, raw: "a/./b/../c", kdir: "/srv/d", cwd: "/elsewhere", want: "/srv/d/a/c"},
		{name: "failed, no dir from kernel", ret: -2, raw: "x//y", cwd: "/home/u", want: "/home/u/x/y"},
		{name: "failed, absolute", ret: -2, raw: "/etc/../etc//shadow", want: "/etc/shadow"},
		{name: "failed, dotdot above root", ret: -13, raw: "/../../x", want: "/x"},
		{name: "failed, nothing known", ret: -2, raw: "rel/p", want: "rel/p"},
		{name: "failed, truncated raw", ret: -2, rflags: openRawTrunc, raw: "t", kdir: "/", want: "/t", wantNameTrunc: true},
		{name: "truncated dir", ret: 3, rflags: openDirTrunc, raw: "t", real: "/deep/t", kdir: "/p", want: "/p/t", wantReal: "/deep/t", wantNameTrunc: true},
		{name: "truncated walk", ret: 3, rflags: openNameTrunc, raw: "/a/b", real: "/b", want: "/a/b", wantReal: "/b", wantRealPathTrunc: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirfd := tc.dirfd
			if dirfd == 0 {
				dirfd = -100
			}
			rec := bpf.VigilOpenRec{Hdr: hdr(recOpen), Ret: tc.ret, Syscall: sysOpenat, Dirfd: dirfd, Rflags: tc.rflags,
				RawLen: uint16(len(tc.raw)), NameLen: uint16(len(tc.real)), DirLen: uint16(len(tc.kdir))}
			r := decode(t, encode(t, rec, []byte(tc.raw), []byte(tc.real), []byte(tc.kdir)))
			tab := NewProcessTable(TableConfig{ProcRoot: t.TempDir()})
			tab.insert(&event.Process{PID: 100, Cwd: tc.cwd})
			tab.Apply(r)
			o := r.Event.Open
			if string(o.Name) != tc.want || string(o.RealPath) != tc.wantReal || string(o.Raw) != tc.raw || r.Event.Res != tc.ret {
				t.Errorf("got name %q realpath %q raw %q res %d, want name %q realpath %q", o.Name, o.RealPath, o.Raw, r.Event.Res,
					tc.want, tc.wantReal)
			}
			if o.NameTruncated != tc.wantNameTrunc || o.RealPathTruncated != tc.wantRealPathTrunc {
				t.Errorf("truncation flags: %+v", o)
			}
		})
	}
}

func TestDecodeOpenViaHook(t *testing.T) {
	name := []byte("/srv/data")
	rec := bpf.VigilOpenRec{Hdr: hdr(recOpen), Syscall: sysOpenat, Rflags: openViaHook | openNameTrunc, NameLen: uint16(len(name)), FileType: 0o40000}
	r := decode(t, encode(t, rec, name))
	o := r.Event.Open
	if !o.ViaHook || r.Event.Type != event.TypeOpenat || string(o.Name) != "/srv/data" || string(o.RealPath) != "/srv/data" || len(o.Raw) != 0 {
		t.Errorf("hook open: %+v", o)
	}
	if !o.NameTruncated || !o.RealPathTruncated {
		t.Errorf("hook open: a cut path is cut in both names: %+v", o)
	}
}

func TestDecodeExec(t *testing.T) {
	filename := []byte("/dev/fd/3")
	args := []byte("prog\x00-a\x00b c\x00")
	exe := []byte("/memfd:payload")
	cwd := []byte("/root")
	env := []byte("HOME=/root\x00LD_PRELOAD=/tmp/x.so\x00")
	root := []byte("/tmp/payload")
	rec := bpf.VigilExecRec{
		Hdr: hdr(recExec), Ppid: 1, Uid: 1000, Gid: 1001, Euid: 0, Loginuid: 1000, TtyMajor: 136, TtyMinor: 300,
		Flags:   execArgsTrunc | execExeMemfd | execExeDeleted | execCwdTrunc | execEnvTrunc | execExeUpper | execExeWritable | execInterp,
		Syscall: sysExecveat, FilenameLen: uint16(len(filename)), ArgsLen: uint16(len(args)),
		ExeLen: uint16(len(exe)), CwdLen: uint16(len(cwd)), EnvLen: uint16(len(env)), ExeRootLen: uint16(len(root)),
		CapInheritable: 0, CapPermitted: 1<<21 | 1<<1, CapEffective: 1 << 21,
		ExeIno: 4242, ExeCtimeNs: 1_700_000_000_000_000_000, ExeMtimeNs: 1_600_000_000_000_000_000,
		Vpid: 1, Vpgid: 1, Sid: 100,
	}
	copy(rec.Comm[:], "prog")
	r := decode(t, encode(t, rec, filename, args, exe, cwd, env, root))
	if r.Event.Type != event.TypeExecveat || r.Event.Res != 0 || string(r.Event.Exec.Filename) != "/dev/fd/3" {
		t.Errorf("event: %+v", r.Event)
	}
	want := ExecFacts{
		PPID: 1, UID: 1000, GID: 1001, EUID: 0, LoginUID: 1000, TTY: 136<<8 | 300&0xff | (300&^0xff)<<12,
		Comm: []byte("prog"), Args: args, ExePath: exe, Cwd: cwd,
		ArgsTruncated: true, CwdTruncated: true, ExeFromMemfd: true, ExeDeleted: true,
		Env: env, EnvTruncated: true, CapPermitted: 1<<21 | 1<<1, CapEffective: 1 << 21,
		VPID: 1, VPGID: 1, SID: 100, ExeIno: 4242, ExeCtime: 1_700_000_000_000_000_000, ExeMtime: 1_600_000_000_000_000_000,
		ExeUpperLayer: true, ExeWritable: true, Interp: true, ExeRootPath: root,
	}
	if !reflect.DeepEqual(r.Exec, want) {
		t.Errorf("facts:\n got %+v\nwant %+v", r.Exec, want)
	}

	tab := NewProcessTable(TableConfig{ProcRoot: t.TempDir()})
	tab.insert(&event.Process{PID: 1, Name: "init"})
	tab.Apply(r)
	p := r.Event.Proc
	if p.Name != "prog" || p.Exe != "prog" || p.Args != "-a b c" || p.Cmdline != "prog -a b c" || p.ExePath != "/memfd:payload" ||
		!p.ExeFromMemfd || p.ExeDeleted || !p.ArgsTruncated || p.Cwd != "/root" || p.Parent == nil || p.Parent.Name != "init" ||
		p.StartTime != r.Event.Time || p.CgroupID != 77 {
		t.Errorf("process: %+v", p)
	}
	if !p.ExecSeen || p.CapEffectiveNames != "CAP_SYS_ADMIN" || p.CapPermittedNames != "CAP_DAC_OVERRIDE CAP_SYS_ADMIN" ||
		p.CapInheritableNames != "" || p.SessionName != "prog" || p.VPID != 1 || !p.ExeUpperLayer || p.ExeLowerLayer ||
		p.Env != string(env) || !p.EnvTruncated {
		t.Errorf("exec facts: %+v", p)
	}
}

func TestDecodeExecFailed(t *testing.T) {
	filename := []byte("/nope")
	rec := bpf.VigilExecRec{Hdr: hdr(recExecFailed), Ret: -2, Ppid: 9, Syscall: 1, FilenameLen: uint16(len(filename)), ArgsLen: 99}
	r := decode(t, encode(t, rec, filename))
	if r.Event.Type != event.TypeExecve || r.Event.Res != -2 || string(r.Event.Exec.Filename) != "/nope" || r.Exec.PPID != 9 {
		t.Errorf("failed exec: %+v facts %+v", r.Event, r.Exec)
	}
}

func TestDecodeFork(t *testing.T) {
	r := decode(t, encode(t, bpf.VigilForkRec{Hdr: hdr(recFork), StartBootNs: 42, ParentTgid: 7, ParentTid: 8}))
	if r.Event.Type != event.TypeClone || r.Fork != (ForkFacts{ParentPID: 7, ParentTID: 8, StartTime: bootOff + 42}) {
		t.Errorf("fork: %+v %+v", r.Event, r.Fork)
	}
}

func TestDecodeConnect(t *testing.T) {
	v4 := func(a string) (b [16]byte) {
		ip := netip.MustParseAddr(a).As4()
		copy(b[:], ip[:])
		return b
	}
	v6 := func(a string) [16]byte { return netip.MustParseAddr(a).As16() }
	path := func(s string) (b [108]uint8) {
		copy(b[:], s)
		return b
	}
	for _, tc := range []struct {
		name string
		rec  bpf.VigilConnectRec
		want event.Connect
	}{{
		name: "tcp4",
		rec: bpf.VigilConnectRec{Ret: -115, Fd: 3, Family: event.AFInet, SaFamily: event.AFInet, SockType: 1, Proto: 6,
			Laddr: v4("127.0.0.1"), Lport: 40000, Raddr: v4("198.18.0.2"), Rport: 8080},
		want: event.Connect{FD: 3, Family: event.AFInet, SockType: 1, Proto: 6,
			Local: netip.MustParseAddrPort("127.0.0.1:40000"), Remote: netip.MustParseAddrPort("198.18.0.2:8080")},
	}, {
		name: "udp6, unbound local",
		rec:  bpf.VigilConnectRec{Fd: 4, Family: event.AFInet6, SaFamily: event.AFInet6, SockType: 2, Proto: 17, Raddr: v6("::1"), Rport: 53},
		want: event.Connect{FD: 4, Family: event.AFInet6, SockType: 2, Proto: 17, Remote: netip.MustParseAddrPort("[::1]:53")},
	}, {
		name: "unix path",
		rec:  bpf.VigilConnectRec{Fd: 5, Family: event.AFUnix, SaFamily: event.AFUnix, SockType: 1, UnixLen: 14, UnixPath: path("/run/x.sock\x00\x00\x00")},
		want: event.Connect{FD: 5, Family: event.AFUnix, SockType: 1, UnixPath: []byte("/run/x.sock")},
	}, {
		name: "unix abstract",
		rec:  bpf.VigilConnectRec{Fd: 6, Family: event.AFUnix, SaFamily: event.AFUnix, SockType: 2, UnixLen: 5, UnixPath: path("\x00ab\x00c")},
		want: event.Connect{FD: 6, Family: event.AFUnix, SockType: 2, UnixPath: []byte("@ab\x00c")},
	}, {
		name: "bad unix length is capped",
		rec:  bpf.VigilConnectRec{Family: event.AFUnix, SaFamily: event.AFUnix, UnixLen: 500, UnixPath: path("/p")},
		want: event.Connect{Family: event.AFUnix, UnixPath: []byte("/p")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.Hdr = hdr(recConnect)
			r := decode(t, encode(t, tc.rec))
			got := r.Event.Connect
			if got.UnixPath == nil && tc.want.UnixPath == nil {
				got.UnixPath = nil
			}
			if r.Event.Type != event.TypeConnect || r.Event.Res != tc.rec.Ret || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("connect:\n got %+v res %d\nwant %+v", got, r.Event.Res, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	open := encode(t, bpf.VigilOpenRec{Hdr: hdr(recOpen), RawLen: 2, NameLen: 2}, []byte("ab"), []byte("cd"))
	overrun := bytes.Clone(open)
	binary.LittleEndian.PutUint16(overrun[unsafe.Offsetof(bpf.VigilOpenRec{}.NameLen):], 3)
	unknown := encode(t, bpf.VigilExitRec{Hdr: hdr(99)})
	shortFixed := encode(t, hdr(recConnect))
	for _, tc := range []struct {
		name string
		raw  []byte
		want DecodeReason
	}{
		{"empty", nil, DecodeShort},
		{"short header", open[:hdrSize-1], DecodeShort},
		{"size larger than record", open[:len(open)-1], DecodeSize},
		{"size smaller than record", append(bytes.Clone(open), 0), DecodeSize},
		{"strings overrun", overrun, DecodeStrings},
		{"unknown type", unknown, DecodeUnknownType},
		{"fixed part missing", shortFixed, DecodeShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			var r Record
			r.Event.PID = 5
			err := d.Decode(tc.raw, &r)
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != tc.want {
				t.Fatalf("got %v, want reason %v", err, tc.want)
			}
			if r.Event.PID != 0 || r.Event.Type != event.TypeUnknown {
				t.Errorf("record not reset after error: %+v", r.Event)
			}
		})
	}
}

// TestDecodeMisaligned decodes a record whose bytes do not start on an
// 8-byte boundary, as a fuzzer or a caller's sub-slice may give.
func TestDecodeMisaligned(t *testing.T) {
	raw := encode(t, bpf.VigilOpenRec{Hdr: hdr(recOpen), Ret: 4, RawLen: 2}, []byte("/x"))
	buf := make([]byte, len(raw)+1)
	copy(buf[1:], raw)
	r := decode(t, buf[1:])
	if r.Event.Res != 4 || string(r.Event.Open.Raw) != "/x" {
		t.Errorf("misaligned: %+v", r.Event)
	}
}

// TestDecodeReuse checks that a reused Record keeps nothing of the last one.
func TestDecodeReuse(t *testing.T) {
	var d Decoder
	var r Record
	long := encode(t, bpf.VigilOpenRec{Hdr: hdr(recOpen), RawLen: 6, NameLen: 6, Rflags: openRawTrunc}, []byte("/aaaaa"), []byte("/bbbbb"))
	short := encode(t, bpf.VigilConnectRec{Hdr: hdr(recConnect), Family: event.AFUnix, SaFamily: event.AFUnix, UnixLen: 2, UnixPath: [108]uint8{'/', 'u'}})
	for _, raw := range [][]byte{long, short, long} {
		if err := d.Decode(raw, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Decode(short, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Event.Open.Name) != 0 || len(r.Event.Open.Raw) != 0 || r.Event.Open.RawTruncated || string(r.Event.Connect.UnixPath) != "/u" {
		t.Errorf("stale fields: %+v", r.Event)
	}
}

// TestDecodeReuseAllKinds decodes each kind's record into a Record that last
// held each other kind's, and compares with a fresh decode: Reset clears
// only the payload of the kind an event had, so no kind may leave anything
// behind for another.
func TestDecodeReuseAllKinds(t *testing.T) {
	recs := seedRecords(t)
	var d Decoder
	for i, a := range recs {
		for j, b := range recs {
			var r, fresh Record
			if err := d.Decode(a, &r); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if err := d.Decode(b, &r); err != nil {
				t.Fatalf("record %d after %d: %v", j, i, err)
			}
			if err := d.Decode(b, &fresh); err != nil {
				t.Fatal(err)
			}
			got, want := r.Event, fresh.Event
			emptyToNil(reflect.ValueOf(&got).Elem())
			emptyToNil(reflect.ValueOf(&want).Elem())
			if !reflect.DeepEqual(got, want) {
				t.Errorf("record %d decoded after record %d:\n got %+v\nwant %+v", j, i, got, want)
			}
		}
	}
}

// emptyToNil sets every empty byte slice below v to nil, so that a reused
// buffer compares equal to one never allocated.
func emptyToNil(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				emptyToNil(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// seedRecords is one record of each kind and shape, for the fuzzer's corpus
// and the reuse test.
func seedRecords(f testing.TB) [][]byte {
	return [][]byte{
		encode(f, bpf.VigilOpenRec{Hdr: hdr(recOpen), Ret: -2, RawLen: 2, DirLen: 2, Rflags: openDirTrunc}, []byte("ab"), []byte("/d")),
		encode(f, bpf.VigilOpenRec{Hdr: hdr(recOpen), Ret: 3, RawLen: 5, NameLen: 2, DirLen: 2}, []byte("../ab"), []byte("/x"), []byte("/d")),
		encode(f, bpf.VigilExecRec{Hdr: hdr(recExec), FilenameLen: 1, ArgsLen: 2, ExeLen: 1, CwdLen: 1, EnvLen: 4, CapEffective: 1 << 21, Sid: 1}, []byte("f"), []byte("a\x00"), []byte("e"), []byte("c"), []byte("A=b\x00")),
		encode(f, bpf.VigilExecRec{Hdr: hdr(recExecFailed), Ret: -2, FilenameLen: 1}, []byte("f")),
		encode(f, bpf.VigilConnectRec{Hdr: hdr(recConnect), Family: event.AFUnix, SaFamily: event.AFUnix, UnixLen: 1}),
		encode(f, bpf.VigilForkRec{Hdr: hdr(recFork)}),
		encode(f, bpf.VigilExitRec{Hdr: hdr(recExit)}),
		encode(f, bpf.VigilPrivRec{Hdr: hdr(recPriv), Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_PTRACE), Arg: [3]int64{16, 1}}),
		encode(f, bpf.VigilPrivRec{Hdr: hdr(recPriv), Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_SETUID), Uid: 1}),
		encode(f, bpf.VigilFsRec{Hdr: hdr(recFS), Raw1Len: 1, Dir1Len: 2, Raw2Len: 1, Dir2Len: 1}, []byte("a"), []byte("/d"), []byte("b"), []byte("/")),
		encode(f, bpf.VigilSocketRec{Hdr: hdr(recSocket), Domain: 17, Sock: bpf.VigilSockInfo{Family: 2}}),
		encode(f, bpf.VigilDupRec{Hdr: hdr(recDup), NameLen: 2, Sock: bpf.VigilSockInfo{Family: 10}}, []byte("/f")),
		// A connect with both ends, and an open with a long raw path.
		encode(f, bpf.VigilConnectRec{Hdr: hdr(recConnect), Family: event.AFInet, SaFamily: event.AFInet, Proto: event.ProtoTCP, Lport: 1, Rport: 2, Laddr: [16]uint8{10, 0, 0, 1}, Raddr: [16]uint8{10, 0, 0, 2}}),
		encode(f, bpf.VigilOpenRec{Hdr: hdr(recOpen), RawLen: 6, NameLen: 6, Rflags: openRawTrunc}, []byte("/aaaaa"), []byte("/bbbbb")),
		encode(f, bpf.VigilIouringRec{Hdr: hdr(recIOURingSetup), Ret: 3, SqEntries: 4, CqEntries: 8}),
		encode(f, bpf.VigilIouringRec{Hdr: hdr(recIOURingSubmit), Opcode: 35, Path1Len: 1, Dir1Len: 2, Path2Len: 2, Dir2Len: 1}, []byte("a"), []byte("/d"), []byte("/b"), []byte("/")),
		// An unconnected UDP sendto naming its peer, a connected TCP recvmsg.
		encode(f, bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: 3, Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_SENDTO), Rflags: srPeerArg | srNameChanged,
			Sock: bpf.VigilSockInfo{Family: event.AFInet, Proto: event.ProtoUDP, Lport: 1, Rport: 3333, Raddr: [16]uint8{203, 0, 113, 9}}}),
		encode(f, bpf.VigilSendrecvRec{Hdr: hdr(recSendRecv), Ret: 9, Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_RECVMSG), Rflags: srConnected,
			Sock: bpf.VigilSockInfo{Family: event.AFInet6, Proto: event.ProtoTCP, Lport: 80, Rport: 5000}}),
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range seedRecords(f) {
		f.Add(r)
	}
	tab := NewProcessTable(TableConfig{ProcRoot: f.TempDir(), MaxProcesses: 16})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var d Decoder
		var r Record
		if err := d.Decode(raw, &r); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason == 0 || de.Reason >= numDecodeReasons {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// Each string is a slice of the record, or (an open's name)
		// two of them joined by a slash.
		for _, n := range []int{len(r.Event.Open.Raw) + len(r.Event.Open.RealPath), len(r.Event.Open.Name) - 1,
			len(r.Event.Exec.Filename) + len(r.Exec.Args)} {
			if n > len(raw) {
				t.Fatalf("decoded %d string bytes from a %d-byte record", n, len(raw))
			}
		}
		tab.Apply(&r)
		if r.Event.Proc == nil {
			t.Fatal("Apply left Proc nil")
		}
		tab.Release(&r)
	})
}

func TestAppendJoin(t *testing.T) {
	for _, tc := range []struct{ dir, rel, want string }{
		{"/a/b", "c", "/a/b/c"},
		{"/a/b", "../c", "/a/c"},
		{"/a/b", "../../../c", "/c"},
		{"/", "c/", "/c"},
		{"/a", ".", "/a"},
		{"/a", "./..", "/"},
		{"/a//b/", "c//d/./e/..", "/a/b/c/d"},
		{"/a", "/abs/../x", "/x"},
		{"", "rel", "rel"},
		{"rel-dir", "x", "x"},
		{"/d", "..a/.b/...", "/d/..a/.b/..."},
		{"/d", "", "/d"},
	} {
		buf := []byte("keep:")
		got := appendJoin(buf, []byte(tc.dir), []byte(tc.rel))
		if string(got) != "keep:"+tc.want {
			t.Errorf("appendJoin(%q, %q) = %q, want %q", tc.dir, tc.rel, got[5:], tc.want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct{ argv, exe, args string }{
		{"sh\x00-c\x00echo hi\x00", "sh", "-c echo hi"},
		{"sh\x00", "sh", ""},
		{"", "", ""},
		{"a\x00b\x00tru", "a", "b tru"},
		{"a\x00\x00b\x00", "a", " b"},
	} {
		exe, args := splitArgs([]byte(tc.argv))
		if exe != tc.exe || args != tc.args {
			t.Errorf("splitArgs(%q) = %q, %q; want %q, %q", tc.argv, exe, args, tc.exe, tc.args)
		}
	}
}
