package enrich

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/internal/mountinfo"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"golang.org/x/sys/unix"
)

// testCgroups creates cgroups for a test under the real cgroup2 mount.
type testCgroups struct {
	t     *testing.T
	mount string
}

func newTestCgroups(t *testing.T) *testCgroups {
	t.Helper()
	testutil.RequireRoot(t)
	mounts, err := mountinfo.Read("/proc")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := mountinfo.Cgroup2(mounts)
	if !ok {
		testutil.SkipKernelLacks(t, "a cgroup2 mount", ErrNoCgroup2)
	}
	return &testCgroups{t: t, mount: m.Point}
}

// make creates cgroup rel (and its parents), removed when the test ends,
// and returns its id.
func (c *testCgroups) make(rel string) uint64 {
	c.t.Helper()
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for i := range parts {
		dir := filepath.Join(c.mount, filepath.Join(parts[:i+1]...))
		if err := os.Mkdir(dir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				continue
			}
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { os.Remove(dir) })
	}
	return c.id(rel)
}

func (c *testCgroups) id(rel string) uint64 {
	c.t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(c.mount, rel), &st); err != nil {
		c.t.Fatal(err)
	}
	return st.Ino
}

func (c *testCgroups) remove(rel string) {
	c.t.Helper()
	if err := os.Remove(filepath.Join(c.mount, rel)); err != nil {
		c.t.Fatal(err)
	}
}

func TestCgroupFS(t *testing.T) {
	tc := newTestCgroups(t)
	cg, err := openCgroupFS("")
	if err != nil {
		t.Fatal(err)
	}
	defer cg.close()
	rel := "/vigil-enrich-fs/" + idA
	id := tc.make(rel)
	rootID := tc.id("/")

	for _, mode := range []string{"handles", "walk"} {
		t.Run(mode, func(t *testing.T) {
			get := func(id uint64) (string, error) {
				if mode == "handles" {
					return cg.path(id)
				}
				found, err := cg.walk(map[uint64]bool{id: true})
				if err != nil {
					return "", err
				}
				if p, ok := found[id]; ok {
					return p, nil
				}
				return "", errGone
			}
			if p, err := get(id); err != nil || p != rel {
				t.Errorf("path(%d) = %q, %v; want %q", id, p, err, rel)
			}
			if p, err := get(rootID); err != nil || p != "/" {
				t.Errorf("path(root) = %q, %v; want /", p, err)
			}
			if p, err := get(1 << 60); !errors.Is(err, errGone) {
				t.Errorf("path(unused id) = %q, %v; want errGone", p, err)
			}
		})
	}
	if !cg.handles {
		t.Error("open_by_handle_at fell back to walking as root")
	}
	if got, err := cg.id(rel); err != nil || got != id {
		t.Errorf("id(%q) = %d, %v; want %d", rel, got, err, id)
	}
	tc.remove(rel)
	if p, err := cg.path(id); !errors.Is(err, errGone) {
		t.Errorf("path of removed cgroup = %q, %v; want errGone", p, err)
	}
	if _, err := cg.id(rel); !errors.Is(err, errGone) {
		t.Errorf("id of removed cgroup: %v, want errGone", err)
	}
}

// BenchmarkCgroupPath measures one id-to-path resolution by file handle,
// the resolver's per-miss cost.
func BenchmarkCgroupPath(b *testing.B) {
	testutil.RequireRoot(b)
	cg, err := openCgroupFS("")
	if err != nil {
		b.Fatal(err)
	}
	defer cg.close()
	var st unix.Stat_t
	if err := unix.Stat(cg.mount, &st); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cg.path(st.Ino); err != nil {
			b.Fatal(err)
		}
	}
}
