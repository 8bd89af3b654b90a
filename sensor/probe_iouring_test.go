package sensor

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// iouringSpec builds a BTF spec with the io_uring tracepoints' typedefs as
// a kernel would have them: create with its five arguments, submit with
// the given ones.
func iouringSpec(t *testing.T, submit []btf.FuncParam, withCreate bool) *btf.Spec {
	t.Helper()
	u32 := &btf.Int{Name: "u32", Size: 4}
	ptr := &btf.Pointer{Target: &btf.Void{}}
	tp := func(name string, params []btf.FuncParam) btf.Type {
		params = append([]btf.FuncParam{{Name: "__data", Type: ptr}}, params...)
		return &btf.Typedef{Name: "btf_trace_" + name, Type: &btf.Pointer{Target: &btf.FuncProto{Return: &btf.Void{}, Params: params}}}
	}
	var types []btf.Type
	if withCreate {
		types = append(types, tp("io_uring_create", []btf.FuncParam{{Name: "fd", Type: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}},
			{Name: "ctx", Type: ptr}, {Name: "sq_entries", Type: u32}, {Name: "cq_entries", Type: u32}, {Name: "flags", Type: u32}}))
	}
	if submit != nil {
		types = append(types, tp("io_uring_submit_req", submit))
	}
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestProbeIOURing checks the prototypes the io_uring programs need: the
// 6.0+ io_uring_submit_req taking the request alone, beside
// io_uring_create; a kernel without them, or with the older
// io_uring_submit_sqe only, has the kind off with a reason naming the
// tracepoint.
func TestProbeIOURing(t *testing.T) {
	i32 := &btf.Int{Name: "int", Size: 4}
	var members []btf.Member
	for _, m := range []string{"opcode", "flags", "cqe", "ctx"} {
		members = append(members, btf.Member{Name: m, Type: i32})
	}
	// The command area is in an anonymous union with the file, as the
	// kernel lays it out.
	cmd := btf.Member{Type: &btf.Union{Size: 4, Members: []btf.Member{{Name: "file", Type: i32}, {Name: "cmd", Type: i32}}}}
	req := &btf.Pointer{Target: &btf.Struct{Name: "io_kiocb", Size: 4, Members: append([]btf.Member{cmd}, members...)}}
	// 5.19's request, before the command area.
	old := &btf.Pointer{Target: &btf.Struct{Name: "io_kiocb", Size: 4, Members: members}}
	for _, tc := range []struct {
		name   string
		spec   *btf.Spec
		reason string
	}{
		{"6.0 and later", iouringSpec(t, []btf.FuncParam{{Name: "req", Type: req}}, true), ""},
		{"no io_uring", iouringSpec(t, nil, false), "io_uring/io_uring_create"},
		{"submit_sqe only", iouringSpec(t, nil, true), "io_uring/io_uring_submit_req"},
		{"other arguments", iouringSpec(t, []btf.FuncParam{{Name: "ctx", Type: &btf.Pointer{Target: &btf.Void{}}}, {Name: "req", Type: req}}, true),
			"struct io_kiocb *"},
		{"no command area", iouringSpec(t, []btf.FuncParam{{Name: "req", Type: old}}, true), "no member cmd"},
	} {
		err := probeIOURingBTF(tc.spec)
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)):
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.reason)
		}
	}
}
