package event

// Container is what enrichment knows of the container a process runs in.
// Values are immutable once published: enrichment builds a new Container and
// swaps the pointer, so the event path reads them without locks.
type Container struct {
	// ID is the 12-character short id (container.id); FullID the whole id.
	ID, FullID string
	// Type is the runtime that manages it: containerd, cri-o, docker, podman.
	Type string
	// Namespace is the containerd namespace the container lives in (k8s.io
	// for Kubernetes, moby for Docker), empty when the runtime is not
	// containerd; response actions get it to act on the container.
	Namespace string
	// Known is false until the runtime answered for this id; until then only
	// ID, FullID and Type are set and the other fields read as missing.
	Known bool
	Name  string
	// Image is the image reference as the container was created with it;
	// the three parts below are parsed from it (and the resolved digest).
	Image, ImageRepository, ImageTag, ImageDigest string
	Privileged                                    bool
	Labels                                        map[string]string
	// Kubernetes identity, from the CRI labels when present.
	PodName, PodNamespace, PodUID string
	// StartTime is the container's start in ns since the Unix epoch, 0 if unknown.
	StartTime int64
	// Users maps uids to names from the container's own /etc/passwd,
	// Groups gids to names from its /etc/group.
	Users, Groups map[uint32]string
	// Mounts are the mounts of the container's runtime spec, in order.
	Mounts []Mount
}
