package enrich

import (
	"encoding/json"
	"fmt"
	"github.com/vigil-sensor/vigil/event"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/procfs"

	"golang.org/x/sys/unix"
)

func TestParseImageRef(t *testing.T) {
	const dg = "sha256:4b1e3c0f9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
	tests := []struct{ ref, repo, tag, digest string }{
		{"docker.io/library/nginx:1.25", "docker.io/library/nginx", "1.25", ""},
		{"docker.io/library/nginx", "docker.io/library/nginx", "latest", ""},
		{"nginx", "nginx", "latest", ""},
		{"registry.k8s.io/kube-proxy:v1.30.1", "registry.k8s.io/kube-proxy", "v1.30.1", ""},
		{"localhost:5000/team/app", "localhost:5000/team/app", "latest", ""},
		{"localhost:5000/team/app:2", "localhost:5000/team/app", "2", ""},
		{"quay.io/app@" + dg, "quay.io/app", "", dg},
		{"quay.io/app:1.0@" + dg, "quay.io/app", "1.0", dg},
		{dg, "", "", dg},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		repo, tag, digest := ParseImageRef(tt.ref)
		if repo != tt.repo || tag != tt.tag || digest != tt.digest {
			t.Errorf("ParseImageRef(%q) = %q, %q, %q; want %q, %q, %q", tt.ref, repo, tag, digest, tt.repo, tt.tag, tt.digest)
		}
	}
}

// specJSON builds a runtime spec with the given bounding set, masked paths
// and cgroups path.
func specJSON(t *testing.T, caps, masked []string, cgroupsPath string) []byte {
	t.Helper()
	s := map[string]any{
		"process": map[string]any{"capabilities": map[string]any{"bounding": caps, "effective": caps}},
		"linux":   map[string]any{"cgroupsPath": cgroupsPath, "maskedPaths": masked},
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseSpec(t *testing.T) {
	all := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
		"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
		"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
		"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
		"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
		"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
		"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}
	without := func(caps []string, drop string) []string {
		return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return c == drop })
	}
	dflt := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE"}
	masked := []string{"/proc/kcore", "/proc/keys", "/sys/firmware"}
	tests := []struct {
		name string
		spec []byte
		want specInfo
	}{
		{"default container", specJSON(t, dflt, masked, "/default/web"), specInfo{CgroupPath: "/default/web"}},
		{"privileged", specJSON(t, all, nil, "/default/web"), specInfo{CgroupPath: "/default/web", Privileged: true}},
		{"privileged by a runtime without CAP_SYS_RESOURCE", specJSON(t, without(all, "CAP_SYS_RESOURCE"), nil, ""), specInfo{Privileged: true}},
		{"cap-add ALL keeps masked paths", specJSON(t, all, masked, ""), specInfo{}},
		{"unmasked without CAP_SYS_ADMIN", specJSON(t, without(all, "CAP_SYS_ADMIN"), nil, ""), specInfo{}},
		{"unmasked default caps", specJSON(t, dflt, nil, ""), specInfo{}},
		{"systemd cgroups path", specJSON(t, dflt, masked, "system.slice:docker:"+idA),
			specInfo{CgroupPath: "/system.slice/docker-" + idA + ".scope"}},
		{"no process", []byte(`{"linux":{"cgroupsPath":"/a/b"}}`), specInfo{CgroupPath: "/a/b"}},
		{"mounts", []byte(`{"mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid"]},` +
			`{"destination":"/host","type":"bind","source":"/etc","options":["rbind","ro","rprivate"]}]}`),
			specInfo{Mounts: []event.Mount{{Source: "proc", Dest: "/proc", RW: true}, {Source: "/etc", Dest: "/host", Propagation: "rprivate"}}}},
		{"empty", []byte(`{}`), specInfo{}},
	}
	for _, tt := range tests {
		got, err := parseSpec(tt.spec)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: parseSpec = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	if _, err := parseSpec([]byte(`{"process":`)); err == nil {
		t.Error("parseSpec accepted truncated JSON")
	}
}

func TestContainerName(t *testing.T) {
	if n := containerName(idA, map[string]string{LabelContainerName: "nginx", labelNerdctlName: "x"}); n != "nginx" {
		t.Errorf("CRI name = %q", n)
	}
	if n := containerName(idA, map[string]string{labelNerdctlName: "web"}); n != "web" {
		t.Errorf("nerdctl name = %q", n)
	}
	if n := containerName("redis", nil); n != "redis" {
		t.Errorf("plain containerd name = %q", n)
	}
	c := newContainer(idA, TypeContainerd, "default", "docker.io/library/nginx:1.25", "sha256:ab", map[string]string{
		LabelPodName: "web-0", LabelPodNamespace: "prod", LabelPodUID: podU,
	}, true, nil, 42, nil, nil)
	if c.ID != idA[:12] || c.FullID != idA || !c.Known || c.ImageRepository != "docker.io/library/nginx" ||
		c.ImageTag != "1.25" || c.ImageDigest != "sha256:ab" || c.PodName != "web-0" || c.PodNamespace != "prod" ||
		c.PodUID != podU || !c.Privileged || c.StartTime != 42 || c.Name != idA || c.Namespace != "default" {
		t.Errorf("newContainer = %+v", c)
	}
}

// fakeProc lays out procRoot/<pid>/root with an etc directory.
func fakeProc(t *testing.T) (procRoot, etc string) {
	t.Helper()
	procRoot = t.TempDir()
	etc = filepath.Join(procRoot, "42", "root", "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	return procRoot, etc
}

func TestReadUsers(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		proc, etc := fakeProc(t)
		os.WriteFile(filepath.Join(etc, "passwd"), []byte("root:x:0:0::/:/bin/sh\napp:x:10:10::/:/bin/sh\n"), 0o644)
		got, err := readUsers(proc, 42)
		if err != nil || !maps.Equal(got, map[uint32]string{0: "root", 10: "app"}) {
			t.Errorf("readUsers = %v, %v", got, err)
		}
	})
	t.Run("absolute symlink stays in the container", func(t *testing.T) {
		// /etc/passwd -> /etc/passwd.real must read the container's
		// passwd.real, never a host file of that name.
		proc, etc := fakeProc(t)
		os.WriteFile(filepath.Join(etc, "passwd.real"), []byte("inside:x:5:5::/:/bin/sh\n"), 0o644)
		os.Symlink("/etc/passwd.real", filepath.Join(etc, "passwd"))
		got, err := readUsers(proc, 42)
		if err != nil || !maps.Equal(got, map[uint32]string{5: "inside"}) {
			t.Errorf("readUsers = %v, %v", got, err)
		}
	})
	t.Run("dotdot symlink stays in the container", func(t *testing.T) {
		proc, etc := fakeProc(t)
		os.WriteFile(filepath.Join(proc, "42", "hostfile"), []byte("host:x:0:0::/:/bin/sh\n"), 0o644)
		os.Symlink("../../../hostfile", filepath.Join(etc, "passwd"))
		if got, err := readUsers(proc, 42); err == nil {
			t.Errorf("readUsers escaped the root: %v", got)
		}
	})
	t.Run("fifo does not block", func(t *testing.T) {
		proc, etc := fakeProc(t)
		if err := unix.Mkfifo(filepath.Join(etc, "passwd"), 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := readUsers(proc, 42); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Error("readUsers accepted a FIFO")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("readUsers blocked on a FIFO")
		}
	})
	t.Run("names and bounds", func(t *testing.T) {
		// Names follow procfs's rule (UTF-8 letters stay, escapes go);
		// past maxUsers the first users are kept.
		proc, etc := fakeProc(t)
		var b strings.Builder
		b.WriteString("josé:x:1:1::/:/bin/sh\nesc\x1b[2J:x:2:2::/:/bin/sh\n")
		for i := range maxUsers + 10 {
			fmt.Fprintf(&b, "u%d:x:%d:0::/:/bin/sh\n", i, 100+i)
		}
		os.WriteFile(filepath.Join(etc, "passwd"), []byte(b.String()), 0o644)
		got, err := readUsers(proc, 42)
		if err != nil || len(got) != maxUsers || got[1] != "josé" || got[2] != "" || got[100] != "u0" {
			t.Errorf("readUsers = %d users (1: %q, 2: %q, 100: %q), %v", len(got), got[1], got[2], got[100], err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		proc, _ := fakeProc(t)
		if _, err := readUsers(proc, 42); err == nil {
			t.Error("readUsers without passwd succeeded")
		}
	})
}

// TestTaskStart reads this process's start as a task's: on the boot clock
// the sensor uses, so it is before now and before the process's events.
func TestTaskStart(t *testing.T) {
	before := procfs.BootOffset()
	start, err := taskStart("/proc", uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	if start > now || start < now-int64(time.Hour) {
		t.Errorf("process start %v, now %v", time.Unix(0, start), time.Unix(0, now))
	}
	st, err := procfs.ReadStat("/proc", uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if off := start - st.StartBootNs(); time.Duration(off-before).Abs() > time.Millisecond {
		t.Errorf("offset %d, the boot clock's is %d", off, before)
	}
	if _, err := taskStart(t.TempDir(), 7); err == nil {
		t.Error("start of a missing task")
	}
}

// FuzzParseImageRef checks the split on any input: the repository is the
// reference's start, the tag holds no path, and nothing is invented but the
// implied "latest" tag.
func FuzzParseImageRef(f *testing.F) {
	for _, s := range []string{"nginx", "docker.io/library/nginx:1.25", "localhost:5000/a/b", "q.io/a:1@sha256:ab", "sha256:ab", "a@b@c", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		repo, tag, digest := ParseImageRef(ref)
		if !strings.HasPrefix(ref, repo) || strings.ContainsAny(tag, "/@") || strings.Contains(repo, "@") ||
			!strings.HasSuffix(ref, digest) || len(repo)+len(tag)+len(digest) > len(ref)+len("latest") {
			t.Fatalf("ParseImageRef(%q) = %q, %q, %q", ref, repo, tag, digest)
		}
	})
}

// FuzzParseSpec checks that no spec makes parseSpec panic, and that a
// privileged answer has its reasons.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`{"process":{"capabilities":{"bounding":["CAP_SYS_ADMIN"]}},"linux":{"cgroupsPath":"a:b:c"}}`))
	f.Add([]byte(`{"linux":{"maskedPaths":["/proc/kcore"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseSpec(data)
		if err == nil && info.Privileged && !strings.Contains(string(data), "CAP_SYS_ADMIN") {
			t.Fatalf("privileged without CAP_SYS_ADMIN: %s", data)
		}
	})
}
