package enrich

import (
	"strings"
)

// Container types as Falco's container.type names them.
const (
	TypeContainerd = "containerd"
	TypeDocker     = "docker"
	TypeCRIO       = "cri-o"
	TypePodman     = "podman"
	// TypeCRI is a Kubernetes container whose runtime the cgroup path does
	// not tell (the cgroupfs driver names it by bare id).
	TypeCRI = "cri"
)

// Ref is what a cgroup path says about the container that owns it.
type Ref struct {
	// ID is the full container id.
	ID string
	// Type is the runtime the layout belongs to (TypeContainerd, ...).
	Type string
	// Namespace is the containerd namespace of the /<namespace>/<id> layout.
	Namespace string
	// PodUID is the Kubernetes pod uid of kubepods layouts.
	PodUID string
	// Weak is set for a /<namespace>/<name> path whose name is not a hex
	// id (what `ctr run` gives): it is a container only if containerd knows
	// one by that namespace and id, since host cgroups can look alike.
	Weak bool
}

// scopePrefixes are the systemd scope (and cgroupfs directory) names that
// runtimes give containers: <prefix><id>[.scope]. Monitor processes (conmon)
// live in scopes of their own next to the container's, on the host side.
var scopePrefixes = []struct{ prefix, typ string }{
	{"cri-containerd-", TypeContainerd},
	{"docker-", TypeDocker},
	{"crio-conmon-", ""},
	{"crio-", TypeCRIO},
	{"libpod-conmon-", ""},
	{"libpod-", TypePodman},
}

// ParseCgroupPath finds the container a cgroup path belongs to. It knows
// the layouts of containerd (/<namespace>/<id> with the cgroupfs driver, and
// cri-containerd-<id>.scope), Kubernetes (kubepods trees of both drivers,
// guaranteed, burstable and besteffort), Docker (docker-<id>.scope,
// /docker/<id>), CRI-O (crio-<id>.scope, /crio-<id>; conmon scopes are not
// containers) and Podman (libpod-<id>.scope, /libpod_parent/libpod-<id>),
// for cgroup v1 and v2 paths alike. The innermost container wins, so a
// process in a sub-cgroup of a container, or in a container nested in
// another (kind, Docker in Docker), maps to the inner one. ok is false for
// host cgroups.
func ParseCgroupPath(path string) (ref Ref, ok bool) {
	rest := strings.TrimRight(path, "/")
	for rest != "" {
		i := strings.LastIndexByte(rest, '/')
		comp := rest[i+1:]
		parent := ""
		if i > 0 {
			parent = rest[:i]
		}
		if r, found, host := parseComponent(comp, parent); host {
			return Ref{}, false
		} else if found {
			r.PodUID = podUID(parent)
			return r, true
		}
		if i < 0 {
			break
		}
		rest = parent
	}
	return weakRef(path)
}

// parseComponent recognises one path component as a container; parent is
// the path above it. host is set for runtime monitor cgroups (conmon),
// which are outside any container even though they name one.
func parseComponent(comp, parent string) (ref Ref, found, host bool) {
	name := strings.TrimSuffix(comp, ".scope")
	for _, p := range scopePrefixes {
		if id, ok := strings.CutPrefix(name, p.prefix); ok && isHexID(id) {
			if p.typ == "" {
				return Ref{}, false, true
			}
			return Ref{ID: id, Type: p.typ}, true, false
		}
	}
	// Some cgroup v1 hierarchies show the systemd driver's cgroupsPath
	// form, "<slice>:cri-containerd:<id>".
	if i := strings.LastIndex(comp, ":cri-containerd:"); i >= 0 {
		if id := comp[i+len(":cri-containerd:"):]; isHexID(id) {
			return Ref{ID: id, Type: TypeContainerd}, true, false
		}
	}
	if !isHexID(comp) {
		return Ref{}, false, false
	}
	// A bare id: the runtime is told by where it sits.
	pname := parent[strings.LastIndexByte(parent, '/')+1:]
	switch {
	case pname == "docker":
		return Ref{ID: comp, Type: TypeDocker}, true, false
	case strings.Contains(parent, "kubepods"):
		return Ref{ID: comp, Type: TypeCRI}, true, false
	case isNamespace(pname) && !isUnit(pname):
		return Ref{ID: comp, Type: TypeContainerd, Namespace: pname}, true, false
	}
	return Ref{ID: comp, Type: TypeContainerd}, true, false
}

// weakRef recognises /<namespace>/<id>, containerd's cgroupfs layout for
// containers with names rather than hex ids.
func weakRef(path string) (Ref, bool) {
	ns, id, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || !strings.HasPrefix(path, "/") || !isNamespace(ns) || !isIdentifier(id) ||
		isUnit(ns) || isUnit(id) || strings.HasPrefix(ns, "kubepods") {
		return Ref{}, false
	}
	return Ref{ID: id, Type: TypeContainerd, Namespace: ns, Weak: true}, true
}

// podUID finds the pod uid in a kubepods path: pod<uid> with the cgroupfs
// driver, kubepods[-<qos>]-pod<uid with _ for ->.slice with systemd's.
func podUID(path string) string {
	if !strings.Contains(path, "kubepods") {
		return ""
	}
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		comp := path[i+1:]
		if uid, ok := strings.CutPrefix(comp, "pod"); ok && isUUID(uid) {
			return uid
		}
		if name, ok := strings.CutSuffix(comp, ".slice"); ok {
			if j := strings.LastIndex(name, "-pod"); j >= 0 {
				if uid := strings.ReplaceAll(name[j+len("-pod"):], "_", "-"); isUUID(uid) {
					return uid
				}
			}
		}
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return ""
}

// isHexID reports whether s is a 64-hex-digit container id.
func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isUUID reports whether s looks like a Kubernetes uid (8-4-4-4-12 hex).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// isIdentifier reports whether s is a valid containerd identifier:
// alphanumeric runs joined by single '.', '_' or '-', at most 76 bytes.
func isIdentifier(s string) bool {
	if s == "" || len(s) > 76 {
		return false
	}
	sep := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			sep = false
		case c == '.' || c == '_' || c == '-':
			if sep {
				return false
			}
			sep = true
		default:
			return false
		}
	}
	return !sep
}

// isNamespace reports whether s can be a containerd namespace (an
// identifier, which is what containerd enforces).
func isNamespace(s string) bool { return isIdentifier(s) }

// isUnit reports whether s is a systemd unit name, which host cgroups
// (system.slice, user-1000.slice, ssh.service) are.
func isUnit(s string) bool {
	for _, suf := range []string{".slice", ".scope", ".service", ".socket", ".mount", ".target", ".swap"} {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}

// CgroupsPathToPath turns an OCI spec's linux.cgroupsPath into the cgroup
// path the runtime creates: cgroupfs paths are used as they are; the
// systemd driver's "<slice>:<prefix>:<name>" becomes the slice hierarchy
// (a-b-c.slice lives in /a.slice/a-b.slice/a-b-c.slice) with
// <prefix>-<name>.scope below it.
func CgroupsPathToPath(p string) string {
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return "/" + p
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	var b strings.Builder
	if slice == "" || slice == "-.slice" {
		slice = "system.slice"
	}
	if base, ok := strings.CutSuffix(slice, ".slice"); ok {
		// Each dash-separated prefix of the slice name is a parent slice.
		for i := 0; i < len(base); i++ {
			if base[i] == '-' {
				b.WriteString("/" + base[:i] + ".slice")
			}
		}
		b.WriteString("/" + slice)
	} else {
		b.WriteString("/" + slice)
	}
	if strings.HasSuffix(name, ".slice") {
		b.WriteString("/" + name)
	} else if prefix != "" {
		b.WriteString("/" + prefix + "-" + name + ".scope")
	} else {
		b.WriteString("/" + name + ".scope")
	}
	return b.String()
}
