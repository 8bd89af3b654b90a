package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/task"
	"github.com/vigil-sensor/vigil/event"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// namespaceHeader is the gRPC metadata key that selects the containerd
// namespace of a call.
const namespaceHeader = "containerd-namespace"

// dockerNamespace is where Docker keeps its containers in containerd.
const dockerNamespace = "moby"

// key names a containerd container: ids are unique per namespace.
type key struct{ ns, id string }

// containerMeta is what the containerd client knows of one container. It
// lives in the client goroutine, survives reconnects, and is published to
// the resolver as a containerView with an immutable Container.
type containerMeta struct {
	key
	image, digest string
	labels        map[string]string
	privileged    bool
	mounts        []event.Mount
	cgroupPath    string
	created       int64
	// pid, start and users come from the task; pid is 0 when none runs.
	// start is the task's first process's, 0 when /proc no longer had it.
	pid   uint32
	start int64
	users map[uint32]string
	// groups come from the task's /etc/group, like users.
	groups map[uint32]string
}

// view builds the immutable view the resolver publishes. A container
// whose task start is unknown shows its creation, which came before any of
// its processes: container.duration may then be long, never negative.
func (m *containerMeta) view() containerView {
	typ := TypeContainerd
	if m.ns == dockerNamespace {
		typ = TypeDocker
	}
	start := m.start
	if start == 0 {
		start = m.created
	}
	return containerView{
		key:        m.key,
		cgroupPath: m.cgroupPath,
		c:          newContainer(m.id, typ, m.ns, m.image, m.digest, m.labels, m.privileged, m.mounts, start, m.users, m.groups),
	}
}

// client is the containerd side of the enricher: one per Run, with a new
// gRPC connection per session.
type client struct {
	e       *Enricher
	metas   map[key]*containerMeta
	digests map[key]string // (namespace, image) -> target digest

	containers containersapi.ContainersClient
	tasks      tasksapi.TasksClient
	images     imagesapi.ImagesClient
	namespaces namespacesapi.NamespacesClient
	events     eventsapi.EventsClient
	nsList     []string
}

// maxDigests bounds the image digest cache; it is cleared when full.
const maxDigests = 1024

// containerdLoop keeps a session with containerd open, reconnecting with
// exponential backoff, until ctx ends.
func (e *Enricher) containerdLoop(ctx context.Context) {
	c := &client{e: e, metas: map[key]*containerMeta{}, digests: map[key]string{}}
	backoff := e.cfg.ReconnectMin
	down := false
	for {
		began := time.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if !sessionLost(err) {
			// containerd answered, and wrongly: a failure. A daemon that
			// is not there (or went away) is an outage, told by Connected
			// and the log, and counted by what it leaves undescribed.
			e.failures.Add(1)
		}
		if time.Since(began) > e.cfg.ReconnectMax {
			// The session was up for a while: this is a new outage.
			backoff = e.cfg.ReconnectMin
			down = false
		}
		if !e.unreachable.Swap(true) {
			// The resolver counts the containers it already has; those
			// it resolves from now on it counts as they come.
			if c.send(ctx, update{kind: updateConn}) != nil {
				return
			}
		}
		if !down {
			// One line per outage: a warning when containerd was there
			// before, news when it never was (a host without it).
			level := slog.LevelInfo
			if e.connects.Load() > 0 {
				level = slog.LevelWarn
			}
			e.log.Log(ctx, level, "containerd unavailable, retrying", "socket", e.cfg.ContainerdSocket, "err", err)
			down = true
		} else {
			e.log.Debug("containerd still unavailable", "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, e.cfg.ReconnectMax)
	}
}

// session connects, subscribes to events, lists every namespace's
// containers and then follows the event stream until it breaks.
func (c *client) session(ctx context.Context) error {
	e := c.e
	conn, err := grpc.NewClient("unix:"+e.cfg.ContainerdSocket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return fmt.Errorf("creating containerd client: %w", err)
	}
	defer conn.Close()
	// The receiver goroutine ends when ctx is cancelled; wait for it so no
	// goroutine outlives Run.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.containers = containersapi.NewContainersClient(conn)
	c.tasks = tasksapi.NewTasksClient(conn)
	c.images = imagesapi.NewImagesClient(conn)
	c.namespaces = namespacesapi.NewNamespacesClient(conn)
	c.events = eventsapi.NewEventsClient(conn)

	// Subscribe before listing, so a container created in between is seen
	// by one or the other; ids resolved meanwhile are fetched on demand.
	stream, err := c.events.Subscribe(ctx, &eventsapi.SubscribeRequest{})
	if err != nil {
		return fmt.Errorf("subscribing to containerd events: %w", err)
	}
	if err := c.sync(ctx); err != nil {
		return err
	}
	e.connected.Store(true)
	e.unreachable.Store(false)
	e.connects.Add(1)
	defer func() {
		e.connected.Store(false)
		// Best effort: the resolver may be gone when Run ends.
		select {
		case e.updates <- update{kind: updateConn}:
		default:
		}
	}()
	if err := c.send(ctx, update{kind: updateConn}); err != nil {
		return err
	}
	e.log.Info("containerd connected", "socket", e.cfg.ContainerdSocket,
		"namespaces", len(c.nsList), "containers", len(c.metas))

	envs := make(chan *types.Envelope, 64)
	recvErr := make(chan error, 1)
	wg.Go(func() {
		for {
			env, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case envs <- env:
			case <-ctx.Done():
				return
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("stream closed: %w", err)
			}
			return fmt.Errorf("receiving containerd events: %w", err)
		case env := <-envs:
			if err := c.handle(ctx, env); err != nil {
				if isUnavailable(err) {
					return err
				}
				e.failures.Add(1)
				e.log.Debug("handling containerd event", "topic", env.GetTopic(), "err", err)
			}
		case k := <-e.fetch:
			if err := c.fetch(ctx, k); err != nil {
				if isUnavailable(err) {
					return err
				}
				e.failures.Add(1)
				e.log.Debug("fetching container", "namespace", k.ns, "id", k.id, "err", err)
			}
		}
	}
}

// isUnavailable reports whether err means the connection is gone, which
// ends the session, rather than a failure of one call.
func isUnavailable(err error) bool {
	return status.Code(err) == codes.Unavailable || errors.Is(err, context.Canceled)
}

// sessionLost reports whether a session ended because containerd is not
// there or went away (its socket refuses, the connection or event stream
// closed), rather than because containerd failed a call.
func sessionLost(err error) bool {
	return isUnavailable(err) || errors.Is(err, io.EOF)
}

// nsCtx returns ctx with the call timeout and containerd namespace ns.
func (c *client) nsCtx(ctx context.Context, ns string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.e.cfg.RPCTimeout)
	if ns != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, namespaceHeader, ns)
	}
	return ctx, cancel
}

// sync lists every namespace's containers and tasks and hands the whole set
// to the resolver, which drops containers that went away while
// disconnected.
func (c *client) sync(ctx context.Context) error {
	cctx, cancel := c.nsCtx(ctx, "")
	resp, err := c.namespaces.List(cctx, &namespacesapi.ListNamespacesRequest{})
	cancel()
	if err != nil {
		return fmt.Errorf("listing containerd namespaces: %w", err)
	}
	c.nsList = c.nsList[:0]
	seen := map[key]*containerMeta{}
	for _, n := range resp.GetNamespaces() {
		ns := n.GetName()
		c.nsList = append(c.nsList, ns)
		cs, err := c.listContainers(ctx, ns)
		if err != nil {
			return err
		}
		for _, ci := range cs {
			m, err := c.readMeta(ctx, ns, ci)
			if err != nil {
				c.e.failures.Add(1)
				c.e.log.Debug("reading container", "namespace", ns, "id", ci.GetID(), "err", err)
				continue
			}
			seen[m.key] = m
		}
		tctx, cancel := c.nsCtx(ctx, ns)
		tl, err := c.tasks.List(tctx, &tasksapi.ListTasksRequest{})
		cancel()
		if err != nil {
			return fmt.Errorf("listing tasks in %s: %w", ns, err)
		}
		running := map[string]uint32{}
		for _, p := range tl.GetTasks() {
			id := p.GetContainerID()
			if id == "" {
				id = p.GetID()
			}
			if p.GetStatus() == task.Status_RUNNING {
				running[id] = p.GetPid()
			}
		}
		for k, m := range seen {
			if k.ns != ns {
				continue
			}
			if pid, ok := running[k.id]; ok {
				c.taskStarted(m, pid)
			} else {
				m.pid = 0
			}
		}
	}
	c.metas = seen
	all := make([]containerView, 0, len(seen))
	for _, m := range seen {
		all = append(all, m.view())
	}
	return c.send(ctx, update{kind: updateSync, all: all})
}

// listContainers lists the containers of namespace ns, streaming where the
// daemon supports it so a large host does not hit the message size limit.
func (c *client) listContainers(ctx context.Context, ns string) ([]*containersapi.Container, error) {
	lctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, namespaceHeader, ns))
	defer cancel()
	timer := time.AfterFunc(4*c.e.cfg.RPCTimeout, cancel)
	defer timer.Stop()
	st, err := c.containers.ListStream(lctx, &containersapi.ListContainersRequest{})
	if err == nil {
		var out []*containersapi.Container
		for {
			m, err := st.Recv()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if status.Code(err) == codes.Unimplemented {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("listing containers in %s: %w", ns, err)
			}
			out = append(out, m.GetContainer())
		}
	} else if status.Code(err) != codes.Unimplemented {
		return nil, fmt.Errorf("listing containers in %s: %w", ns, err)
	}
	resp, err := c.containers.List(lctx, &containersapi.ListContainersRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing containers in %s: %w", ns, err)
	}
	return resp.GetContainers(), nil
}

// readMeta builds (or refreshes) what is known of a container from its
// containerd info, keeping what earlier task events told of it.
func (c *client) readMeta(ctx context.Context, ns string, ci *containersapi.Container) (*containerMeta, error) {
	k := key{ns, ci.GetID()}
	m := &containerMeta{key: k, image: ci.GetImage(), labels: ci.GetLabels()}
	if m.labels == nil {
		m.labels = map[string]string{}
	}
	if t := ci.GetCreatedAt(); t != nil {
		m.created = t.AsTime().UnixNano()
	}
	if spec := ci.GetSpec(); spec != nil {
		info, err := parseSpec(spec.GetValue())
		if err != nil {
			return nil, err
		}
		m.cgroupPath, m.privileged, m.mounts = info.CgroupPath, info.Privileged, info.Mounts
	}
	m.digest = c.imageDigest(ctx, ns, m.image)
	if old := c.metas[k]; old != nil {
		m.pid, m.start, m.users, m.groups = old.pid, old.start, old.users, old.groups
	}
	return m, nil
}

// imageDigest returns the digest containerd resolved image to, "" when it
// cannot tell (a digest reference carries its own, see ParseImageRef).
func (c *client) imageDigest(ctx context.Context, ns, image string) string {
	if image == "" {
		return ""
	}
	k := key{ns, image}
	if d, ok := c.digests[k]; ok {
		return d
	}
	ictx, cancel := c.nsCtx(ctx, ns)
	resp, err := c.images.Get(ictx, &imagesapi.GetImageRequest{Name: image})
	cancel()
	if err != nil {
		// Not found is an answer (the image was removed); other errors
		// are retried with the next container that uses the image.
		if status.Code(err) != codes.NotFound {
			return ""
		}
	}
	if len(c.digests) >= maxDigests {
		clear(c.digests)
	}
	d := resp.GetImage().GetTarget().GetDigest()
	c.digests[k] = d
	return d
}

// taskStarted notes a running task: its pid, its start and the users of
// the container's /etc/passwd. The start is its first process's, read from
// /proc on the boot clock that the sensor stamps events with, so none of
// that process's events comes before it. containerd's own stamp on the
// task start event is no substitute: containerd sends it after runc has
// started the process, which by then has exec'd its entrypoint.
func (c *client) taskStarted(m *containerMeta, pid uint32) {
	if pid == 0 || (pid == m.pid && m.users != nil) {
		return
	}
	m.pid = pid
	start, err := taskStart(c.e.cfg.ProcRoot, pid)
	if err != nil {
		// The task is gone already; view falls back to the creation.
		c.e.log.Debug("reading container start", "id", m.id, "pid", pid, "err", err)
	}
	m.start = start
	// An image without /etc/group still has its users.
	if m.groups, err = readGroups(c.e.cfg.ProcRoot, pid); err != nil {
		c.e.log.Debug("reading container groups", "id", m.id, "pid", pid, "err", err)
	}
	users, err := readUsers(c.e.cfg.ProcRoot, pid)
	if err != nil {
		// A task that exits at once or an image without /etc/passwd is
		// common: not a failure worth counting.
		c.e.log.Debug("reading container users", "id", m.id, "pid", pid, "err", err)
		return
	}
	m.users = users
}

// refresh reads container ns/id from containerd into its metadata, for the
// caller to publish; a container that no longer exists is removed (and nil
// returned).
func (c *client) refresh(ctx context.Context, ns, id string) (*containerMeta, error) {
	gctx, cancel := c.nsCtx(ctx, ns)
	resp, err := c.containers.Get(gctx, &containersapi.GetContainerRequest{ID: id})
	cancel()
	if status.Code(err) == codes.NotFound {
		return nil, c.remove(ctx, key{ns, id})
	}
	if err != nil {
		return nil, fmt.Errorf("getting container: %w", err)
	}
	m, err := c.readMeta(ctx, ns, resp.GetContainer())
	if err != nil {
		return nil, err
	}
	c.metas[m.key] = m
	return m, nil
}

// remove forgets container k.
func (c *client) remove(ctx context.Context, k key) error {
	if _, ok := c.metas[k]; !ok {
		return nil
	}
	delete(c.metas, k)
	return c.send(ctx, update{kind: updateRemove, view: containerView{key: k}})
}

// publish hands m's current state to the resolver.
func (c *client) publish(ctx context.Context, m *containerMeta) error {
	return c.send(ctx, update{kind: updateUpsert, view: m.view()})
}

func (c *client) send(ctx context.Context, u update) error {
	select {
	case c.e.updates <- u:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle applies one event from containerd's stream.
func (c *client) handle(ctx context.Context, env *types.Envelope) error {
	ns := env.GetNamespace()
	payload := env.GetEvent().GetValue()
	switch env.GetTopic() {
	case "/containers/create", "/containers/update":
		// The full container (spec included) is read back, since the
		// events hold only part of it.
		var id string
		if env.GetTopic() == "/containers/create" {
			var m apievents.ContainerCreate
			if err := proto.Unmarshal(payload, &m); err != nil {
				return fmt.Errorf("decoding event: %w", err)
			}
			id = m.GetID()
		} else {
			var m apievents.ContainerUpdate
			if err := proto.Unmarshal(payload, &m); err != nil {
				return fmt.Errorf("decoding event: %w", err)
			}
			id = m.GetID()
		}
		m, err := c.refresh(ctx, ns, id)
		if err != nil || m == nil {
			return err
		}
		return c.publish(ctx, m)
	case "/containers/delete":
		var m apievents.ContainerDelete
		if err := proto.Unmarshal(payload, &m); err != nil {
			return fmt.Errorf("decoding event: %w", err)
		}
		return c.remove(ctx, key{ns, m.GetID()})
	case "/tasks/start":
		var m apievents.TaskStart
		if err := proto.Unmarshal(payload, &m); err != nil {
			return fmt.Errorf("decoding event: %w", err)
		}
		meta := c.metas[key{ns, m.GetContainerID()}]
		if meta == nil {
			var err error
			if meta, err = c.refresh(ctx, ns, m.GetContainerID()); err != nil || meta == nil {
				return err
			}
		}
		if meta.pid == m.GetPid() && meta.users != nil {
			// Already read when the container was fetched on demand.
			return nil
		}
		c.taskStarted(meta, m.GetPid())
		return c.publish(ctx, meta)
	case "/tasks/delete":
		var m apievents.TaskDelete
		if err := proto.Unmarshal(payload, &m); err != nil {
			return fmt.Errorf("decoding event: %w", err)
		}
		// An exec's delete names its exec id; the task's own names none
		// (or the container's id).
		if id := m.GetID(); id != "" && id != m.GetContainerID() {
			return nil
		}
		k := key{ns, m.GetContainerID()}
		if meta := c.metas[k]; meta != nil {
			meta.pid = 0
		}
		// Its cgroup is gone now: let the resolver forget its ids.
		return c.send(ctx, update{kind: updateTaskDeleted, view: containerView{key: k}})
	case "/namespaces/create":
		var m apievents.NamespaceCreate
		if err := proto.Unmarshal(payload, &m); err != nil {
			return fmt.Errorf("decoding event: %w", err)
		}
		c.nsList = append(c.nsList, m.GetName())
	}
	return nil
}

// fetch looks up a container the resolver found a cgroup of but has no
// metadata for: in its namespace when the cgroup path names one, else in
// every namespace. A running task's details are read as well.
func (c *client) fetch(ctx context.Context, k key) error {
	nss := c.nsList
	if k.ns != "" {
		nss = []string{k.ns}
	}
	for _, ns := range nss {
		if c.metas[key{ns, k.id}] != nil {
			return nil
		}
		m, err := c.refresh(ctx, ns, k.id)
		if err != nil {
			return err
		}
		if m == nil {
			continue
		}
		tctx, cancel := c.nsCtx(ctx, ns)
		resp, err := c.tasks.Get(tctx, &tasksapi.GetRequest{ContainerID: k.id})
		cancel()
		if err == nil && resp.GetProcess().GetStatus() == task.Status_RUNNING {
			c.taskStarted(m, resp.GetProcess().GetPid())
		}
		return c.publish(ctx, m)
	}
	return nil
}

// containerView is a container as the resolver sees it: its key, the
// cgroup path its spec gives, and the Container to publish.
type containerView struct {
	key
	cgroupPath string
	c          *event.Container
}

// updateKind says what an update does to the resolver's container set.
type updateKind uint8

const (
	updateUpsert updateKind = iota
	updateRemove
	updateSync
	// updateConn says the connection state changed; it changes no answer
	// but wakes Updated's waiters.
	updateConn
	// updateTaskDeleted says a container's task is gone, and with it its
	// cgroup: the resolver forgets the ids that were in it.
	updateTaskDeleted
)

// update is a change of the container set, from the containerd client to
// the resolver.
type update struct {
	kind updateKind
	view containerView
	all  []containerView
}
