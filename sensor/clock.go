package sensor

import "golang.org/x/sys/unix"

// bootOffset returns CLOCK_REALTIME minus CLOCK_BOOTTIME in ns: added to
// bpf_ktime_get_boot_ns() it gives the wall-clock time of a record. Of a few
// samples it keeps the one whose realtime reads were closest together.
func bootOffset() int64 {
	var best, bestGap int64
	for i := 0; i < 5; i++ {
		var r1, b, r2 unix.Timespec
		if unix.ClockGettime(unix.CLOCK_REALTIME, &r1) != nil ||
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &b) != nil ||
			unix.ClockGettime(unix.CLOCK_REALTIME, &r2) != nil {
			continue
		}
		gap := r2.Nano() - r1.Nano()
		if i == 0 || gap < bestGap {
			best, bestGap = (r1.Nano()+r2.Nano())/2-b.Nano(), gap
		}
	}
	return best
}
