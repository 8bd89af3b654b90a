package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/mountinfo"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// ruleBPFTampering is the default rule about writes to vigil's BPF objects.
const ruleBPFTampering = "Tampering with vigil's BPF Objects"

// agentMap opens the map named name that the agent with pid holds, as an
// attacker with bpftool would: by id, found through the agent's fds.
func agentMap(t *testing.T, pid int, name string) *ebpf.Map {
	t.Helper()
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fdinfo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "fdinfo", fd.Name()))
		if err != nil {
			continue
		}
		id := -1
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "map_id:"); ok {
				id, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		f.Close()
		if id < 0 {
			continue
		}
		m, err := ebpf.NewMapFromID(ebpf.MapID(id))
		if err != nil {
			continue
		}
		if info, err := m.Info(); err == nil && info.Name == name {
			return m
		}
		m.Close()
	}
	t.Fatalf("the agent (pid %d) holds no map named %s", pid, name)
	return nil
}

// mapID is the kernel's id of m.
func mapID(t *testing.T, m *ebpf.Map) ebpf.MapID {
	t.Helper()
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("the kernel gives no map ids")
	}
	return id
}

// TestTamperKindsMap: another process (this test, through cilium/ebpf)
// switches opens off in a running agent's kinds map. The default rule names
// the writer as the write happens; the agent's check reports it (a
// Critical internal record, the metric) and restores it: the credential
// rule fires again.
func TestTamperKindsMap(t *testing.T) {
	a := startAgent(t)
	kinds := agentMap(t, a.PID(), "kinds")
	defer kinds.Close()
	id := mapID(t, kinds)
	if err := kinds.Update(uint32(event.KindOpen), uint32(0), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	// The alert and the record come in either order.
	var rule, r agenttest.Line
	for rule.Rule == "" || r.Rule == "" {
		l := a.Expect(t, "the tampering alert and record", func(l agenttest.Line) bool {
			return l.Rule == ruleTampering || l.Rule == ruleBPFTampering
		})
		if l.Rule == ruleTampering {
			r = l
		} else {
			rule = l
		}
	}
	if agenttest.Int(rule.OutputFields["proc.pid"]) != int64(os.Getpid()) || rule.Priority != "Critical" ||
		rule.OutputFields["evt.arg.cmd"] != "BPF_MAP_UPDATE_ELEM" || rule.OutputFields["bpf.target_type"] != "map" ||
		agenttest.Int(rule.OutputFields["bpf.target_id"]) != int64(id) {
		t.Errorf("tampering alert: %s, want the writer pid %d and map id %d", rule.Output, os.Getpid(), id)
	}
	if r.Priority != "Critical" || r.Source != "internal" || agenttest.Int(r.OutputFields["kinds.open"]) != 0 {
		t.Errorf("tampering record: %+v", r)
	}
	var on uint32
	if err := kinds.Lookup(uint32(event.KindOpen), &on); err != nil || on != 1 {
		t.Errorf("kinds[open] = %d (%v) after the agent's check, want 1", on, err)
	}
	if n := a.Metrics(t).Get(t, "vigil_tampering_total"); n < 1 {
		t.Errorf("vigil_tampering_total = %v", n)
	}
	runCommand(t, "cat", "/etc/shadow")
	a.Expect(t, "the credential rule after the restore", func(r agenttest.Line) bool {
		return r.Rule == "Read Shadow or Sudoers File" && r.OutputFields["proc.cmdline"] == "cat /etc/shadow"
	})
}

// TestUncleanStop: an agent killed with SIGKILL leaves its pid in the lock
// file, and the next agent says so (log and a Critical internal record);
// after a clean stop the next one does not.
func TestUncleanStop(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "vigil.lock")
	killed := startAgent(t, "--lock-file", lock)
	pid := killed.PID()
	killed.Stop(t, syscall.SIGKILL, 10*time.Second)

	next := startAgent(t, "--lock-file", lock)
	r := next.Expect(t, "the unclean stop record", func(r agenttest.Line) bool { return r.Rule == ruleUncleanStop })
	if r.Priority != "Critical" || agenttest.Int(r.OutputFields["previous_pid"]) != int64(pid) {
		t.Errorf("unclean stop record: %+v, want previous_pid %d", r, pid)
	}
	if !strings.Contains(next.Stderr(), "ended without a clean stop") {
		t.Errorf("no log line about the unclean stop:\n%s", next.StderrTail(2000))
	}
	if e := next.Stop(t, syscall.SIGINT, 10*time.Second); e.Code != 0 {
		t.Fatalf("clean stop exited %d", e.Code)
	}

	after := startAgent(t, "--lock-file", lock)
	runCommand(t, "cat", "/etc/shadow")
	after.Expect(t, "an alert", func(r agenttest.Line) bool { return r.Rule == "Read Shadow or Sudoers File" })
	for _, l := range after.Alerts() {
		if l.Rule == ruleUncleanStop {
			t.Errorf("unclean stop reported after a clean stop: %+v", l)
		}
	}
}

// TestBindMountedTmpExec: a directory of /var/tmp bind-mounted elsewhere and a
// program run through it. proc.exepath names the other mount point, and
// proc.exepath_rootfs where the file lives: the temporary-directory rule
// fires. A program run through a bind mount of a directory that is not
// temporary does not raise it.
func TestBindMountedTmpExec(t *testing.T) {
	testutil.RequireRoot(t)
	tmp := tempDir(t, "/var/tmp")
	var st, root unix.Stat_t
	if err := unix.Stat(tmp, &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/", &root); err != nil {
		t.Fatal(err)
	}
	if st.Dev != root.Dev {
		t.Skip("/var/tmp is a file system of its own here: a bind mount of it is not traced back (README, threat model)")
	}
	mounts, err := mountinfo.Read("/proc")
	if err != nil {
		t.Fatal(err)
	}
	rootDir := "/"
	for _, m := range mounts {
		if m.Point == "/" {
			rootDir = m.Root // the last mount on / is the root
		}
	}
	if rootDir != "/" {
		// A root that is a directory of its file system (a container's,
		// or scripts/rehearse-fresh.sh's pivot_root into one).
		t.Skipf("the root mount is the directory %s of its file system: proc.exepath_rootfs does not apply there (README, threat model)", rootDir)
	}
	bind := func(src string) string {
		dst := tempDir(t, "/mnt")
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("bind-mounting %s: %v", src, err)
		}
		t.Cleanup(func() { unix.Unmount(dst, unix.MNT_DETACH) })
		return dst
	}
	copyFile(t, "/bin/true", filepath.Join(tmp, "payload"), 0o755)
	mnt := bind(tmp)
	other := tempDir(t, "/var/lib")
	copyFile(t, "/bin/true", filepath.Join(other, "tool"), 0o755)
	otherMnt := bind(other)

	a := startAgent(t)
	arg := "bind-" + randToken()
	runCommand(t, filepath.Join(otherMnt, "tool"), arg)
	runCommand(t, filepath.Join(mnt, "payload"), arg)
	r := a.Expect(t, "the temporary-directory alert", func(r agenttest.Line) bool {
		return r.Rule == "Execution from Temporary Directory" && strings.Contains(fmt.Sprint(r.OutputFields["proc.cmdline"]), arg)
	})
	if r.OutputFields["proc.exepath"] != filepath.Join(mnt, "payload") || r.OutputFields["proc.exepath_rootfs"] != filepath.Join(tmp, "payload") {
		t.Errorf("alert: %s, want exepath %s and its root path %s", r.Output, filepath.Join(mnt, "payload"), filepath.Join(tmp, "payload"))
	}
	for _, l := range a.Alerts() {
		if strings.Contains(fmt.Sprint(l.OutputFields["proc.cmdline"]), "tool "+arg) {
			t.Errorf("a program run through a bind mount of %s alerted: %s", other, l.Output)
		}
	}
}
