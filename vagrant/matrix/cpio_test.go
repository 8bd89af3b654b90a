package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestCPIOWriter checks the archive with GNU cpio, an independent reader:
// it must list every entry with its type and unpack files and symlinks
// byte for byte (odd sizes check the 4-byte padding).
func TestCPIOWriter(t *testing.T) {
	cpio := testutil.RequireCommand(t, "cpio")
	var archive bytes.Buffer
	w := newCPIOWriter(&archive)
	files := map[string]string{"bin/a": "x", "bin/sub/b": "hello, initramfs\n", "empty": ""}
	for _, step := range []error{
		w.Dir("bin", 0o755),
		w.Dir("bin/sub", 0o700),
		w.File("bin/a", 0o755, 1, strings.NewReader(files["bin/a"])),
		w.File("bin/sub/b", 0o644, int64(len(files["bin/sub/b"])), strings.NewReader(files["bin/sub/b"])),
		w.File("empty", 0o600, 0, nil),
		w.Symlink("bin/sh", "/bin/a"),
		w.CharDev("console", 0o600, 5, 1),
		w.Close(),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if archive.Len()%4 != 0 {
		t.Errorf("archive length %d is not 4-byte aligned", archive.Len())
	}

	list := exec.Command(cpio, "-itv", "--quiet")
	list.Stdin = bytes.NewReader(archive.Bytes())
	out, err := list.Output()
	if err != nil {
		t.Fatalf("listing archive with cpio: %v", err)
	}
	want := map[string]string{ // name -> mode column
		"bin": "drwxr-xr-x", "bin/sub": "drwx------", "bin/a": "-rwxr-xr-x", "bin/sub/b": "-rw-r--r--",
		"empty": "-rw-------", "bin/sh": "lrwxrwxrwx", "console": "crw-------",
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		name := f[len(f)-1]
		if len(f) > 2 && f[len(f)-2] == "->" {
			name = f[len(f)-3]
		}
		got[name] = f[0]
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("cpio lists %s with mode %q, want %q\n%s", name, got[name], mode, out)
		}
	}
	if len(got) != len(want) {
		t.Errorf("cpio lists %d entries, want %d:\n%s", len(got), len(want), out)
	}

	dir := t.TempDir()
	extract := exec.Command(cpio, "-id", "--quiet", "--no-absolute-filenames", "--nonmatching", "console")
	extract.Dir = dir
	extract.Stdin = bytes.NewReader(archive.Bytes())
	if out, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("extracting archive with cpio: %v\n%s", err, out)
	}
	for name, content := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Errorf("%s = %q, want %q", name, b, content)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "/bin/a" {
		t.Errorf("bin/sh links to %q (%v), want /bin/a", target, err)
	}
}

func TestCPIOWriterRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(w *cpioWriter) error
	}{
		{"absolute name", func(w *cpioWriter) error { return w.Dir("/bin", 0o755) }},
		{"empty name", func(w *cpioWriter) error { return w.Dir("", 0o755) }},
		{"short data", func(w *cpioWriter) error { return w.File("f", 0o644, 10, strings.NewReader("abc")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.add(newCPIOWriter(&bytes.Buffer{})); err == nil {
				t.Error("got no error")
			}
		})
	}
}
