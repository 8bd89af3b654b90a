package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// fakeIdentitySetter records what the sensor would be given.
type fakeIdentitySetter struct {
	calls int
	last  map[event.FileID]string
}

func (f *fakeIdentitySetter) SetFileIdentities(ids map[event.FileID]string) error {
	f.calls++
	f.last = ids
	return nil
}

func fileID(t *testing.T, path string) event.FileID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return event.FileID{Dev: event.DevOf(unix.Major(st.Dev), unix.Minor(st.Dev)), Ino: st.Ino}
}

// TestFileIdentities checks the learning of the rules' files: each present
// file's identity names it (the first path of one file wins), a missing one
// is left out until it appears, and a refresh passes on a file replaced
// under its name, and nothing when nothing changed.
func TestFileIdentities(t *testing.T) {
	dir := t.TempDir()
	shadow, alias, missing := filepath.Join(dir, "shadow"), filepath.Join(dir, "shadow-alias"), filepath.Join(dir, "gshadow")
	if err := os.WriteFile(shadow, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(shadow, alias); err != nil {
		t.Fatal(err)
	}
	s := &fakeIdentitySetter{}
	ids := newFileIdentities(s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := ids.setPaths([]string{shadow, alias, missing}); err != nil {
		t.Fatal(err)
	}
	old := fileID(t, shadow)
	if name, ok := ids.table.Name(old); !ok || name != shadow || len(s.last) != 1 || s.last[old] != shadow {
		t.Errorf("after setPaths: table says %q %v, sensor got %v", name, ok, s.last)
	}
	if err := ids.refresh(); err != nil || s.calls != 1 {
		t.Errorf("a refresh with nothing changed: err %v, %d calls to the sensor", err, s.calls)
	}
	// passwd's way: a new file renamed over the name; and the missing
	// file appears.
	tmp := filepath.Join(dir, "nshadow")
	if err := os.WriteFile(tmp, []byte("y"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, shadow); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(missing, []byte("z"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ids.refresh(); err != nil {
		t.Fatal(err)
	}
	want := map[event.FileID]string{fileID(t, shadow): shadow, old: alias, fileID(t, missing): missing}
	if s.calls != 2 || len(s.last) != len(want) {
		t.Fatalf("after the replacement: %d calls, sensor got %v, want %v", s.calls, s.last, want)
	}
	for id, name := range want {
		if got, _ := ids.table.Name(id); got != name || s.last[id] != name {
			t.Errorf("%+v: table %q, sensor %q, want %q", id, got, s.last[id], name)
		}
	}
}
