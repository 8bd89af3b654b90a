package sensor

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// helperOpenLoop opens and closes args[0] args[1] times and prints the
// time per open and close in ns.
func helperOpenLoop(args []string) int {
	n, err := strconv.Atoi(args[1])
	if err != nil || n <= 0 {
		return 2
	}
	start := time.Now()
	for range n {
		fd, err := unix.Openat(unix.AT_FDCWD, args[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 3
		}
		unix.Close(fd)
	}
	fmt.Printf("res=%d\n", time.Since(start).Nanoseconds()/int64(n))
	return 0
}

// BenchmarkRawSysExit compares the raw sys_exit program's two variants on
// this kernel, each in a sensor of its own with every kind on and no
// filter: a helper opens and closes /dev/null b.N times. It reports the
// helper's ns per open and close, and from BPF statistics the program's
// run time per open and its mean per run; both include the machine's
// other syscalls. The direct variant needs bpf_rdonly_cast (Linux 6.2).
func BenchmarkRawSysExit(b *testing.B) {
	testutil.RequireRoot(b)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enabling BPF statistics: %v", err)
	}
	defer stats.Close()
	for _, v := range []struct {
		name string
		read bool
		prog string
	}{{"direct", false, bpf.VigilProgSysExitRaw}, {"helper-reads", true, bpf.VigilProgSysExitRawRead}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			h, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, rawRead: v.read})
			if err != nil {
				b.Fatal(err)
			}
			defer h.close()
			if !h.s.rawSyscalls || h.s.rawDirect == v.read {
				b.Skipf("the kernel lacks this variant (raw %v, direct %v): %v", h.s.rawSyscalls, h.s.rawDirect, h.s.rawErr)
			}
			prog := h.s.coll.Programs[v.prog]
			before, err := prog.Stats()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			c := h.spawn(b, "", "openloop", "/dev/null", strconv.Itoa(b.N)).results
			b.StopTimer()
			after, err := prog.Stats()
			if err != nil {
				b.Fatal(err)
			}
			if len(c) != 1 {
				b.Fatalf("helper printed %v", c)
			}
			b.ReportMetric(float64(c[0]), "ns/open")
			// The program runs at every syscall's exit, the machine's
			// included: per run it is mostly the early return, per open
			// (its run time over the helper's opens) the whole report.
			if runs := after.RunCount - before.RunCount; runs > 0 {
				b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(runs), "bpf-ns/run")
			}
			b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(b.N), "bpf-ns/open")
		})
	}
}
