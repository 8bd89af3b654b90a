package containerdtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/internal/mountinfo"

	"golang.org/x/sys/unix"
)

// requiredCommands are the commands the harness runs: Debian's containerd
// package brings the first three, runc and busybox-static the others.
func requiredCommands() []string {
	return []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc", "busybox"}
}

// DefaultNamespace is the containerd namespace of containers whose spec
// names none.
const DefaultNamespace = "vigil-test"

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Namespace is the default namespace for containers (DefaultNamespace).
	Namespace string
	// Busybox is the static busybox the image is built from (/bin/busybox).
	Busybox string
	// Dir is the directory for the daemon's root, state, socket and log. A
	// new temporary directory when empty; it is removed by Stop.
	Dir string
}

// Daemon is a containerd process started by Start, with its own root, state
// and socket, and the test image imported into the namespaces it was asked
// to run containers in.
type Daemon struct {
	// Socket is the path of the daemon's gRPC socket.
	Socket string
	// Namespace is the default namespace of RunContainer.
	Namespace string
	// Image is the test image (busybox, /etc/passwd with UserName).
	Image *Image
	// Dir holds config.toml, containerd.log, root/ and state/.
	Dir string

	containerdPath, ctrPath string
	removeDir               bool

	importMu sync.Mutex // serialises image imports

	mu          sync.Mutex
	snapshotter string
	proc        *daemonProc // nil while the daemon is stopped
	imported    map[string]bool
	containers  map[*Container]struct{}
	stopped     bool
}

// daemonProc is one run of the containerd process. Its owner goroutine is
// locked to the OS thread that forked containerd: the parent-death signal
// follows that thread, so no other goroutine may end it.
type daemonProc struct {
	pid    int
	exited chan struct{} // closed when the process has been reaped
	err    error         // wait status, valid after exited
}

// Start starts containerd with a configuration of its own, waits until it
// answers and builds the test image. It fails when containerd, ctr, runc or
// busybox are missing.
func Start(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Busybox == "" {
		opts.Busybox = "/bin/busybox"
	}
	for _, c := range requiredCommands() {
		if c == "busybox" {
			// Found by path: Options.Busybox.
			continue
		}
		if _, err := exec.LookPath(c); err != nil {
			return nil, fmt.Errorf("finding %s: %w", c, err)
		}
	}
	d := &Daemon{
		Namespace:  opts.Namespace,
		Dir:        opts.Dir,
		imported:   map[string]bool{},
		containers: map[*Container]struct{}{},
	}
	d.containerdPath, _ = exec.LookPath("containerd")
	d.ctrPath, _ = exec.LookPath("ctr")
	if d.Dir == "" {
		// Short path: the socket path must fit in sun_path (108 bytes).
		dir, err := os.MkdirTemp("", "vigil-ctd-")
		if err != nil {
			return nil, fmt.Errorf("creating daemon directory: %w", err)
		}
		d.Dir, d.removeDir = dir, true
	}
	d.Socket = filepath.Join(d.Dir, "containerd.sock")
	img, err := BuildImage(opts.Busybox, ImageRef)
	if err != nil {
		d.cleanupDir()
		return nil, fmt.Errorf("building test image: %w", err)
	}
	d.Image = img
	if err := os.WriteFile(filepath.Join(d.Dir, "image.tar"), img.Archive, 0o644); err != nil {
		d.cleanupDir()
		return nil, fmt.Errorf("writing test image: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "config.toml"), []byte(d.config()), 0o644); err != nil {
		d.cleanupDir()
		return nil, fmt.Errorf("writing containerd config: %w", err)
	}
	if err := d.StartDaemon(ctx); err != nil {
		d.cleanupDir()
		return nil, err
	}
	d.snapshotter = "native"
	if out, err := d.Ctr(ctx, "", "plugins", "ls"); err == nil && overlayOK(out) {
		d.snapshotter = "overlayfs"
	}
	return d, nil
}

// config is containerd's configuration: everything under Dir, the CRI
// plugin off (the tests use containerd's own API and ctr), the runc v2 shim
// with the cgroupfs driver (the default).
func (d *Daemon) config() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`, filepath.Join(d.Dir, "root"), filepath.Join(d.Dir, "state"), d.Socket,
		d.Socket+".ttrpc", filepath.Join(d.Dir, "opt"))
}

// overlayOK reports whether `ctr plugins ls` lists the overlayfs snapshotter
// as usable.
func overlayOK(out []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 4 && f[0] == "io.containerd.snapshotter.v1" && f[1] == "overlayfs" {
			return f[len(f)-1] == "ok"
		}
	}
	return false
}

// Snapshotter is the snapshotter containers use: "overlayfs", or "native"
// where overlay mounts do not work.
func (d *Daemon) Snapshotter() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.snapshotter
}

// PID is the containerd process id, 0 while the daemon is stopped.
func (d *Daemon) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return 0
	}
	return d.proc.pid
}

// StartDaemon starts the containerd process and waits until it logs that it
// booted and answers `ctr version`. Containers that ran before a StopDaemon
// keep running under their shims and are found again by the new process.
func (d *Daemon) StartDaemon(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return errors.New("starting containerd: daemon was stopped for good")
	}
	if d.proc != nil {
		return errors.New("starting containerd: already running")
	}
	logf, err := os.OpenFile(filepath.Join(d.Dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening containerd log: %w", err)
	}
	// containerd logs to a pipe of ours, copied to the log file by a
	// goroutine that also spots the boot message. The pipe, not
	// cmd.StderrPipe: exit is told by Wait alone, even if a child kept the
	// write end open.
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return fmt.Errorf("creating containerd log pipe: %w", err)
	}
	booted := make(chan struct{})
	go func() {
		copyLog(pr, logf, booted)
		pr.Close()
		logf.Close()
	}()
	started := make(chan error, 1)
	p := &daemonProc{exited: make(chan struct{})}
	go func() {
		// This goroutine owns the thread that forks containerd and keeps it
		// until the process is reaped; the thread then exits with it.
		runtime.LockOSThread()
		cmd := exec.Command(d.containerdPath, "--config", filepath.Join(d.Dir, "config.toml"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Stdout, cmd.Stderr = pw, pw
		err := cmd.Start()
		pw.Close()
		if err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting containerd: %w", err)
	}
	d.proc = p
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	select {
	case <-booted:
	case <-p.exited:
		d.proc = nil
		return fmt.Errorf("starting containerd: exited (%v): %s", p.err, d.logTail())
	case <-deadline.C:
		d.killLocked(p)
		return fmt.Errorf("starting containerd: not booted after 30s: %s", d.logTail())
	case <-ctx.Done():
		d.killLocked(p)
		return fmt.Errorf("starting containerd: %w", ctx.Err())
	}
	if out, err := d.ctr(ctx, "", "version"); err != nil {
		d.killLocked(p)
		return fmt.Errorf("asking containerd its version: %w: %s", err, out)
	}
	return nil
}

// copyLog copies containerd's log to w and closes booted when containerd
// says it has booted.
func copyLog(r io.Reader, w io.Writer, booted chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		w.Write(append(line, '\n'))
		if booted != nil && bytes.Contains(line, []byte("containerd successfully booted")) {
			close(booted)
			booted = nil
		}
	}
	// Drain what the scanner could not split so the process never blocks.
	io.Copy(w, r)
}

// StopDaemon stops the containerd process (SIGTERM, then SIGKILL after 10
// s) and leaves the containers running under their shims, as a containerd
// upgrade or crash would.
func (d *Daemon) StopDaemon() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.proc
	if p == nil {
		return nil
	}
	if err := unix.Kill(p.pid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling containerd: %w", err)
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		d.killLocked(p)
	}
	d.proc = nil
	return nil
}

// Restart stops and starts the containerd process.
func (d *Daemon) Restart(ctx context.Context) error {
	if err := d.StopDaemon(); err != nil {
		return err
	}
	return d.StartDaemon(ctx)
}

// killLocked kills containerd by its PID and waits until it is reaped.
func (d *Daemon) killLocked(p *daemonProc) {
	unix.Kill(p.pid, unix.SIGKILL)
	<-p.exited
	d.proc = nil
}

// Stop removes every container still running, stops containerd, unmounts
// what it left mounted and removes its directory. Safe to call twice.
func (d *Daemon) Stop() error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	cs := make([]*Container, 0, len(d.containers))
	for c := range d.containers {
		cs = append(cs, c)
	}
	running := d.proc != nil
	d.mu.Unlock()

	var errs []error
	if running {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		for _, c := range cs {
			if err := c.Remove(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		// Containers a test made with Ctr directly are not tracked: ask
		// containerd for whatever is left in any namespace.
		if err := d.removeAll(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	} else {
		// Without containerd the shims cannot be asked: kill the
		// containers' processes directly so nothing is left behind.
		for _, c := range cs {
			unix.Kill(c.PID, unix.SIGKILL)
		}
	}
	if err := d.StopDaemon(); err != nil {
		errs = append(errs, err)
	}
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	if err := d.cleanupDir(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeAll deletes every task and container the daemon has.
func (d *Daemon) removeAll(ctx context.Context) error {
	out, err := d.ctr(ctx, "", "namespaces", "list", "--quiet")
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range strings.Fields(string(out)) {
		ids, err := d.ctr(ctx, ns, "containers", "list", "--quiet")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range strings.Fields(string(ids)) {
			if _, err := d.ctr(ctx, ns, "task", "delete", "--force", id); err != nil && !notFound(err) {
				errs = append(errs, err)
			}
			if _, err := d.ctr(ctx, ns, "container", "delete", id); err != nil && !notFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// cleanupDir unmounts everything under Dir (container root filesystems,
// shm) and removes it when Start created it.
func (d *Daemon) cleanupDir() error {
	if !d.removeDir {
		return nil
	}
	mounts, err := mountsUnder(d.Dir)
	if err != nil {
		return err
	}
	// Deepest first, so nested mounts go before their parents.
	for i := len(mounts) - 1; i >= 0; i-- {
		unix.Unmount(mounts[i], unix.MNT_DETACH)
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		return fmt.Errorf("removing daemon directory: %w", err)
	}
	return nil
}

// mountsUnder lists the mount points under dir in mount order.
func mountsUnder(dir string) ([]string, error) {
	mounts, err := mountinfo.Read("/proc")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mounts {
		if strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out, nil
}

// logTail returns the end of containerd's log, for errors.
func (d *Daemon) logTail() string {
	data, _ := os.ReadFile(filepath.Join(d.Dir, "containerd.log"))
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}

// Ctr runs ctr against the daemon in namespace ns (the default namespace
// when empty) and returns its combined output.
func (d *Daemon) Ctr(ctx context.Context, ns string, args ...string) ([]byte, error) {
	if ns == "" {
		ns = d.Namespace
	}
	return d.ctr(ctx, ns, args...)
}

func (d *Daemon) ctr(ctx context.Context, ns string, args ...string) ([]byte, error) {
	full := []string{"--address", d.Socket}
	if ns != "" {
		full = append(full, "--namespace", ns)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, d.ctrPath, full...)
	cmd.Env = append(os.Environ(), "CONTAINERD_SNAPSHOTTER=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("running ctr %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}
