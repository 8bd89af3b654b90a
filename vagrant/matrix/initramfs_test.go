package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestWriteInitramfs builds a guest image and checks with cpio that it holds
// what the init script uses, and with busybox sh that the script parses.
func TestWriteInitramfs(t *testing.T) {
	busybox := testutil.RequireCommand(t, "busybox")
	cpio := testutil.RequireCommand(t, "cpio")
	dir := t.TempDir()
	bin := filepath.Join(dir, "sensor.test")
	testdata := filepath.Join(dir, "testdata")
	for path, data := range map[string]string{bin: "test binary", filepath.Join(testdata, "golden", "x.json"): "{}"} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g := guest{
		busybox:     busybox,
		tests:       []testBinary{{name: "sensor", path: bin, pkgDir: "sensor", testdata: testdata}},
		modules:     []module{{name: "veth", data: []byte("ko")}},
		testArgs:    []string{"-test.run=Exec|Open's"},
		testTimeout: 5 * time.Minute,
	}
	img := filepath.Join(dir, "initramfs.cpio")
	if err := writeInitramfs(context.Background(), img, g); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list := exec.Command(cpio, "-it", "--quiet")
	list.Stdin = f
	out, err := list.Output()
	if err != nil {
		t.Fatalf("listing initramfs: %v", err)
	}
	entries := map[string]bool{}
	for _, e := range strings.Fields(string(out)) {
		entries[e] = true
	}
	for _, want := range []string{
		"init", "bin/busybox", "bin/sh", "sbin/insmod", "bin/mount", "dev/console", "etc/passwd",
		"proc", "sys", "tmp", "lib/modules/vigil/veth.ko", "vigil/bin/sensor.test",
		"vigil/src/sensor/testdata/golden/x.json",
	} {
		if !entries[want] {
			t.Errorf("initramfs lacks %s", want)
		}
	}

	script := initScript(g)
	for _, want := range []string{
		"run insmod /lib/modules/vigil/veth.ko\n",
		"run cd '/vigil/src/sensor'\n",
		`'/vigil/bin/sensor.test' '-test.v' '-test.short' '-test.timeout=5m0s' '-test.run=Exec|Open'\''s' || status=$?`,
		`echo "VIGIL-TEST-EXIT=$status"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("init script lacks %q:\n%s", want, script)
		}
	}
	check := exec.Command(busybox, "sh", "-n")
	check.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	check.Stderr = &stderr
	if err := check.Run(); err != nil {
		t.Errorf("busybox sh -n rejects the init script: %v\n%s", err, stderr.String())
	}
}

func TestBusyboxMustBeStatic(t *testing.T) {
	sh := testutil.RequireCommand(t, "sh")
	real, err := filepath.EvalSymlinks(sh)
	if err != nil {
		t.Fatal(err)
	}
	_, err = busyboxApplets(context.Background(), real)
	if err == nil || !strings.Contains(err.Error(), "busybox-static") {
		t.Errorf("busyboxApplets(%s): got %v, want an error naming busybox-static", real, err)
	}
}
