package procfs

import (
	"time"

	"golang.org/x/sys/unix"
)

// UserHZ is the unit of the times in /proc/<pid>/stat: USER_HZ, fixed at
// 100 by the kernel's user ABI on every architecture, whatever its internal
// HZ.
const UserHZ = 100

// Tick is one clock tick of /proc/<pid>/stat.
const Tick = time.Second / UserHZ

// BootOffset returns CLOCK_REALTIME minus CLOCK_BOOTTIME in ns: added to a
// time on the boot clock (bpf_ktime_get_boot_ns, Stat.StartBootNs) it gives
// ns since the Unix epoch. Of a few samples it keeps the one whose two
// realtime reads were closest together, so a preemption between the reads
// does not skew it. The offset moves when the wall clock is stepped or
// slewed: callers that keep it re-read it (the sensor does every second).
func BootOffset() int64 {
	var best, bestGap int64
	found := false
	for range 5 {
		var r1, b, r2 unix.Timespec
		if unix.ClockGettime(unix.CLOCK_REALTIME, &r1) != nil ||
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &b) != nil ||
			unix.ClockGettime(unix.CLOCK_REALTIME, &r2) != nil {
			continue
		}
		gap := r2.Nano() - r1.Nano()
		if !found || gap < bestGap {
			best, bestGap, found = (r1.Nano()+r2.Nano())/2-b.Nano(), gap, true
		}
	}
	return best
}
