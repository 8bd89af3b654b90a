package sensor

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
)

// fakeProc is a /proc look-alike in a temp dir, with a cgroup v2 root.
type fakeProc struct {
	t          *testing.T
	root, cgrp string
}

func newFakeProc(t *testing.T) *fakeProc {
	dir := t.TempDir()
	fp := &fakeProc{t: t, root: filepath.Join(dir, "proc"), cgrp: filepath.Join(dir, "cgroup")}
	for _, d := range []string{fp.root, filepath.Join(fp.cgrp, "svc", "app")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return fp
}

type fakeProcess struct {
	pid, ppid        uint32
	comm             string
	argv             string
	exe, cwd, cgroup string
	uid, euid, gid   uint32
	tty              uint32
	startTicks       uint64
	// capPrm, capEff: the CapPrm and CapEff lines of status (with CapInh
	// 0) when hasCaps.
	capPrm, capEff uint64
	hasCaps        bool
}

func (fp *fakeProc) add(p fakeProcess) {
	fp.t.Helper()
	dir := filepath.Join(fp.root, fmt.Sprint(p.pid))
	files := map[string]string{
		// Field 22 is starttime; the comm has a space and a parenthesis.
		"stat": fmt.Sprintf("%d (%s) S %d %d %d %d -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100\n",
			p.pid, p.comm, p.ppid, p.pid, p.pid, p.tty, p.startTicks),
		"status":   fmt.Sprintf("Name:\t%s\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n", p.comm, p.uid, p.euid, p.uid, p.uid, p.gid, p.gid, p.gid, p.gid),
		"cmdline":  p.argv,
		"loginuid": "1000",
		"cgroup":   "4:memory:/x\n0::" + p.cgroup + "\n",
	}
	if p.hasCaps {
		files["status"] += fmt.Sprintf("CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\n", 0, p.capPrm, p.capEff)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fp.t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			fp.t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"exe": p.exe, "cwd": p.cwd} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			fp.t.Fatal(err)
		}
	}
}

func (fp *fakeProc) table(max int) *ProcessTable {
	passwd := filepath.Join(fp.root, "..", "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0::/root:/bin/sh\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\nbad\n"), 0o644); err != nil {
		fp.t.Fatal(err)
	}
	group := filepath.Join(fp.root, "..", "group")
	if err := os.WriteFile(group, []byte("root:x:0:\nstaff:x:1000:alice\n"), 0o644); err != nil {
		fp.t.Fatal(err)
	}
	return NewProcessTable(TableConfig{MaxProcesses: max, ProcRoot: fp.root, CgroupRoot: fp.cgrp, Passwd: passwd, Group: group, BootOffset: 1e18})
}

func (fp *fakeProc) cgroupIno(path string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(fp.cgrp, path), &st); err != nil {
		fp.t.Fatal(err)
	}
	return st.Ino
}

func TestTableSeed(t *testing.T) {
	fp := newFakeProc(t)
	fp.add(fakeProcess{pid: 1, comm: "init", argv: "/sbin/init\x00", exe: "/usr/lib/systemd/systemd", cwd: "/", cgroup: "/"})
	fp.add(fakeProcess{pid: 50, ppid: 1, comm: "odd) name", argv: "/usr/bin/app\x00--flag\x00x y\x00", exe: "/opt/app (deleted)",
		cwd: "/srv", cgroup: "/svc/app", uid: 1000, euid: 0, gid: 1000, tty: 34816, startTicks: 250,
		capPrm: 1<<21 | 1<<12, capEff: 1 << 21, hasCaps: true})
	fp.add(fakeProcess{pid: 60, ppid: 50, comm: "payload", argv: "x\x00", exe: "/memfd:p (deleted)", cwd: "/", cgroup: "/svc"})
	tab := fp.table(0)
	if err := tab.Seed(); err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 3 {
		t.Fatalf("seeded %d processes, want 3", tab.Len())
	}
	p := tab.Lookup(50)
	want := event.Process{
		PID: 50, PPID: 1, Name: "odd) name", Exe: "/usr/bin/app", ExePath: "/opt/app", Args: "--flag x y",
		Cmdline: "odd) name --flag x y", Cwd: "/srv", UID: 1000, GID: 1000, EUID: 0, LoginUID: 1000, TTY: 34816,
		UserName: "alice", StartTime: 1e18 + 250*1e7, CgroupID: fp.cgroupIno("svc/app"), ExeDeleted: true,
		GroupName: "staff", LoginName: "alice", Parent: tab.Lookup(1),
		// The capability sets, from status: a process that was running
		// before vigil has them before its next exec.
		CapPermitted: 1<<21 | 1<<12, CapEffective: 1 << 21, CapsKnown: true,
		CapPermittedNames: "CAP_NET_ADMIN CAP_SYS_ADMIN", CapEffectiveNames: "CAP_SYS_ADMIN",
	}
	if p == nil || *p != want {
		t.Errorf("seeded process:\n got %+v\nwant %+v", p, want)
	}
	if m := tab.Lookup(60); m == nil || !m.ExeFromMemfd || m.ExeDeleted || m.ExePath != "/memfd:p" || m.Parent != p ||
		m.CapsKnown || m.CapEffectiveNames != "" {
		t.Errorf("memfd process: %+v", m)
	}
	if init := tab.Lookup(1); init.Parent != nil || init.UserName != "root" || init.CgroupID != fp.cgroupIno("") {
		t.Errorf("init: %+v", init)
	}

	// Seeding a table too small keeps the youngest processes.
	small := fp.table(2)
	if err := small.Seed(); err != nil {
		t.Fatal(err)
	}
	if small.Lookup(50) == nil || small.Lookup(1) != nil && small.Lookup(60) != nil || small.Evicted() != 1 {
		t.Errorf("bounded seed kept the wrong processes: len %d evicted %d", small.Len(), small.Evicted())
	}
}

func forkRecord(child, parent uint32) *Record {
	r := &Record{}
	r.Event = event.Event{Type: event.TypeClone, PID: child, TID: child, CgroupID: 9}
	r.Fork = ForkFacts{ParentPID: parent, ParentTID: parent, StartTime: 123}
	return r
}

func execRecord(pid, ppid uint32, comm string) *Record {
	r := &Record{}
	r.Event = event.Event{Type: event.TypeExecve, PID: pid, TID: pid, Time: 456, CgroupID: 9}
	r.Exec = ExecFacts{PPID: ppid, Comm: []byte(comm), Args: []byte(comm + "\x00arg\x00"), ExePath: []byte("/bin/" + comm), Cwd: []byte("/w"), UID: 1000}
	return r
}

func openRecord(pid uint32) *Record {
	r := &Record{}
	r.Event = event.Event{Type: event.TypeOpenat, PID: pid, TID: pid + 1, CgroupID: 9}
	return r
}

func exitRecord(pid uint32) *Record {
	r := &Record{}
	r.Event = event.Event{Type: event.TypeProcExit, PID: pid, TID: pid}
	return r
}

func TestTableForkExecExit(t *testing.T) {
	fp := newFakeProc(t)
	tab := fp.table(0)
	tab.insert(&event.Process{PID: 10, Name: "bash", Cwd: "/home"})

	fork := forkRecord(11, 10)
	tab.Apply(fork)
	child := fork.Event.Proc
	if child.PID != 11 || child.PPID != 10 || child.Name != "bash" || child.Parent != tab.Lookup(10) ||
		child.StartTime != 123 || child.CgroupID != 9 || child.Cwd != "/home" {
		t.Fatalf("forked child: %+v", child)
	}

	ex := execRecord(11, 10, "ls")
	tab.Apply(ex)
	img := ex.Event.Proc
	if img == child || img.Name != "ls" || img.Cmdline != "ls arg" || img.ExePath != "/bin/ls" || img.UserName != "alice" ||
		img.Parent != tab.Lookup(10) || img.StartTime != 456 {
		t.Fatalf("exec image: %+v", img)
	}
	if child.Name != "bash" {
		t.Errorf("exec changed the old Process value: %+v", child)
	}

	op := openRecord(11)
	tab.Apply(op)
	if op.Event.Proc != img {
		t.Errorf("open after exec: got %+v", op.Event.Proc)
	}

	exit := exitRecord(11)
	tab.Apply(exit)
	if exit.Event.Proc != img || tab.Lookup(11) != img {
		t.Fatal("exit event must carry the process, which stays until released")
	}
	tab.Release(exit)
	if tab.Lookup(11) != nil || tab.Len() != 1 {
		t.Errorf("exited process not freed: len %d", tab.Len())
	}
	if img.Parent.Ancestor(0) != tab.Lookup(10) {
		t.Error("ancestry broken")
	}
}

func TestTableMiss(t *testing.T) {
	fp := newFakeProc(t)
	fp.add(fakeProcess{pid: 1, comm: "init", argv: "init\x00", exe: "/init", cwd: "/", cgroup: "/"})
	fp.add(fakeProcess{pid: 70, ppid: 1, comm: "late", argv: "late\x00-v\x00", exe: "/bin/late", cwd: "/tmp", cgroup: "/svc"})
	tab := fp.table(0)

	r := openRecord(70)
	tab.Apply(r)
	p := r.Event.Proc
	if p.Name != "late" || p.Args != "-v" || p.Parent == nil || p.Parent.Name != "init" || tab.Misses() != 2 {
		t.Errorf("miss from /proc: %+v misses %d", p, tab.Misses())
	}
	tab.Apply(openRecord(70))
	if tab.Misses() != 2 {
		t.Errorf("second lookup missed again: %d", tab.Misses())
	}

	gone := openRecord(99)
	tab.Apply(gone)
	if gone.Event.Proc == nil || gone.Event.Proc.PID != 99 || gone.Event.Proc.CgroupID != 9 {
		t.Errorf("miss without /proc: %+v", gone.Event.Proc)
	}
}

func TestTableBound(t *testing.T) {
	tab := newFakeProc(t).table(3)
	for pid := uint32(1); pid <= 5; pid++ {
		tab.Apply(forkRecord(100+pid, 0))
	}
	if tab.Len() != 3 || tab.Evicted() != 2 {
		t.Fatalf("len %d evicted %d, want 3 and 2", tab.Len(), tab.Evicted())
	}
	for pid := uint32(101); pid <= 102; pid++ {
		if tab.Lookup(pid) != nil {
			t.Errorf("oldest entry %d not evicted", pid)
		}
	}
	// An exec replaces in place: it neither grows the table nor evicts.
	tab.Apply(execRecord(104, 0, "x"))
	if tab.Len() != 3 || tab.Evicted() != 2 || tab.Lookup(104).Name != "x" {
		t.Errorf("exec in a full table: len %d evicted %d", tab.Len(), tab.Evicted())
	}
	// Removing from the middle keeps the order list consistent.
	ex := exitRecord(104)
	tab.Apply(ex)
	tab.Release(ex)
	tab.Apply(forkRecord(200, 0))
	tab.Apply(forkRecord(201, 0))
	if tab.Lookup(103) != nil || tab.Lookup(105) == nil || tab.Lookup(201) == nil || tab.Len() != 3 {
		t.Errorf("after middle removal: len %d", tab.Len())
	}
}

func TestTablePidReuse(t *testing.T) {
	tab := newFakeProc(t).table(0)
	tab.Apply(forkRecord(20, 0))
	old := tab.Lookup(20)
	tab.Apply(forkRecord(20, 0))
	if tab.Lookup(20) == old || tab.Len() != 1 {
		t.Errorf("reused pid: len %d", tab.Len())
	}
	// The exit of the old incarnation, delivered late, must not free the new one.
	stale := exitRecord(20)
	stale.Event.Proc = old
	tab.Release(stale)
	if tab.Lookup(20) == nil {
		t.Error("stale exit freed the new process")
	}
}

func TestUserDBReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte("a:x:5:5::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := &userDB{path: path}
	now := time.Now()
	if got := u.name(5, now); got != "a" {
		t.Fatalf("name(5) = %q", got)
	}
	if err := os.WriteFile(path, []byte("b:x:5:5::/:/bin/sh\nc:x:6:6::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := u.name(5, now.Add(userRecheck/2)); got != "a" {
		t.Errorf("reloaded before the recheck interval: %q", got)
	}
	if got := u.name(6, now.Add(userRecheck)); got != "c" {
		t.Errorf("not reloaded after a change: %q", got)
	}
}

func TestFindCgroup2(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	mi := "22 1 0:21 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw\n"
	if err := os.WriteFile(filepath.Join(dir, "self", "mountinfo"), []byte(mi), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findCgroup2(dir); got != "/sys/fs/cgroup/uni fied" {
		t.Errorf("findCgroup2 = %q", got)
	}
	fs := procDir{}
	if got := fs.cgroupID([]byte("1:cpu:/\n0::/\n")); got != rootCgroupID {
		t.Errorf("unmounted v2, root cgroup: %d", got)
	}
}
