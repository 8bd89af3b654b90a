package enrich

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vigil-sensor/vigil/internal/mountinfo"

	"golang.org/x/sys/unix"
)

// errGone says a cgroup id names no live cgroup (it was removed).
var errGone = errors.New("cgroup is gone")

// ErrNoCgroup2 is returned by New when no cgroup v2 hierarchy is mounted:
// cgroup ids (what the kernel reports) cannot be resolved to paths then.
var ErrNoCgroup2 = errors.New("no cgroup2 filesystem mounted")

// fileidKernfs is the file handle type of kernfs (cgroup2) inodes; the
// handle's bytes are the 64-bit cgroup id.
const fileidKernfs = 0xfe

// cgroupFS resolves cgroup v2 ids to paths on the cgroup2 mount.
type cgroupFS struct {
	// mount is where the hierarchy is mounted; root is the hierarchy path
	// the mount shows (/ unless the mount is a sub-tree).
	mount, root string
	fd          int
	// handles is false once open_by_handle_at was refused (no
	// CAP_DAC_READ_SEARCH, no kernfs export): ids are then found by walking
	// the hierarchy.
	handles bool
}

// openCgroupFS opens the cgroup2 hierarchy mounted at mount, or the first
// one /proc/self/mountinfo lists when mount is empty.
func openCgroupFS(mount string) (*cgroupFS, error) {
	root := "/"
	if mount == "" {
		mounts, err := mountinfo.Read("/proc")
		if err != nil {
			return nil, err
		}
		m, ok := mountinfo.Cgroup2(mounts)
		if !ok {
			return nil, ErrNoCgroup2
		}
		mount, root = m.Point, m.Root
	}
	fd, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening cgroup2 mount: %w", err)
	}
	return &cgroupFS{mount: mount, root: root, fd: fd, handles: true}, nil
}

func (c *cgroupFS) close() { unix.Close(c.fd) }

// path returns the hierarchy path of cgroup id ("/" for the root), or
// errGone. With open_by_handle_at it costs a few syscalls; without, see
// walk.
func (c *cgroupFS) path(id uint64) (string, error) {
	if !c.handles {
		return "", errors.New("cgroup file handles unsupported")
	}
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], id)
	fd, err := unix.OpenByHandleAt(c.fd, unix.NewFileHandle(fileidKernfs, b[:]), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW)
	if errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) {
		return "", errGone
	}
	if err != nil {
		// Without CAP_DAC_READ_SEARCH, or where the filesystem does not
		// export handles, walking is the only way; other errors (EMFILE)
		// pass.
		for _, perm := range []error{unix.EPERM, unix.EACCES, unix.EOPNOTSUPP, unix.ENOSYS, unix.EINVAL} {
			if errors.Is(err, perm) {
				c.handles = false
			}
		}
		return "", fmt.Errorf("opening cgroup by handle: %w", err)
	}
	defer unix.Close(fd)
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", fmt.Errorf("reading cgroup path: %w", err)
	}
	if strings.HasSuffix(link, " (deleted)") {
		return "", errGone
	}
	return c.rel(link)
}

// rel turns an absolute path under the mount into a hierarchy path.
func (c *cgroupFS) rel(abs string) (string, error) {
	r, ok := strings.CutPrefix(abs, c.mount)
	if !ok || (r != "" && r[0] != '/') {
		return "", fmt.Errorf("cgroup path %q is outside %s", abs, c.mount)
	}
	return filepath.Join(c.root, "/"+r), nil
}

// walk finds the paths of ids by walking the hierarchy; ids not found are
// gone. It is the fallback where file handles do not work.
func (c *cgroupFS) walk(ids map[uint64]bool) (map[uint64]string, error) {
	found := make(map[uint64]string, len(ids))
	err := filepath.WalkDir(c.mount, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// A cgroup removed during the walk is not an error.
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if ids[st.Ino] {
			if r, err := c.rel(p); err == nil {
				found[st.Ino] = r
			}
		}
		return nil
	})
	if err != nil {
		return found, fmt.Errorf("walking cgroup2 hierarchy: %w", err)
	}
	return found, nil
}

// id returns the cgroup id of hierarchy path p (its directory's inode), or
// errGone when it does not exist.
func (c *cgroupFS) id(p string) (uint64, error) {
	rel := p
	if c.root != "/" {
		r, ok := strings.CutPrefix(p, c.root)
		if !ok {
			return 0, errGone
		}
		rel = r
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(c.mount, rel), &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return 0, errGone
		}
		return 0, fmt.Errorf("reading cgroup id: %w", err)
	}
	return st.Ino, nil
}
