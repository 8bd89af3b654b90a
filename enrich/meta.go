package enrich

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-sensor/vigil/event"
)

// CRI labels that containerd's CRI plugin puts on Kubernetes containers.
const (
	LabelContainerName = "io.kubernetes.container.name"
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	// labelNerdctlName is the name nerdctl gives a container.
	labelNerdctlName = "nerdctl/name"
)

// ShortID is the 12-character form of a container id that Falco's
// container.id shows.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ParseImageRef splits an image reference into repository, tag and digest:
// "docker.io/library/nginx:1.25@sha256:ab..." gives "docker.io/library/nginx",
// "1.25" and "sha256:ab...". A registry port is not a tag. A reference with
// neither tag nor digest means the "latest" tag. A bare digest (what CRI
// records for images pulled by digest only) has no repository.
func ParseImageRef(ref string) (repo, tag, digest string) {
	if strings.HasPrefix(ref, "sha256:") {
		return "", "", ref
	}
	repo = ref
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		repo, digest = repo[:i], repo[i+1:]
	}
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo, tag = repo[:i], repo[i+1:]
	}
	if tag == "" && digest == "" && repo != "" {
		tag = "latest"
	}
	return repo, tag, digest
}

// specInfo is what enrichment reads from a container's OCI runtime spec.
type specInfo struct {
	// CgroupPath is the cgroup path the runtime creates (see
	// CgroupsPathToPath), empty when the spec sets none.
	CgroupPath string
	Privileged bool
	// Mounts are the spec's mounts, in order.
	Mounts []event.Mount
}

// ociSpec holds the parts of an OCI runtime spec enrichment needs.
type ociSpec struct {
	Process *struct {
		Capabilities *struct {
			Bounding []string `json:"bounding"`
		} `json:"capabilities"`
	} `json:"process"`
	Linux *struct {
		CgroupsPath string   `json:"cgroupsPath"`
		MaskedPaths []string `json:"maskedPaths"`
	} `json:"linux"`
	Mounts []struct {
		Destination string   `json:"destination"`
		Source      string   `json:"source"`
		Options     []string `json:"options"`
	} `json:"mounts"`
}

// maxMounts bounds the mounts kept of a spec, which the container's owner
// writes.
const maxMounts = 256

// parseSpec reads an OCI runtime spec (JSON, as containerd stores it).
// Privileged is what Docker's --privileged, CRI's privileged security
// context and ctr's --privileged all produce: no masked paths and the
// capabilities the runtime itself holds, which include CAP_SYS_ADMIN. The
// full list is no test, since it is only what the runtime may grant (a
// runtime in a sandbox without CAP_SYS_RESOURCE grants everything else); a
// container that only adds capabilities keeps its masked paths and is not
// privileged.
func parseSpec(data []byte) (specInfo, error) {
	var s ociSpec
	if err := json.Unmarshal(data, &s); err != nil {
		return specInfo{}, fmt.Errorf("decoding runtime spec: %w", err)
	}
	var info specInfo
	if s.Linux != nil {
		info.CgroupPath = CgroupsPathToPath(s.Linux.CgroupsPath)
	}
	for _, m := range s.Mounts[:min(len(s.Mounts), maxMounts)] {
		em := event.Mount{Source: m.Source, Dest: m.Destination, RW: !slices.Contains(m.Options, "ro")}
		for _, o := range m.Options {
			switch o {
			case "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable":
				em.Propagation = o
			}
		}
		info.Mounts = append(info.Mounts, em)
	}
	if s.Process == nil || s.Process.Capabilities == nil || (s.Linux != nil && len(s.Linux.MaskedPaths) > 0) {
		return info, nil
	}
	info.Privileged = slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
	return info, nil
}

// Bounds on what is read from a container's /etc/passwd (and likewise its
// /etc/group), which the container's owner controls: a few hundred KiB of
// users per container.
const (
	maxPasswdBytes = 256 << 10
	maxUsers       = 4096
)

// containerName is what Falco shows as container.name: the Kubernetes
// container name for CRI containers, nerdctl's name for nerdctl's, else
// the containerd id (Falco names plain containerd containers by their id).
func containerName(id string, labels map[string]string) string {
	if n := labels[LabelContainerName]; n != "" {
		return n
	}
	if n := labels[labelNerdctlName]; n != "" {
		return n
	}
	return id
}

// newContainer builds the immutable Container of a known containerd
// container. typ is the runtime type (containerd, or docker for Docker's
// containers seen through its containerd).
func newContainer(id, typ, namespace, image, imageDigest string, labels map[string]string, privileged bool, mounts []event.Mount,
	start int64, users, groups map[uint32]string) *event.Container {
	repo, tag, digest := ParseImageRef(image)
	if digest == "" {
		digest = imageDigest
	}
	return &event.Container{
		ID:              ShortID(id),
		FullID:          id,
		Type:            typ,
		Namespace:       namespace,
		Known:           true,
		Name:            containerName(id, labels),
		Image:           image,
		ImageRepository: repo,
		ImageTag:        tag,
		ImageDigest:     digest,
		Privileged:      privileged,
		Mounts:          mounts,
		Labels:          labels,
		PodName:         labels[LabelPodName],
		PodNamespace:    labels[LabelPodNamespace],
		PodUID:          labels[LabelPodUID],
		StartTime:       start,
		Users:           users,
		Groups:          groups,
	}
}
