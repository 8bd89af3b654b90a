package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// readUsers reads the /etc/passwd of the container whose task has pid, as
// the container sees it. The file is opened with openat2 and RESOLVE_IN_ROOT
// below /proc/<pid>/root, so a symlink in the container (/etc/passwd ->
// /etc/shadow) resolves inside the container and never reaches a host
// file; O_NONBLOCK and the regular-file check keep a FIFO from blocking.
func readUsers(procRoot string, pid uint32) (map[uint32]string, error) {
	root, err := unix.Open(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "root"),
		unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening container root: %w", err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, "etc/passwd", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, fmt.Errorf("opening container passwd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "passwd")
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading container passwd: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New("reading container passwd: not a regular file")
	}
	return parsePasswd(f), nil
}

// bootTime returns the system boot time in ns since the epoch, from the
// btime line of /proc/stat.
func bootTime(procRoot string) (int64, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading boot time: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing boot time: %w", err)
			}
			return s * 1e9, nil
		}
	}
	return 0, errors.New("reading boot time: no btime in stat")
}

// userHZ is the clock tick of /proc times, fixed at 100 by the Linux ABI
// whatever the kernel's internal HZ.
const userHZ = 100

// processStart returns when process pid started, in ns since the epoch,
// from field 22 of /proc/<pid>/stat (ticks since boot).
func processStart(procRoot string, pid uint32, boot int64) (int64, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading process start: %w", err)
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("reading process start: malformed stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, errors.New("reading process start: short stat")
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing process start: %w", err)
	}
	return boot + ticks*(1e9/userHZ), nil
}
