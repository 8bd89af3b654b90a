package containerdtest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Users of the test image, as its /etc/passwd lists them.
const (
	// UserName and UserUID are the image's non-root user.
	UserName = "vigil"
	UserUID  = 1000
)

// ImageRef is the name the test image is imported under.
const ImageRef = "docker.io/vigil/busybox:test"

// passwd and group are the image's account files: root, a non-root user and
// nobody, so tests can check uid-to-name lookups inside the container.
const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		UserName + ":x:1000:1000:vigil test user:/home/vigil:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\n" + UserName + ":x:1000:\nnogroup:x:65534:\n"
)

// OCI media types of the image layout.
const (
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Image is a built OCI image layout archive.
type Image struct {
	// Ref is the name the archive's index gives the image (ImageRef).
	Ref string
	// ManifestDigest is the digest of the image manifest, which containerd
	// records as the image's target digest ("sha256:...").
	ManifestDigest string
	// Archive is the OCI image layout as a tar stream.
	Archive []byte
}

// BuildImage packs busybox (a static binary, usually Debian's
// busybox-static at /bin/busybox) with its applet links, /etc/passwd and
// /etc/group into an OCI image layout archive named ref that `ctr image
// import` accepts. The applet list comes from the binary itself.
func BuildImage(busybox, ref string) (*Image, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("reading busybox: %w", err)
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	var applets []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// Only applets that live in a directory; "linuxrc" at the root is
		// not wanted in a container.
		if a := strings.TrimSpace(sc.Text()); strings.Contains(a, "/") && a != "bin/busybox" {
			applets = append(applets, a)
		}
	}
	layer, err := buildLayer(bin, applets)
	if err != nil {
		return nil, err
	}
	return buildLayout(ref, layer)
}

// buildLayer writes the root filesystem tar: directories, the busybox binary,
// one symlink per applet and the account files.
func buildLayer(bin []byte, applets []string) ([]byte, error) {
	// A fixed time keeps the layer, and so the image digests, reproducible.
	mtime := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]int64{
		"bin": 0o755, "sbin": 0o755, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
		"etc": 0o755, "dev": 0o755, "proc": 0o555, "sys": 0o555, "run": 0o755,
		"root": 0o700, "home": 0o755, "home/vigil": 0o755, "tmp": 0o1777, "var": 0o755,
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: dirs[d], ModTime: mtime}
		if d == "home/vigil" {
			h.Uid, h.Gid = UserUID, UserUID
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing layer: %w", err)
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"bin/busybox", 0o755, bin},
		{"etc/passwd", 0o644, []byte(passwd)},
		{"etc/group", 0o644, []byte(group)},
	}
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing layer: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("writing layer: %w", err)
		}
	}
	for _, a := range applets {
		if _, ok := dirs[path.Dir(a)]; !ok {
			continue
		}
		h := &tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", Mode: 0o777, ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing layer: %w", err)
	}
	return buf.Bytes(), nil
}

// buildLayout wraps an uncompressed layer into an OCI image layout: blobs
// addressed by sha256, a config, a manifest and an index naming the image.
func buildLayout(ref string, layer []byte) (*Image, error) {
	blobs := map[string][]byte{}
	add := func(data []byte) string {
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = data
		return d
	}
	layerDigest := add(layer)
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        []string{"/bin/sh"},
			"WorkingDir": "/",
		},
		// An uncompressed layer's diff id is its own digest.
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	configDigest := add(config)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeManifest,
		"config":        descriptor{MediaType: mediaTypeConfig, Digest: configDigest, Size: int64(len(config))},
		"layers":        []descriptor{{MediaType: mediaTypeLayer, Digest: layerDigest, Size: int64(len(layer))}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding image manifest: %w", err)
	}
	manifestDigest := add(manifest)
	tag := ref[strings.LastIndex(ref, ":")+1:]
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []descriptor{{
			MediaType: mediaTypeManifest,
			Digest:    manifestDigest,
			Size:      int64(len(manifest)),
			Platform:  &platform{Architecture: runtime.GOARCH, OS: "linux"},
			// containerd's importer names the image after the first
			// annotation; OCI tools read the second.
			Annotations: map[string]string{
				"io.containerd.image.name":          ref,
				"org.opencontainers.image.ref.name": tag,
			},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding image index: %w", err)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	write := func(name string, data []byte) error {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := io.Copy(tw, bytes.NewReader(data))
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime}); err != nil {
			return nil, fmt.Errorf("writing image layout: %w", err)
		}
	}
	if err := write("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return nil, fmt.Errorf("writing image layout: %w", err)
	}
	if err := write("index.json", index); err != nil {
		return nil, fmt.Errorf("writing image layout: %w", err)
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	for _, d := range digests {
		if err := write("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), blobs[d]); err != nil {
			return nil, fmt.Errorf("writing image layout: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing image layout: %w", err)
	}
	return &Image{Ref: ref, ManifestDigest: manifestDigest, Archive: buf.Bytes()}, nil
}
