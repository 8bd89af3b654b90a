// Package mountinfo reads /proc/<pid>/mountinfo: the sensor, enrichment and
// the containerd test harness all need to find the cgroup v2 mount, and the
// harness to list mounts under a directory.
package mountinfo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Mount is one line of mountinfo.
type Mount struct {
	// Root is the mounted directory of the filesystem ("/" for all of it);
	// Point is where it is mounted; FSType is e.g. "cgroup2".
	Root, Point, FSType string
}

// Parse reads mountinfo text; malformed lines are skipped.
func Parse(data string) []Mount {
	var out []Mount
	for _, line := range strings.Split(data, "\n") {
		// id parent major:minor root mountpoint options... - fstype source super
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 1 {
			continue
		}
		out = append(out, Mount{Root: unescape(f[3]), Point: unescape(f[4]), FSType: g[0]})
	}
	return out
}

// Read parses procRoot/self/mountinfo (procRoot is usually "/proc").
func Read(procRoot string) ([]Mount, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return Parse(string(data)), nil
}

// Cgroup2 returns the first cgroup v2 mount: /sys/fs/cgroup on unified
// hosts, /sys/fs/cgroup/unified on hybrid ones.
func Cgroup2(mounts []Mount) (Mount, bool) {
	for _, m := range mounts {
		if m.FSType == "cgroup2" {
			return m, true
		}
	}
	return Mount{}, false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
