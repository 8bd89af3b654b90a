package containerdtest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

var containerd Shared

func TestMain(m *testing.M) {
	code := m.Run()
	if err := containerd.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping containerd:", err)
		code = 1
	}
	os.Exit(code)
}

// TestBuildImage checks the layout without containerd: every blob is
// stored under its digest, the index names the image and points at the
// manifest, and the layer holds busybox, its applets and the passwd file.
func TestBuildImage(t *testing.T) {
	busybox := testutil.RequireCommand(t, "busybox")
	img, err := BuildImage(busybox, ImageRef)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(img.Archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
	blob := func(digest string) []byte {
		t.Helper()
		hexd, ok := strings.CutPrefix(digest, "sha256:")
		if !ok {
			t.Fatalf("digest %q is not sha256", digest)
		}
		data, ok := files["blobs/sha256/"+hexd]
		if !ok {
			t.Fatalf("blob %s missing", digest)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != hexd {
			t.Fatalf("blob %s has digest %s", hexd, got)
		}
		return data
	}
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(index.Manifests))
	}
	md := index.Manifests[0]
	if md.Digest != img.ManifestDigest || md.Annotations["io.containerd.image.name"] != ImageRef {
		t.Fatalf("index entry %+v, want digest %s named %s", md, img.ManifestDigest, ImageRef)
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(blob(md.Digest), &manifest); err != nil {
		t.Fatal(err)
	}
	blob(manifest.Config.Digest)
	if len(manifest.Layers) != 1 {
		t.Fatalf("manifest has %d layers, want 1", len(manifest.Layers))
	}
	layer := map[string]*tar.Header{}
	var passwdData []byte
	lr := tar.NewReader(bytes.NewReader(blob(manifest.Layers[0].Digest)))
	for {
		h, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		layer[h.Name] = h
		if h.Name == "etc/passwd" {
			passwdData, _ = io.ReadAll(lr)
		}
	}
	if h := layer["bin/busybox"]; h == nil || h.Mode&0o111 == 0 {
		t.Fatalf("bin/busybox missing or not executable: %+v", h)
	}
	for _, a := range []string{"bin/sh", "bin/sleep", "usr/bin/id"} {
		if h := layer[a]; h == nil || h.Linkname != "/bin/busybox" {
			t.Errorf("applet %s: %+v, want a link to /bin/busybox", a, h)
		}
	}
	if !strings.Contains(string(passwdData), UserName+":x:"+strconv.Itoa(UserUID)+":") {
		t.Errorf("etc/passwd lacks user %s: %q", UserName, passwdData)
	}
}

// TestRunContainer runs a labelled container on the real daemon, execs into
// it as root and as the image's user, and checks its cgroup.
func TestRunContainer(t *testing.T) {
	d := containerd.Daemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := d.MustRun(t, ContainerSpec{Labels: map[string]string{"app": "web"}})
	if len(c.ID) != 64 || c.PID <= 0 || c.CgroupID == 0 {
		t.Fatalf("container %+v", c)
	}
	if want := "/" + d.Namespace + "/" + c.ID; c.CgroupPath != want {
		t.Errorf("cgroup path %q, want %q (cgroupfs driver)", c.CgroupPath, want)
	}
	out, err := c.Exec(ctx, "cat", "/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "0::/") {
		t.Errorf("exec output %q lacks the cgroup v2 line", out)
	}
	out, err = c.ExecAs(ctx, UserName, "id", "-u")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != strconv.Itoa(UserUID) {
		t.Errorf("id -u as %s = %q, want %d", UserName, got, UserUID)
	}
	info, err := d.Ctr(ctx, "", "container", "info", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(info), `"app": "web"`) {
		t.Errorf("container info lacks the label: %s", info)
	}
	if err := c.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.PID)); err == nil {
		t.Errorf("task pid %d still exists after Remove", c.PID)
	}
}

// TestRestartKeepsContainers stops and starts containerd: the container
// keeps running under its shim and the new daemon still execs into it.
func TestRestartKeepsContainers(t *testing.T) {
	d := containerd.Daemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := d.MustRun(t, ContainerSpec{})
	old := d.PID()
	if err := d.StopDaemon(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.PID)); err != nil {
		t.Fatalf("container died with containerd: %v", err)
	}
	if err := d.StartDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	if d.PID() == old {
		t.Fatalf("containerd pid unchanged (%d)", old)
	}
	if out, err := c.Exec(ctx, "true"); err != nil {
		t.Fatalf("exec after restart: %v: %s", err, out)
	}
}
