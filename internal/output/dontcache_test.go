package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// kernelTakesDontCache reports whether a write with RWF_DONTCACHE to a new
// file in dir succeeds (Linux 6.14+ on a file system that supports it).
func kernelTakesDontCache(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = unix.Pwritev2(int(f.Fd()), [][]byte{[]byte("x")}, -1, rwfDontCache)
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("probe write: %v", err)
	}
	return err == nil
}

// TestStreamDropBehind writes batches and single records to a regular file
// through a Stream: every byte lands, in order, whether the kernel takes
// RWF_DONTCACHE (this machine's 6.18 on ext4: the batches carry it) or
// refuses it (older kernels, tmpfs: the refusal is reported once and the
// writes go on normally).
func TestStreamDropBehind(t *testing.T) {
	dir := t.TempDir()
	takes := kernelTakesDontCache(t, dir)
	f, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var refusals []error
	d := StreamDropBehind(f, func(err error) { refusals = append(refusals, err) })
	s := d.(*stream)
	if !s.DropBehind() {
		t.Fatal("a regular file's stream does not try RWF_DONTCACHE")
	}
	var want bytes.Buffer
	ctx := context.Background()
	for i := range 20 {
		rec := []byte(fmt.Sprintf("{\"single\":%d}\n", i))
		if err := d.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		want.Write(rec)
		// Batches of up to 1 MiB, after a buffered single record.
		batch := bytes.Repeat([]byte(fmt.Sprintf("{\"batch\":%d,\"pad\":\"%0100d\"}\n", i, i)), 1+i*i*40)
		if err := d.(BatchDestination).WriteBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		want.Write(batch)
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file holds %d bytes, want %d (first difference at %d)", len(got), want.Len(), firstDiff(got, want.Bytes()))
	}
	if s.DropBehind() != takes || len(refusals) != map[bool]int{true: 0, false: 1}[takes] {
		t.Errorf("kernel takes RWF_DONTCACHE: %v; stream still uses it: %v; refusals reported: %v", takes, s.DropBehind(), refusals)
	}
	if !takes && !errors.Is(refusals[0], unix.EOPNOTSUPP) {
		t.Errorf("refusal reported as %v, want EOPNOTSUPP", refusals[0])
	}
}

// TestDropBehindAppend appends with RWF_DONTCACHE to a file opened
// O_APPEND (the file output), after another writer extended it: the
// records go at its end.
func TestDropBehindAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(path, []byte("before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := NewDropBehind(f, nil)
	for _, rec := range []string{"one\n", "two\n"} {
		if done, err := d.Write([]byte(rec)); err != nil {
			t.Fatal(err)
		} else if !done {
			if _, err := f.WriteString(rec); err != nil {
				t.Fatal(err)
			}
		}
		other, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		other.WriteString("other\n")
		other.Close()
	}
	if got, _ := os.ReadFile(path); string(got) != "before\none\nother\ntwo\nother\n" {
		t.Errorf("file: %q", got)
	}
}

// TestDropBehindNotAFile leaves a pipe's writes alone.
func TestDropBehindNotAFile(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if d := NewDropBehind(w, nil); d.Active() {
		t.Error("a pipe's writes would carry RWF_DONTCACHE")
	}
	if s := StreamDropBehind(w, nil).(*stream); s.DropBehind() {
		t.Error("a pipe's stream would carry RWF_DONTCACHE")
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
