// Package enrich tells which container an event came from. Events carry
// the cgroup v2 id of their task (bpf_get_current_cgroup_id: the inode
// number of the cgroup's directory); enrich maps that id to a cgroup path,
// the path to a container id by the layouts runtimes use (ParseCgroupPath),
// and the id to the container's metadata from containerd: name, image,
// labels, Kubernetes pod, privileged, start time and the users of its own
// /etc/passwd.
//
// The event path calls only Lookup, which reads an immutable snapshot
// through an atomic pointer: no lock, no syscall, no allocation on a hit. A
// miss returns at once and queues the id; Run's resolver goroutine resolves
// it (open_by_handle_at on the cgroup2 mount, or a walk of the hierarchy
// where file handles are not allowed), and publishes a new snapshot. The
// containerd client (plain gRPC on containerd's API, all namespaces) lists
// containers when it connects, follows the event stream (container
// create/update/delete, task start/delete), fetches containers it missed
// on demand, and reconnects with backoff when containerd restarts. While
// containerd is down, answers already cached stay, and new containers are
// known by id and runtime type (Known false) until it is back.
//
// A container's start time is its task's: the start of its first process,
// read from /proc on the boot clock the sensor stamps events with
// (internal/procfs), so no event of that process comes before it.
//
// Cache bounds: MaxEntries cgroup ids; ids of removed cgroups are pruned
// periodically and when containerd deletes a task. Failures never reach
// the event path; they are counted in Stats. containerd not running is no
// failure in itself (a host may have no containers): what is counted is a
// container it would describe seen while it cannot be reached.
package enrich
