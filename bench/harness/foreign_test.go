package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestOwnProgramsFdinfo checks which programs a tracer holds, read from a
// /proc of its descriptors: a program's and a link's prog_id, none of a
// plain file, and those of its children, and that its programs are not
// another tracer's.
func TestOwnProgramsFdinfo(t *testing.T) {
	root := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("42/fdinfo/0", "pos:\t0\nflags:\t02\nmnt_id:\t25\nino:\t7\n")
	write("42/fdinfo/3", "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t1049\nprog_type:\t26\nprog_jited:\t1\n"+
		"prog_tag:\t8e7ba9c3d1a5c2e1\nmemlock:\t4096\nprog_id:\t7\nrun_time_ns:\t0\nrun_cnt:\t0\n")
	write("42/fdinfo/4", "pos:\t0\nflags:\t02000000\nmnt_id:\t16\nino:\t1049\nlink_type:\traw_tracepoint\nlink_id:\t3\n"+
		"prog_tag:\t8e7ba9c3d1a5c2e1\nprog_id:\t8\ntp_name:\tsys_exit\n")
	write("42/task/42/children", "43 ")
	write("42/task/44/children", "")
	write("43/fdinfo/5", "prog_id:\t9\n")
	write("43/task/43/children", "")
	own := ownPrograms{}
	if err := own.addProcess(root, 42); err != nil {
		t.Fatal(err)
	}
	var ids []ebpf.ProgramID
	for id := range own {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if want := []ebpf.ProgramID{7, 8, 9}; !slices.Equal(ids, want) {
		t.Errorf("own programs %v, want %v", ids, want)
	}
	progs := []loadedProgram{{7, "floor_sys_exit"}, {10, "sys_enter_openat"}, {9, "floor_exec"}, {11, "sched_process_exec"}}
	if got, want := own.foreign(progs), []string{"sys_enter_openat", "sched_process_exec"}; !slices.Equal(got, want) {
		t.Errorf("foreign %v, want %v", got, want)
	}
	if err := own.addProcess(root, 45); err == nil {
		t.Errorf("a tracer whose descriptors cannot be listed gave no error")
	}
	for _, tc := range []struct {
		fdinfo string
		id     ebpf.ProgramID
		ok     bool
	}{
		{"prog_id:\t12\n", 12, true},
		{"link_id:\t3\nprog_id: 13", 13, true},
		{"prog_id:\t0\n", 0, false},
		{"prog_id:\tx\n", 0, false},
		{"pos:\t0\n", 0, false},
	} {
		if id, ok := fdinfoProgID([]byte(tc.fdinfo)); id != tc.id || ok != tc.ok {
			t.Errorf("fdinfoProgID(%q) = %d, %v; want %d, %v", tc.fdinfo, id, ok, tc.id, tc.ok)
		}
	}
}

// TestOwnProgramsLoaded loads a tracing program in the test's own process,
// as a tracer does: the machine lists it, addProcess finds it in the
// process's descriptors, and foreignTracers does not count it.
func TestOwnProgramsLoaded(t *testing.T) {
	testutil.RequireRoot(t)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "harness_own", Type: ebpf.TracePoint, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Fatalf("loading a tracepoint program: %v", err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("the kernel gives no program ids")
	}
	progs, err := tracingPrograms()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(progs, loadedProgram{id, "harness_own"}) {
		t.Fatalf("program %d is not among the machine's tracing programs %v", id, progs)
	}
	own := ownPrograms{}
	if err := own.addProcess("/proc", os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if !own[id] {
		t.Fatalf("program %d not found in the process's descriptors: %v", id, own)
	}
	foreign, err := foreignTracers(context.Background(), 100*time.Millisecond, own)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(foreign, "harness_own") {
		t.Errorf("the process's own program counts as another tracer's: %v", foreign)
	}
}
