package enrich

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vigil-sensor/vigil/internal/procfs"

	"golang.org/x/sys/unix"
)

// readUsers reads the /etc/passwd of the container whose task has pid, as
// the container sees it (readAccounts).
func readUsers(procRoot string, pid uint32) (map[uint32]string, error) {
	return readAccounts(procRoot, pid, "etc/passwd", procfs.ParsePasswd)
}

// readGroups reads the container's /etc/group, as readUsers its passwd.
func readGroups(procRoot string, pid uint32) (map[uint32]string, error) {
	return readAccounts(procRoot, pid, "etc/group", procfs.ParseGroup)
}

// readAccounts reads the account file name (etc/passwd, etc/group) of the
// container whose task has pid, as the container sees it. The file is
// opened with openat2 and RESOLVE_IN_ROOT below /proc/<pid>/root, so a
// symlink in the container (/etc/passwd -> /etc/shadow) resolves inside the
// container and never reaches a host file; O_NONBLOCK and the regular-file
// check keep a FIFO from blocking. Names follow procfs's rules; a file past
// maxPasswdBytes or maxUsers gives the entries it holds up to there.
func readAccounts(procRoot string, pid uint32, name string,
	parse func(io.Reader, procfs.Limits) (map[uint32]string, error)) (map[uint32]string, error) {
	root, err := unix.Open(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "root"),
		unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening container root: %w", err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, fmt.Errorf("opening container %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading container %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("reading container %s: not a regular file", name)
	}
	entries, err := parse(f, procfs.Limits{Bytes: maxPasswdBytes, Entries: maxUsers})
	if err != nil && !errors.Is(err, procfs.ErrTruncated) {
		return nil, fmt.Errorf("reading container %s: %w", name, err)
	}
	return entries, nil
}

// taskStart returns when process pid started, in ns since the epoch: its
// start on the boot clock, from /proc/<pid>/stat, plus the boot clock's
// offset, which is how the sensor times events too.
func taskStart(procRoot string, pid uint32) (int64, error) {
	st, err := procfs.ReadStat(procRoot, pid)
	if err != nil {
		return 0, fmt.Errorf("reading task start: %w", err)
	}
	return st.StartBootNs() + procfs.BootOffset(), nil
}
