package sensor

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/vigil-sensor/vigil/internal/mountinfo"
	"github.com/vigil-sensor/vigil/internal/procfs"

	"github.com/vigil-sensor/vigil/event"
)

// rootCgroupID is the id of a cgroup v2 hierarchy's root (its kernfs node).
const rootCgroupID = 1

// procDir reads processes from /proc for the seed and for table misses.
type procDir struct {
	root       string
	cgroupRoot string
	bootOffset int64
}

// scan reads every process in /proc, oldest first.
func (fs procDir) scan(users *userDB) ([]*event.Process, error) {
	ents, err := os.ReadDir(fs.root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", fs.root, err)
	}
	out := make([]*event.Process, 0, len(ents))
	for _, de := range ents {
		pid, err := strconv.ParseUint(de.Name(), 10, 32)
		if err != nil || pid == 0 {
			continue
		}
		// A process may exit between the listing and the read.
		if p, ok := fs.read(uint32(pid), users); ok {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b *event.Process) int { return cmp.Compare(a.StartTime, b.StartTime) })
	return out, nil
}

// read builds a Process from /proc/<pid>; ok is false when it is gone.
func (fs procDir) read(pid uint32, users *userDB) (*event.Process, bool) {
	st, err := procfs.ReadStat(fs.root, pid)
	if err != nil {
		return nil, false
	}
	p := &event.Process{PID: pid, Name: st.Comm, PPID: st.PPID, TTY: st.TTY, StartTime: st.StartBootNs() + fs.bootOffset}
	if status, err := procfs.ReadStatus(fs.root, pid); err == nil {
		if status.HasIDs {
			p.UID, p.EUID, p.GID = status.UID[0], status.UID[1], status.GID[0]
		}
		if status.HasCaps {
			p.CapInheritable, p.CapPermitted, p.CapEffective = status.CapInh, status.CapPrm, status.CapEff
			p.CapsKnown = true
		}
	}
	dir := filepath.Join(fs.root, strconv.FormatUint(uint64(pid), 10))
	p.LoginUID = ^uint32(0)
	if b, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			p.LoginUID = uint32(v)
		}
	}
	if argv, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.Exe, p.Args = splitArgs(argv)
	}
	p.Cmdline = cmdline(p.Name, p.Args)
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		if s, ok := strings.CutSuffix(exe, " (deleted)"); ok {
			exe = s
			p.ExeDeleted = true
		}
		if strings.HasPrefix(exe, "/memfd:") {
			p.ExeFromMemfd = true
			p.ExeDeleted = false
		}
		p.ExePath = exe
	}
	if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err == nil {
		p.Cwd = cwd
	}
	if cg, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		p.CgroupID = fs.cgroupID(cg)
	}
	p.UserName = users.nameNow(p.UID)
	return p, true
}

// cgroupID turns /proc/<pid>/cgroup's v2 line ("0::/path") into the cgroup
// id BPF reports: the inode number of the cgroup's directory.
func (fs procDir) cgroupID(b []byte) uint64 {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte("0::"))
		if !ok {
			continue
		}
		if fs.cgroupRoot == "" {
			// cgroup v2 is not mounted, so nothing can have moved a
			// process out of its root, whose id is 1.
			if string(rest) == "/" {
				return rootCgroupID
			}
			return 0
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(fs.cgroupRoot, string(rest)), &st); err != nil {
			return 0
		}
		return st.Ino
	}
	return 0
}

// findCgroup2 returns the mount point of the cgroup v2 hierarchy, or ""
// when it is not mounted.
func findCgroup2(procRoot string) string {
	mounts, err := mountinfo.Read(procRoot)
	if err != nil {
		return ""
	}
	m, _ := mountinfo.Cgroup2(mounts)
	return m.Point
}
