package enrich

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
)

// known accepts a fully described container whose task details (users) are
// in as well.
func known(c *event.Container) bool { return c != nil && c.Known && c.Users != nil }

// TestContainerdMetadata runs labelled containers on a real containerd and
// checks what Lookup says of their cgroups.
func TestContainerdMetadata(t *testing.T) {
	d := containerd.Daemon(t)
	e, _ := startEnricher(t, Config{ContainerdSocket: d.Socket})
	const podUID = "5c1f2e3d-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
	before := time.Now().UnixNano()
	web := d.MustRun(t, containerdtest.ContainerSpec{
		Namespace: "k8s.io",
		Labels: map[string]string{
			LabelContainerName: "nginx",
			LabelPodName:       "web-7d4b9",
			LabelPodNamespace:  "shop",
			LabelPodUID:        podUID,
			"app":              "web",
		},
	})
	after := time.Now().UnixNano()

	c := waitFor(t, e, web.CgroupID, "CRI-labelled container", known)
	want := event.Container{
		ID: web.ID[:12], FullID: web.ID, Type: TypeContainerd, Namespace: "k8s.io", Known: true, Name: "nginx",
		Image: containerdtest.ImageRef, ImageRepository: "docker.io/vigil/busybox", ImageTag: "test",
		ImageDigest: d.Image.ManifestDigest, PodName: "web-7d4b9", PodNamespace: "shop", PodUID: podUID,
	}
	got := *c
	got.Labels, got.Users, got.Groups, got.Mounts, got.StartTime = nil, nil, nil, nil, 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("container\n got %+v\nwant %+v", got, want)
	}
	if c.Labels["app"] != "web" || c.Labels[LabelPodName] != "web-7d4b9" {
		t.Errorf("labels %v", c.Labels)
	}
	if c.Users[0] != "root" || c.Users[containerdtest.UserUID] != containerdtest.UserName || c.Users[65534] != "nobody" {
		t.Errorf("users %v", c.Users)
	}
	if len(c.Mounts) == 0 || c.Mounts[0] != (event.Mount{Source: "proc", Dest: "/proc", RW: true}) {
		t.Errorf("mounts %v", c.Mounts)
	}
	if c.Groups[0] != "root" || c.Groups[containerdtest.UserUID] != containerdtest.UserName || c.Groups[65534] != "nogroup" {
		t.Errorf("groups %v", c.Groups)
	}
	if c.StartTime < before-int64(time.Second) || c.StartTime > after+int64(time.Second) {
		t.Errorf("start time %v not within the run (%v .. %v)", time.Unix(0, c.StartTime), time.Unix(0, before), time.Unix(0, after))
	}
	if s := e.Stats(); !s.Connected || s.Connects != 1 || s.Containers < 1 {
		t.Errorf("stats %+v", s)
	}

	// Processes exec'd into the container share its cgroup, and so its
	// answer; the lookup of a known id is a hit.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := web.ExecAs(ctx, containerdtest.UserName, "cat", "/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "0::"+web.CgroupPath+"\n") {
		t.Errorf("exec'd process cgroup %q, want %s", out, web.CgroupPath)
	}
	hits := e.Stats().Hits
	if again := e.Lookup(web.CgroupID); again == nil || again.FullID != web.ID || !again.Known || e.Stats().Hits != hits+1 {
		t.Errorf("repeated lookup = %+v, not a hit on the same container", again)
	}

	priv := d.MustRun(t, containerdtest.ContainerSpec{Privileged: true})
	pc := waitFor(t, e, priv.CgroupID, "privileged container", known)
	if !pc.Privileged || c.Privileged {
		t.Errorf("privileged = %v for --privileged, %v for the plain one", pc.Privileged, c.Privileged)
	}
	if pc.Name != priv.ID || pc.PodName != "" {
		t.Errorf("plain containerd container named %q (pod %q), want its id", pc.Name, pc.PodName)
	}

	// A ctr-style name instead of a hex id: /<namespace>/<name> is only a
	// container because containerd says so.
	named := d.MustRun(t, containerdtest.ContainerSpec{ID: randName("vigil-web-")})
	nc := waitFor(t, e, named.CgroupID, "named container", known)
	if nc.Name != named.ID || nc.FullID != named.ID || nc.ID != ShortID(named.ID) {
		t.Errorf("named container = %+v", nc)
	}

	// The host stays the host.
	self, err := selfCgroupID()
	if err != nil {
		t.Fatal(err)
	}
	e.Lookup(self)
	waitUntil(t, e, "host cgroup resolved", func() bool { return e.Resolved(self) })
	if c := e.Lookup(self); c != nil {
		t.Errorf("host cgroup = %+v, want nil", c)
	}

	// A removed container's cgroup is forgotten (the task delete event
	// triggers a prune) and its containerd metadata dropped.
	n := e.Stats().Containers
	if err := priv.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, e, "removed container forgotten", func() bool {
		return !e.Resolved(priv.CgroupID) && e.Stats().Containers == n-1
	})
}

// TestContainerdRestart stops containerd under a running enricher and
// starts it again: cached answers stay, a container started before the
// enricher reconnected is known by id at once and fully after reconnecting.
func TestContainerdRestart(t *testing.T) {
	d := containerd.Daemon(t)
	// A long first backoff keeps the enricher disconnected for a while
	// after containerd is back, so the second container is surely started
	// while it is away.
	e, logs := startEnricher(t, Config{ContainerdSocket: d.Socket, ReconnectMin: 3 * time.Second, ReconnectMax: 6 * time.Second})
	logs.wait(t, "containerd connected")
	a := d.MustRun(t, containerdtest.ContainerSpec{Labels: map[string]string{LabelContainerName: "before"}})
	ca := waitFor(t, e, a.CgroupID, "container before restart", known)

	if err := d.StopDaemon(); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "containerd unavailable, retrying")
	waitUntil(t, e, "disconnected", func() bool { return !e.Stats().Connected })
	if c := e.Lookup(a.CgroupID); !reflect.DeepEqual(c, ca) {
		t.Errorf("cached answer changed while containerd is down:\n got %+v\nwant %+v", c, ca)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.StartDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	b := d.MustRun(t, containerdtest.ContainerSpec{Labels: map[string]string{LabelContainerName: "during"}})
	cb := waitFor(t, e, b.CgroupID, "container started while disconnected", func(c *event.Container) bool { return c != nil })
	if connected := e.Stats().Connected; !connected {
		if cb.Known || cb.FullID != b.ID || cb.ID != b.ID[:12] || cb.Type != TypeContainerd {
			t.Errorf("while disconnected: %+v, want the id with Known false", cb)
		}
	} else {
		t.Log("the enricher reconnected before the container started; the disconnected answer was not observed")
	}
	logs.wait(t, "containerd connected")
	cb = waitFor(t, e, b.CgroupID, "container named after reconnect", known)
	if cb.Name != "during" || cb.Users[containerdtest.UserUID] != containerdtest.UserName {
		t.Errorf("after reconnect: %+v", cb)
	}
	if c := e.Lookup(a.CgroupID); c == nil || !c.Known || c.Name != "before" || c.FullID != a.ID {
		t.Errorf("container from before the restart after reconnect: %+v", c)
	}
	if s := e.Stats(); s.Connects != 2 || !s.Connected {
		t.Errorf("stats %+v, want 2 connects", s)
	}
}

// selfCgroupID returns the cgroup v2 id of the test process.
func selfCgroupID() (uint64, error) {
	_, id, err := containerdtest.ProcessCgroup(os.Getpid())
	return id, err
}
