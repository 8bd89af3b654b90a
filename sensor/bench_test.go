package sensor

import (
	"testing"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

func benchOpenRecord(b *testing.B) []byte {
	raw := []byte("lib/../etc/ld.so.cache")
	name := []byte("/etc/ld.so.cache")
	dir := []byte("/")
	return encode(b, bpf.VigilOpenRec{Hdr: hdr(recOpen), Ret: 3, Flags: 0o2000000, Syscall: sysOpenat, Dirfd: -100,
		FileType: 0o100000, RawLen: uint16(len(raw)), NameLen: uint16(len(name)), DirLen: uint16(len(dir))}, raw, name, dir)
}

func BenchmarkDecodeOpen(b *testing.B) {
	raw := benchOpenRecord(b)
	var d Decoder
	var r Record
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := d.Decode(raw, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeConnect(b *testing.B) {
	rec := bpf.VigilConnectRec{Hdr: hdr(recConnect), Fd: 3, Family: event.AFInet6, SaFamily: event.AFInet6, SockType: 1, Proto: 6, Lport: 4000, Rport: 443}
	rec.Raddr[15], rec.Laddr[15] = 1, 1
	raw := encode(b, rec)
	var d Decoder
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(raw, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBPFTarget decodes a bpf map update aimed at one of 20
// maps the sensor holds: the own-object check is a binary search.
func BenchmarkDecodeBPFTarget(b *testing.B) {
	raw := encode(b, bpf.VigilPrivRec{Hdr: hdr(recPriv), Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_BPF),
		Arg: [3]int64{2, event.BPFObjMap, 17}})
	d := Decoder{own: ownObjects{progs: []uint32{3, 4}}}
	for i := range 20 {
		d.own.maps = append(d.own.maps, uint32(i+5))
	}
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(raw, &r); err != nil || !r.Event.Priv.TargetVigil {
			b.Fatal(err, r.Event.Priv)
		}
	}
}

// BenchmarkTableLookup is the table's part of the hot path: an open from a
// known process, in a table of 10k processes.
func BenchmarkTableLookup(b *testing.B) {
	tab := NewProcessTable(TableConfig{ProcRoot: b.TempDir()})
	for pid := uint32(1); pid <= 10000; pid++ {
		tab.insert(&event.Process{PID: pid})
	}
	r := openRecord(4242)
	b.ReportAllocs()
	for b.Loop() {
		tab.Apply(r)
		tab.Release(r)
	}
	if r.Event.Proc == nil || r.Event.Proc.PID != 4242 {
		b.Fatal("lookup failed")
	}
}

// BenchmarkPipelineOpen is decode plus process table for an open record, as
// Run does it before the handler.
func BenchmarkPipelineOpen(b *testing.B) {
	raw := benchOpenRecord(b)
	tab := NewProcessTable(TableConfig{ProcRoot: b.TempDir()})
	tab.insert(&event.Process{PID: 100, Cwd: "/"})
	var d Decoder
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(raw, &r); err != nil {
			b.Fatal(err)
		}
		tab.Apply(&r)
		tab.Release(&r)
	}
}
