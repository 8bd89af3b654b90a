package enrich

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
		{"empty", []byte(`{}`), specInfo{}},
	}
	for _, tt := range tests {
		got, err := parseSpec(tt.spec)
		if err != nil || got != tt.want {
			t.Errorf("%s: parseSpec = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	if _, err := parseSpec([]byte(`{"process":`)); err == nil {
		t.Error("parseSpec accepted truncated JSON")
	}
}

func TestParsePasswd(t *testing.T) {
	in := "root:x:0:0:root:/root:/bin/sh\n" +
		"# comment\n" +
		"\n" +
		"vigil:x:1000:1000:Vigil User:/home/vigil:/bin/sh\n" +
		"dup:x:1000:1000::/:/bin/sh\n" + // first entry of a uid wins
		"short:x:5\n" + // malformed
		"neg:x:-1:0::/:/bin/sh\n" +
		"big:x:4294967296:0::/:/bin/sh\n" +
		"bad name:x:7:7::/:/bin/sh\n" +
		"esc\x1b[31m:x:8:8::/:/bin/sh\n" +
		strings.Repeat("n", maxUserName+1) + ":x:9:9::/:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false"
	got := parsePasswd(strings.NewReader(in))
	want := map[uint32]string{0: "root", 1000: "vigil", 65534: "nobody"}
	if !maps.Equal(got, want) {
		t.Errorf("parsePasswd = %v, want %v", got, want)
	}

	// Bounds: a huge file yields at most maxUsers entries and is not read
	// past maxPasswdBytes.
	var b strings.Builder
	for i := 0; b.Len() < 2*maxPasswdBytes; i++ {
		fmt.Fprintf(&b, "u%d:x:%d:%d::/:/bin/sh\n", i, i, i)
	}
	if n := len(parsePasswd(strings.NewReader(b.String()))); n > maxUsers || n == 0 {
		t.Errorf("parsePasswd of a huge file kept %d users, want 1..%d", n, maxUsers)
	}
	// A line longer than the scanner's buffer ends parsing, not the process.
	long := "a:x:1:1::/:/bin/sh\n" + strings.Repeat("x", 100<<10) + "\nb:x:2:2::/:/bin/sh\n"
	if got := parsePasswd(strings.NewReader(long)); got[1] != "a" {
		t.Errorf("parsePasswd with a long line = %v", got)
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
	c := newContainer(idA, TypeContainerd, "docker.io/library/nginx:1.25", "sha256:ab", map[string]string{
		LabelPodName: "web-0", LabelPodNamespace: "prod", LabelPodUID: podU,
	}, true, 42, nil)
	if c.ID != idA[:12] || c.FullID != idA || !c.Known || c.ImageRepository != "docker.io/library/nginx" ||
		c.ImageTag != "1.25" || c.ImageDigest != "sha256:ab" || c.PodName != "web-0" || c.PodNamespace != "prod" ||
		c.PodUID != podU || !c.Privileged || c.StartTime != 42 || c.Name != idA {
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
	t.Run("missing", func(t *testing.T) {
		proc, _ := fakeProc(t)
		if _, err := readUsers(proc, 42); err == nil {
			t.Error("readUsers without passwd succeeded")
		}
	})
}

func TestProcessStart(t *testing.T) {
	boot, err := bootTime("/proc")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	if boot <= 0 || boot > now {
		t.Fatalf("boot time %d not before now %d", boot, now)
	}
	start, err := processStart("/proc", uint32(os.Getpid()), boot)
	if err != nil {
		t.Fatal(err)
	}
	// The test binary started within the last hour and not in the future
	// (one tick of rounding allowed).
	if start > now+int64(10*time.Millisecond) || start < now-int64(time.Hour) {
		t.Errorf("process start %v, now %v", time.Unix(0, start), time.Unix(0, now))
	}
	// A command name with spaces and parentheses does not shift fields.
	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "7"), 0o755)
	stat := "7 (a) b (c) S 1 7 7 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 100"
	os.WriteFile(filepath.Join(proc, "7", "stat"), []byte(stat), 0o644)
	if got, err := processStart(proc, 7, 0); err != nil || got != 12345*int64(time.Second)/userHZ {
		t.Errorf("processStart = %d, %v", got, err)
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

// FuzzParsePasswd checks the bounds on any input.
func FuzzParsePasswd(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/sh\nvigil:x:1000:1000::/home/vigil:/bin/sh\n")
	f.Add("a:x:1\n::::\n#x:x:2:2::/:/\n")
	f.Fuzz(func(t *testing.T, in string) {
		users := parsePasswd(strings.NewReader(in))
		if len(users) > maxUsers {
			t.Fatalf("%d users", len(users))
		}
		for uid, name := range users {
			if !validName([]byte(name)) || !strings.Contains(in, name+":") {
				t.Fatalf("user %d = %q", uid, name)
			}
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
