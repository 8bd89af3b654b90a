package sensor

import (
	"encoding/binary"
	"testing"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

func TestDecodePriv(t *testing.T) {
	if got := binary.Size(bpf.VigilPrivRec{}); got != privSize {
		t.Fatalf("priv_rec: packed size %d, decoder uses %d", got, privSize)
	}
	sys := func(id bpf.VigilSyscallId) uint16 { return uint16(id) }
	for _, tc := range []struct {
		name  string
		rec   bpf.VigilPrivRec
		want  event.Type
		field string
		value string
	}{
		{name: "ptrace attach", rec: bpf.VigilPrivRec{Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_PTRACE), Arg: [3]int64{16, 4242}},
			want: event.TypePtrace, field: "evt.arg.request", value: "PTRACE_ATTACH"},
		{name: "ptrace seize", rec: bpf.VigilPrivRec{Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_PTRACE), Arg: [3]int64{0x4206, 1}},
			want: event.TypePtrace, field: "evt.arg.request", value: "PTRACE_SEIZE"},
		{name: "bpf prog load", rec: bpf.VigilPrivRec{Ret: 5, Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_BPF), Arg: [3]int64{5}},
			want: event.TypeBpf, field: "evt.arg.cmd", value: "BPF_PROG_LOAD"},
		{name: "bpf map update target", rec: bpf.VigilPrivRec{Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_BPF), Arg: [3]int64{2, 1, 17}},
			want: event.TypeBpf, field: "bpf.target_type", value: "map"},
		{name: "bpf link detach target", rec: bpf.VigilPrivRec{Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_BPF), Arg: [3]int64{34, 3, 9}},
			want: event.TypeBpf, field: "bpf.target_type", value: "link"},
		{name: "unshare", rec: bpf.VigilPrivRec{Ret: -1, Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_UNSHARE), Arg: [3]int64{0x10020000}},
			want: event.TypeUnshare, field: "evt.arg.flags", value: "CLONE_NEWNS|CLONE_NEWUSER"},
		{name: "setns", rec: bpf.VigilPrivRec{Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_SETNS), Arg: [3]int64{3, 0x40000000}},
			want: event.TypeSetns, field: "evt.arg.nstype", value: "CLONE_NEWNET"},
		{name: "userfaultfd", rec: bpf.VigilPrivRec{Ret: 3, Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_USERFAULTFD), Arg: [3]int64{1 | 0o2000000}},
			want: event.TypeUserfaultfd, field: "evt.arg.flags", value: "O_CLOEXEC|UFFD_USER_MODE_ONLY"},
		{name: "finit_module", rec: bpf.VigilPrivRec{Ret: -9, Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_FINIT_MODULE), Arg: [3]int64{-1, 0}},
			want: event.TypeFinitModule, field: "evt.arg.flags", value: "0"},
		{name: "setresuid", rec: bpf.VigilPrivRec{Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_SETRESUID), Arg: [3]int64{-1, 4294967, -1}},
			want: event.TypeSetresuid, field: "evt.arg.euid", value: "4294967"},
		{name: "capset", rec: bpf.VigilPrivRec{Syscall: sys(bpf.VigilSyscallIdVIGIL_SYS_CAPSET), CapEffective: 1<<21 | 1<<16},
			want: event.TypeCapset, field: "evt.arg.cap_effective", value: "CAP_SYS_MODULE CAP_SYS_ADMIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.Hdr = hdr(recPriv)
			r := decode(t, encode(t, tc.rec))
			if r.Event.Type != tc.want || r.Event.Res != tc.rec.Ret || r.Event.Priv.Args != tc.rec.Arg {
				t.Fatalf("event %v res %d args %v, want %v", r.Event.Type, r.Event.Res, r.Event.Priv.Args, tc.want)
			}
			tab := NewProcessTable(TableConfig{ProcRoot: t.TempDir()})
			tab.insert(&event.Process{PID: 100, Name: "p"})
			tab.Apply(r)
			f, _ := event.LookupField(tc.field)
			if got, ok := f.Str(&r.Event, event.Arg{}); !ok || got != tc.value {
				t.Errorf("%s = %q, %v; want %q", tc.field, got, ok, tc.value)
			}
		})
	}
}

// TestDecodeBPFTargetVigil: the decoder marks a bpf command aimed at one of
// the sensor's own objects, by kind and id: map 7 is its own, program 7 and
// map 8 are not, and an unknown kind never is.
func TestDecodeBPFTargetVigil(t *testing.T) {
	d := Decoder{BootOffset: bootOff, own: ownObjects{maps: []uint32{5, 7}, progs: []uint32{3}, links: []uint32{2}}}
	for _, tc := range []struct {
		args [3]int64
		want bool
	}{
		{[3]int64{2, event.BPFObjMap, 7}, true},
		{[3]int64{2, event.BPFObjMap, 8}, false},
		{[3]int64{6, event.BPFObjProg, 7}, false},
		{[3]int64{6, event.BPFObjProg, 3}, true},
		{[3]int64{34, event.BPFObjLink, 2}, true},
		{[3]int64{2, 9, 7}, false},
		{[3]int64{2, event.BPFObjMap, -7}, false},
		{[3]int64{2, event.BPFObjMap, 1<<32 + 7}, false},
	} {
		raw := encode(t, bpf.VigilPrivRec{Hdr: hdr(recPriv), Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_BPF), Arg: tc.args})
		var r Record
		if err := d.Decode(raw, &r); err != nil {
			t.Fatal(err)
		}
		if r.Event.Priv.TargetVigil != tc.want {
			t.Errorf("args %v: TargetVigil %v, want %v", tc.args, r.Event.Priv.TargetVigil, tc.want)
		}
	}
}

// TestDecodeCredUpdatesProcess checks that a change of credentials reaches
// the process table: the event and the process's later events see the new
// uid and capabilities, the events before keep the old process.
func TestDecodeCredUpdatesProcess(t *testing.T) {
	rec := bpf.VigilPrivRec{Hdr: hdr(recPriv), Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_SETUID), Arg: [3]int64{65534},
		Uid: 65534, Gid: 65534, Euid: 65534, Egid: 65534, CapPermitted: 1 << 21}
	r := decode(t, encode(t, rec))
	tab := NewProcessTable(TableConfig{ProcRoot: t.TempDir()})
	old := &event.Process{PID: 100, Name: "p"}
	tab.insert(old)
	tab.Apply(r)
	p := r.Event.Proc
	if p == old || p.UID != 65534 || p.EUID != 65534 || !p.CapsKnown || p.CapPermittedNames != "CAP_SYS_ADMIN" || p.CapEffectiveNames != "" {
		t.Fatalf("process after setuid: %+v", p)
	}
	if old.UID != 0 || tab.Lookup(100) != p {
		t.Errorf("old process changed or table not updated: %+v", old)
	}
	// The same credentials again change nothing.
	r = decode(t, encode(t, rec))
	tab.Apply(r)
	if r.Event.Proc != p {
		t.Errorf("an unchanged setuid built a new process")
	}
}

func TestDecodePrivUnknownSyscall(t *testing.T) {
	var d Decoder
	var r Record
	raw := encode(t, bpf.VigilPrivRec{Hdr: hdr(recPriv), Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_OPENAT)})
	if err := d.Decode(raw, &r); err == nil {
		t.Fatalf("a priv record of openat decoded as %v", r.Event.Type)
	}
}
