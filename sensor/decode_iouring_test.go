package sensor

import (
	"encoding/binary"
	"testing"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

func TestDecodeIOURing(t *testing.T) {
	if got := binary.Size(bpf.VigilIouringRec{}); got != iouringSize || iouringSize%8 != 0 {
		t.Errorf("packed size %d, decoder uses %d (string area must start 8-byte aligned)", got, iouringSize)
	}
	setup := decode(t, encode(t, bpf.VigilIouringRec{Hdr: hdr(recIOURingSetup), Ret: 5, Flags: 2, SqEntries: 4, CqEntries: 8, Fd1: -100, Fd2: -100}))
	if e := setup.Event; e.Type != event.TypeIOUringSetup || e.Res != 5 || e.IOUring.Flags != 2 || e.IOUring.SQEntries != 4 || e.IOUring.CQEntries != 8 {
		t.Errorf("setup: %+v", e)
	}
	for _, tc := range []struct {
		name                     string
		op                       uint16
		rflags                   uint16
		path1, dir1, path2, dir2 string
		want1, want2             string
	}{
		{name: "openat relative to the cwd", op: 18, path1: "../etc/shadow", dir1: "/tmp", want1: "/etc/shadow"},
		{name: "openat absolute", op: 18, path1: "/etc//shadow", want1: "/etc/shadow"},
		{name: "renameat joins both", op: 35, path1: "a", dir1: "/d", path2: "b", dir2: "/e", want1: "/d/a", want2: "/e/b"},
		{name: "symlinkat keeps its target", op: 38, path1: "../x", path2: "l", dir2: "/t", want1: "../x", want2: "/t/l"},
		{name: "connect has no path", op: 16, rflags: iouringSQThread | iouringFixedFile},
		{name: "truncated path", op: 36, rflags: iouringPath1Trunc, path1: "/a/b", want1: "/a/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := bpf.VigilIouringRec{Hdr: hdr(recIOURingSubmit), Opcode: tc.op, Rflags: tc.rflags, Fd1: 3, Fd2: -100, Flags: 0x80000, Mode: 0o644,
				Path1Len: uint16(len(tc.path1)), Dir1Len: uint16(len(tc.dir1)), Path2Len: uint16(len(tc.path2)), Dir2Len: uint16(len(tc.dir2))}
			r := decode(t, encode(t, rec, []byte(tc.path1), []byte(tc.dir1), []byte(tc.path2), []byte(tc.dir2)))
			u := r.Event.IOUring
			if r.Event.Type != event.TypeIOUringSubmit || u.Op != uint8(tc.op) || string(u.Path1) != tc.want1 || string(u.Path2) != tc.want2 {
				t.Errorf("got %v op %d paths %q %q, want %q %q", r.Event.Type, u.Op, u.Path1, u.Path2, tc.want1, tc.want2)
			}
			if u.FD1 != 3 || u.FD2 != -100 || u.Flags != 0x80000 || u.Mode != 0o644 || u.SQThread != (tc.rflags&iouringSQThread != 0) ||
				u.FixedFile != (tc.rflags&iouringFixedFile != 0) || u.Truncated1 != (tc.rflags&iouringPath1Trunc != 0) || u.Truncated2 {
				t.Errorf("fields: %+v", u)
			}
		})
	}
	// String lengths past the record are an error.
	bad := encode(t, bpf.VigilIouringRec{Hdr: hdr(recIOURingSubmit), Opcode: 18, Path1Len: 2}, []byte("/"))
	var d Decoder
	var r Record
	if err := d.Decode(bad, &r); err == nil {
		t.Error("decoded a record whose path overruns it")
	}
}

// TestDecodeIOURingAllocs checks that decoding io_uring records into a
// reused Record allocates nothing once its buffers have grown: they are on
// the hot path of every ring's reported requests.
func TestDecodeIOURingAllocs(t *testing.T) {
	setup := encode(t, bpf.VigilIouringRec{Hdr: hdr(recIOURingSetup), Ret: 3, SqEntries: 4, CqEntries: 8})
	submit := encode(t, bpf.VigilIouringRec{Hdr: hdr(recIOURingSubmit), Opcode: 35, Path1Len: 3, Dir1Len: 4, Path2Len: 1, Dir2Len: 4},
		[]byte("../"), []byte("/a/b"), []byte("c"), []byte("/tmp"))
	var d Decoder
	var r Record
	run := func() {
		for _, raw := range [][]byte{setup, submit} {
			if err := d.Decode(raw, &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per decode of a setup and a submit", n)
	}
	if u := r.Event.IOUring; string(u.Path1) != "/a" || string(u.Path2) != "/tmp/c" {
		t.Errorf("paths %q %q", u.Path1, u.Path2)
	}
}

func BenchmarkDecodeIOURing(b *testing.B) {
	raw := encode(b, bpf.VigilIouringRec{Hdr: hdr(recIOURingSubmit), Opcode: 18, Fd1: -100, Path1Len: 11}, []byte("/etc/shadow"))
	var d Decoder
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(raw, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIOURingFilterKeys checks the constants the kernel and the event
// package share for the io_uring kind's filter: the setup's key, within
// the keys a filter tells apart, and the rows of the syscalls table.
func TestIOURingFilterKeys(t *testing.T) {
	if int(bpf.VigilIouringFilterKeyVIGIL_IOURING_KEY_SETUP) != event.IOURingKeySetup || event.IOURingKeySetup >= maxFilterKeys {
		t.Errorf("setup key: kernel %d, Go %d, keys %d", bpf.VigilIouringFilterKeyVIGIL_IOURING_KEY_SETUP, event.IOURingKeySetup, maxFilterKeys)
	}
	rows := filterRows(event.KindIOUring)
	if len(rows) > int(bpf.VigilFilterBoundsVIGIL_FILTER_SYSCALLS) ||
		rows[bpf.VigilIouringFilterKeyVIGIL_IOURING_SYS_SETUP] != event.TypeIOUringSetup ||
		rows[bpf.VigilIouringFilterKeyVIGIL_IOURING_SYS_SUBMIT] != event.TypeIOUringSubmit {
		t.Errorf("io_uring filter rows: %v", rows)
	}
}
