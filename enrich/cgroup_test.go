package enrich

import (
	"strings"
	"testing"
)

const (
	idA    = "3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
	idB    = "b0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9eaf"
	podU   = "8b3e6f2a-1c4d-4e5f-9a0b-1c2d3e4f5a6b"
	podSys = "8b3e6f2a_1c4d_4e5f_9a0b_1c2d3e4f5a6b"
)

func TestParseCgroupPath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want Ref
		ok   bool
	}{
		// Host cgroups.
		{"root", "/", Ref{}, false},
		{"empty", "", Ref{}, false},
		{"systemd service", "/system.slice/ssh.service", Ref{}, false},
		{"user session", "/user.slice/user-1000.slice/session-3.scope", Ref{}, false},
		{"user manager", "/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service", Ref{}, false},
		{"init scope", "/init.scope", Ref{}, false},
		{"kubepods slice alone", "/kubepods.slice/kubepods-burstable.slice", Ref{}, false},
		{"kubelet pod without container", "/kubepods/burstable/pod" + podU, Ref{}, false},
		{"short hex is no id", "/system.slice/docker-3f9a1c2b4d5e.scope", Ref{}, false},
		{"uppercase hex is no id", "/kubepods/burstable/pod" + podU + "/" + strings.ToUpper(idA), Ref{}, false},
		{"two components are only weak", "/docker/3f9a1c2b4d5e", Ref{ID: "3f9a1c2b4d5e", Type: TypeContainerd, Namespace: "docker", Weak: true}, true},
		{"deep non-container", "/a/b/c", Ref{}, false},
		{"one component", "/vigil", Ref{}, false},

		// containerd, cgroupfs driver (ctr, nerdctl): /<namespace>/<id>.
		{"containerd ns/hexid", "/default/" + idA, Ref{ID: idA, Type: TypeContainerd, Namespace: "default"}, true},
		{"containerd ns/hexid v1 line", "/k8s.io/" + idA, Ref{ID: idA, Type: TypeContainerd, Namespace: "k8s.io"}, true},
		{"containerd ns/name is weak", "/default/redis", Ref{ID: "redis", Type: TypeContainerd, Namespace: "default", Weak: true}, true},
		{"containerd ns/name dashes", "/vigil-test/web-1.a_b", Ref{ID: "web-1.a_b", Type: TypeContainerd, Namespace: "vigil-test", Weak: true}, true},
		{"weak needs exactly two components", "/default/redis/sub", Ref{}, false},
		{"weak rejects units", "/system.slice/cron.service", Ref{}, false},
		{"weak rejects unit namespace", "/machine.slice/vm1", Ref{}, false},
		{"weak rejects bad id", "/default/a..b", Ref{}, false},
		{"weak rejects kubepods", "/kubepods/besteffort", Ref{}, false},
		{"sub-cgroup of a hex container", "/default/" + idA + "/worker", Ref{ID: idA, Type: TypeContainerd, Namespace: "default"}, true},

		// CRI containerd, systemd driver, cgroup v2 and v1.
		{"cri-containerd burstable", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSys + ".slice/cri-containerd-" + idA + ".scope",
			Ref{ID: idA, Type: TypeContainerd, PodUID: podU}, true},
		{"cri-containerd besteffort", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podSys + ".slice/cri-containerd-" + idA + ".scope",
			Ref{ID: idA, Type: TypeContainerd, PodUID: podU}, true},
		{"cri-containerd guaranteed", "/kubepods.slice/kubepods-pod" + podSys + ".slice/cri-containerd-" + idA + ".scope",
			Ref{ID: idA, Type: TypeContainerd, PodUID: podU}, true},
		{"cri-containerd v1 cpuset colon form", "/kubepods-burstable-pod" + podSys + ".slice:cri-containerd:" + idA,
			Ref{ID: idA, Type: TypeContainerd}, true},
		{"cri-containerd outside kubepods", "/system.slice/cri-containerd-" + idA + ".scope", Ref{ID: idA, Type: TypeContainerd}, true},

		// Kubernetes, cgroupfs driver: the runtime is not in the path.
		{"kubepods cgroupfs burstable", "/kubepods/burstable/pod" + podU + "/" + idA, Ref{ID: idA, Type: TypeCRI, PodUID: podU}, true},
		{"kubepods cgroupfs besteffort", "/kubepods/besteffort/pod" + podU + "/" + idA, Ref{ID: idA, Type: TypeCRI, PodUID: podU}, true},
		{"kubepods cgroupfs guaranteed", "/kubepods/pod" + podU + "/" + idA, Ref{ID: idA, Type: TypeCRI, PodUID: podU}, true},

		// Docker.
		{"docker systemd", "/system.slice/docker-" + idA + ".scope", Ref{ID: idA, Type: TypeDocker}, true},
		{"docker cgroupfs", "/docker/" + idA, Ref{ID: idA, Type: TypeDocker}, true},
		{"docker cgroupfs sub-cgroup", "/docker/" + idA + "/init.scope", Ref{ID: idA, Type: TypeDocker}, true},
		{"docker in kubepods systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSys + ".slice/docker-" + idA + ".scope",
			Ref{ID: idA, Type: TypeDocker, PodUID: podU}, true},
		{"docker in docker", "/docker/" + idA + "/docker/" + idB, Ref{ID: idB, Type: TypeDocker}, true},

		// CRI-O: the container's scope, not conmon's.
		{"crio systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podSys + ".slice/crio-" + idA + ".scope",
			Ref{ID: idA, Type: TypeCRIO, PodUID: podU}, true},
		{"crio cgroupfs", "/kubepods/besteffort/pod" + podU + "/crio-" + idA, Ref{ID: idA, Type: TypeCRIO, PodUID: podU}, true},
		{"crio conmon systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podSys + ".slice/crio-conmon-" + idA + ".scope",
			Ref{}, false},
		{"crio conmon cgroupfs", "/kubepods/besteffort/pod" + podU + "/crio-conmon-" + idA, Ref{}, false},
		{"crio v1 container sub-cgroup", "/kubepods.slice/kubepods-pod" + podSys + ".slice/crio-" + idA + ".scope/container",
			Ref{ID: idA, Type: TypeCRIO, PodUID: podU}, true},

		// Podman.
		{"podman rootful systemd", "/machine.slice/libpod-" + idA + ".scope", Ref{ID: idA, Type: TypePodman}, true},
		{"podman rootful container sub-cgroup", "/machine.slice/libpod-" + idA + ".scope/container", Ref{ID: idA, Type: TypePodman}, true},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + idA + ".scope", Ref{ID: idA, Type: TypePodman}, true},
		{"podman cgroupfs", "/libpod_parent/libpod-" + idA, Ref{ID: idA, Type: TypePodman}, true},
		{"podman conmon", "/machine.slice/libpod-conmon-" + idA + ".scope", Ref{}, false},

		// Nesting: kind runs kubelet in a Docker container; the innermost wins.
		{"kind node pod", "/system.slice/docker-" + idB + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + podSys + ".slice/cri-containerd-" + idA + ".scope",
			Ref{ID: idA, Type: TypeContainerd, PodUID: podU}, true},
		{"kind node itself", "/system.slice/docker-" + idB + ".scope/system.slice/containerd.service", Ref{ID: idB, Type: TypeDocker}, true},
		{"trailing slash", "/docker/" + idA + "/", Ref{ID: idA, Type: TypeDocker}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCgroupPath(tt.path)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseCgroupPath(%q)\n got %+v, %v\nwant %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCgroupsPathToPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"/default/" + idA, "/default/" + idA},
		{"kubepods-burstable-pod" + podSys + ".slice:cri-containerd:" + idA,
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSys + ".slice/cri-containerd-" + idA + ".scope"},
		{"kubepods-pod" + podSys + ".slice:cri-containerd:" + idA,
			"/kubepods.slice/kubepods-pod" + podSys + ".slice/cri-containerd-" + idA + ".scope"},
		{"system.slice:docker:" + idA, "/system.slice/docker-" + idA + ".scope"},
		{":crio:" + idA, "/system.slice/crio-" + idA + ".scope"},
		{"machine.slice::" + idA, "/machine.slice/" + idA + ".scope"},
		{"user.slice:vigil:sub.slice", "/user.slice/sub.slice"},
		{"relative/path", "/relative/path"},
	}
	for _, tt := range tests {
		if got := CgroupsPathToPath(tt.in); got != tt.want {
			t.Errorf("CgroupsPathToPath(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
	// The expansion and the parser agree: a spec's systemd path parses to
	// the id it names.
	p := CgroupsPathToPath("kubepods-besteffort-pod" + podSys + ".slice:cri-containerd:" + idB)
	if ref, ok := ParseCgroupPath(p); !ok || ref.ID != idB || ref.PodUID != podU {
		t.Errorf("ParseCgroupPath(%q) = %+v, %v", p, ref, ok)
	}
}

func TestIdentifiers(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "default": true, "k8s.io": true, "a-b_c.d": true, "A1": true,
		"": false, "-a": false, "a-": false, "a--b": false, "a/b": false, "a b": false,
		strings.Repeat("a", 76): true, strings.Repeat("a", 77): false,
	} {
		if got := isIdentifier(s); got != want {
			t.Errorf("isIdentifier(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzParseCgroupPath checks the parser's invariants on any input: no
// panic, a found ref has an id that occurs in the path, a strong one a
// 64-hex id, a pod uid only from kubepods paths.
func FuzzParseCgroupPath(f *testing.F) {
	for _, s := range []string{
		"/", "/default/" + idA, "/default/redis", "/docker/" + idA + "/init.scope",
		"/kubepods/burstable/pod" + podU + "/" + idA,
		"/kubepods.slice/kubepods-pod" + podSys + ".slice/cri-containerd-" + idA + ".scope",
		"/x.slice:cri-containerd:" + idA, "/machine.slice/libpod-conmon-" + idA + ".scope",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		ref, ok := ParseCgroupPath(path)
		if !ok {
			if ref != (Ref{}) {
				t.Fatalf("not ok but ref %+v", ref)
			}
			return
		}
		if ref.ID == "" || !strings.Contains(path, ref.ID) || ref.Type == "" {
			t.Fatalf("ref %+v from %q", ref, path)
		}
		if !ref.Weak && !isHexID(ref.ID) {
			t.Fatalf("strong ref with id %q", ref.ID)
		}
		if ref.PodUID != "" && !strings.Contains(path, "kubepods") {
			t.Fatalf("pod uid from %q", path)
		}
	})
}
