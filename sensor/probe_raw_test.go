package sensor

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// rawSpec builds a BTF spec with what probeRawSyscallsBTF looks for, as the
// kernels of each era have it.
func rawSpec(t *testing.T, sysExit, rdonlyCast, taskPtRegs bool) *btf.Spec {
	t.Helper()
	var types []btf.Type
	if sysExit {
		proto := &btf.FuncProto{Return: &btf.Void{}, Params: []btf.FuncParam{{Name: "__data", Type: &btf.Pointer{Target: &btf.Void{}}}}}
		types = append(types, &btf.Typedef{Name: "btf_trace_sys_exit", Type: &btf.Pointer{Target: proto}})
	}
	if rdonlyCast {
		proto := &btf.FuncProto{Return: &btf.Pointer{Target: &btf.Void{}}}
		types = append(types, &btf.Func{Name: "bpf_rdonly_cast", Type: proto, Linkage: btf.GlobalFunc})
	}
	ids := &btf.Enum{Name: "bpf_func_id", Size: 4, Values: []btf.EnumValue{{Name: "BPF_FUNC_unspec"}, {Name: "BPF_FUNC_get_current_task_btf", Value: 158}}}
	if taskPtRegs {
		ids.Values = append(ids.Values, btf.EnumValue{Name: "BPF_FUNC_task_pt_regs", Value: 175})
	}
	types = append(types, ids)
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

// TestProbeRawSyscalls: the raw sys_exit program runs wherever the kernel
// has the raw sys_exit tracepoint for tp_btf; bpf_rdonly_cast (6.2) picks
// its direct loads, and bpf_task_pt_regs (5.15) lets the file_open hook
// run beside it.
func TestProbeRawSyscalls(t *testing.T) {
	for _, tt := range []struct {
		name                            string
		sysExit, rdonlyCast, taskPtRegs bool
		want                            rawHooks
		err                             string
	}{
		{name: "6.2 and later", sysExit: true, rdonlyCast: true, taskPtRegs: true, want: rawHooks{direct: true, taskPtRegs: true}},
		{name: "5.15 to 6.1", sysExit: true, taskPtRegs: true, want: rawHooks{taskPtRegs: true}},
		{name: "5.8 to 5.14", sysExit: true, want: rawHooks{}},
		{name: "no raw sys_exit tracepoint", err: "lacks the raw sys_exit tracepoint"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := probeRawSyscallsBTF(rawSpec(t, tt.sysExit, tt.rdonlyCast, tt.taskPtRegs))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
