package containerdtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/mountinfo"

	"golang.org/x/sys/unix"
)

// ContainerSpec says what container RunContainer starts.
type ContainerSpec struct {
	// ID is the containerd container id; a random 64-hex-digit id (what
	// CRI, nerdctl and Docker use) when empty.
	ID string
	// Namespace is the containerd namespace (the daemon's default if empty).
	Namespace string
	// Labels are set on the container (ctr run --label).
	Labels map[string]string
	// Privileged runs it with ctr run --privileged: all capabilities, no
	// seccomp, no masked paths.
	Privileged bool
	// Mounts are ctr run --mount specifications
	// ("type=bind,src=/proc,dst=/host/proc,options=rbind:ro").
	Mounts []string
	// Args is the command; a sleep of an hour when empty (a bound, so
	// containers left by a crashed test binary end by themselves).
	Args []string
}

// Container is a running container started by RunContainer.
type Container struct {
	ID, Namespace string
	// PID is the task's init process, as seen from the test.
	PID int
	// CgroupPath is the task's cgroup v2 path (relative to the cgroup2 mount)
	// and CgroupID that directory's inode number, which is what the kernel's
	// bpf_get_current_cgroup_id returns for its processes.
	CgroupPath string
	CgroupID   uint64

	d       *Daemon
	execs   atomic.Uint64
	removed atomic.Bool
}

// NewID returns a random 64-hex-digit container id.
func NewID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ImportImage imports the test image into namespace ns once.
func (d *Daemon) ImportImage(ctx context.Context, ns string) error {
	if ns == "" {
		ns = d.Namespace
	}
	d.importMu.Lock()
	defer d.importMu.Unlock()
	d.mu.Lock()
	done, snap := d.imported[ns], d.snapshotter
	d.mu.Unlock()
	if done {
		return nil
	}
	tarPath := filepath.Join(d.Dir, "image.tar")
	_, err := d.ctr(ctx, ns, "image", "import", "--snapshotter", snap, tarPath)
	if err != nil && snap == "overlayfs" {
		// overlay may be listed as usable and still fail to mount here
		// (an overlay or tmpfs upper directory): fall back to copies.
		snap = "native"
		_, err = d.ctr(ctx, ns, "image", "import", "--snapshotter", snap, tarPath)
	}
	if err != nil {
		return fmt.Errorf("importing test image: %w", err)
	}
	d.mu.Lock()
	d.imported[ns] = true
	d.snapshotter = snap
	d.mu.Unlock()
	return nil
}

// RunContainer starts a detached container of the test image and returns
// once its task runs, with its PID and cgroup. The caller removes it with
// Remove (Stop removes any left).
func (d *Daemon) RunContainer(ctx context.Context, spec ContainerSpec) (*Container, error) {
	if spec.Namespace == "" {
		spec.Namespace = d.Namespace
	}
	if spec.ID == "" {
		spec.ID = NewID()
	}
	if len(spec.Args) == 0 {
		spec.Args = []string{"sleep", "3600"}
	}
	if err := d.ImportImage(ctx, spec.Namespace); err != nil {
		return nil, err
	}
	args := []string{"run", "--detach", "--null-io", "--snapshotter", d.Snapshotter()}
	if spec.Privileged {
		args = append(args, "--privileged")
	}
	for _, m := range spec.Mounts {
		args = append(args, "--mount", m)
	}
	keys := make([]string, 0, len(spec.Labels))
	for k := range spec.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--label", k+"="+spec.Labels[k])
	}
	args = append(args, d.Image.Ref, spec.ID)
	args = append(args, spec.Args...)
	c := &Container{ID: spec.ID, Namespace: spec.Namespace, d: d}
	d.mu.Lock()
	d.containers[c] = struct{}{}
	d.mu.Unlock()
	if _, err := d.ctr(ctx, spec.Namespace, args...); err != nil {
		c.Remove(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("running container: %w", err)
	}
	pid, err := d.TaskPID(ctx, spec.Namespace, spec.ID)
	if err != nil {
		c.Remove(context.WithoutCancel(ctx))
		return nil, err
	}
	c.PID = pid
	c.CgroupPath, c.CgroupID, err = ProcessCgroup(pid)
	if err != nil {
		c.Remove(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

// MustRun is RunContainer for tests: it fails t on error and removes the
// container when t ends.
func (d *Daemon) MustRun(t testing.TB, spec ContainerSpec) *Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := d.RunContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Remove(ctx); err != nil {
			t.Error(err)
		}
	})
	return c
}

// TaskPID returns the PID of container id's task from `ctr task ls`.
func (d *Daemon) TaskPID(ctx context.Context, ns, id string) (int, error) {
	out, err := d.ctr(ctx, ns, "task", "ls")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil || pid <= 0 {
				return 0, fmt.Errorf("parsing task pid %q", f[1])
			}
			return pid, nil
		}
	}
	return 0, fmt.Errorf("finding task %s: not in ctr task ls: %s", id, out)
}

// Exec runs argv in the container as its default user (root) and returns
// the combined output. A non-zero exit is an error.
func (c *Container) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	return c.ExecAs(ctx, "", argv...)
}

// ExecAs runs argv in the container as user (a name from the image's
// /etc/passwd or a uid; the default user when empty).
func (c *Container) ExecAs(ctx context.Context, user string, argv ...string) ([]byte, error) {
	args := []string{"task", "exec", "--exec-id", fmt.Sprintf("vigil-exec-%d", c.execs.Add(1))}
	if user != "" {
		args = append(args, "--user", user)
	}
	args = append(args, c.ID)
	args = append(args, argv...)
	return c.d.ctr(ctx, c.Namespace, args...)
}

// Remove kills the container's task and deletes the task, the container and
// its snapshot. Safe to call twice.
func (c *Container) Remove(ctx context.Context) error {
	if c.removed.Swap(true) {
		return nil
	}
	d := c.d
	defer func() {
		d.mu.Lock()
		delete(d.containers, c)
		d.mu.Unlock()
	}()
	var errs []error
	if _, err := d.ctr(ctx, c.Namespace, "task", "delete", "--force", c.ID); err != nil && !notFound(err) {
		errs = append(errs, err)
	}
	if _, err := d.ctr(ctx, c.Namespace, "container", "delete", c.ID); err != nil && !notFound(err) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing container %s: %w", c.ID, err)
	}
	return nil
}

// notFound reports whether a ctr error says the object does not exist.
func notFound(err error) bool {
	return strings.Contains(err.Error(), "not found")
}

// ProcessCgroup returns the cgroup v2 path of process pid (from
// /proc/<pid>/cgroup) and the inode number of that cgroup's directory.
func ProcessCgroup(pid int) (path string, id uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", 0, fmt.Errorf("reading process cgroup: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path = p
		}
	}
	if path == "" {
		return "", 0, fmt.Errorf("process %d has no cgroup v2 path", pid)
	}
	mnt, err := Cgroup2Mount()
	if err != nil {
		return "", 0, err
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(mnt, path), &st); err != nil {
		return "", 0, fmt.Errorf("reading cgroup id: %w", err)
	}
	return path, st.Ino, nil
}

// Cgroup2Mount returns where the cgroup v2 hierarchy is mounted:
// /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones.
func Cgroup2Mount() (string, error) {
	mounts, err := mountinfo.Read("/proc")
	if err != nil {
		return "", err
	}
	if m, ok := mountinfo.Cgroup2(mounts); ok {
		return m.Point, nil
	}
	return "", errors.New("finding cgroup2 mount: none mounted")
}
