package sensor

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/rules"
)

// BenchmarkOpenFilterRules measures what the kernel's open filter costs a
// read that no rule can match (the harness's open loop: an absolute path
// in a temporary directory), with the filter derived from vigil's default
// rules and from Falco's stable rules, in a sensor of its own on the raw
// sys_exit program: a helper opens and closes the file b.N times. It
// reports the helper's ns per open and close and, from BPF statistics, the
// raw program's run time per open (its runs for the machine's other
// syscalls included, which are few next to the loop's). The rules package
// is imported here, by the test only, to derive the filters as vigil run
// does.
func BenchmarkOpenFilterRules(b *testing.B) {
	testutil.RequireRoot(b)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enabling BPF statistics: %v", err)
	}
	defer stats.Close()
	target := filepath.Join(b.TempDir(), "target")
	if err := os.WriteFile(target, []byte("vigil\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		srcs func(testing.TB) []rules.Source
	}{
		{"default", func(testing.TB) []rules.Source { return []rules.Source{rules.Default()} }},
		{"falco-stable", func(tb testing.TB) []rules.Source {
			return []rules.Source{{Name: falcorules.Stable, Data: testutil.FalcoRules(tb, falcorules.Stable)}}
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			rs, _, err := rules.Load(v.srcs(b), rules.Options{})
			if err != nil {
				b.Fatalf("loading rules: %v", err)
			}
			h, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer h.close()
			if !h.s.rawSyscalls || !h.s.rawDirect {
				b.Skipf("the raw sys_exit program with direct loads is not in use: %v", h.s.rawErr)
			}
			if err := h.s.SetFilter(event.KindOpen, rs.Filters()[event.KindOpen]); err != nil {
				b.Fatalf("SetFilter: %v", err)
			}
			prog := h.s.coll.Programs[bpf.VigilProgSysExitRaw]
			before, err := prog.Stats()
			if err != nil {
				b.Fatal(err)
			}
			filtered := h.s.Stats().Kinds[event.KindOpen].Filtered
			b.ResetTimer()
			c := h.spawn(b, "", "openloop", target, strconv.Itoa(b.N)).results
			b.StopTimer()
			after, err := prog.Stats()
			if err != nil {
				b.Fatal(err)
			}
			if len(c) != 1 {
				b.Fatalf("helper printed %v", c)
			}
			if got := h.s.Stats().Kinds[event.KindOpen].Filtered - filtered; got < uint64(b.N) {
				b.Fatalf("%d opens filtered of the loop's %d: the benchmark measures the filter's rejection", got, b.N)
			}
			b.ReportMetric(float64(c[0]), "ns/open")
			b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(b.N), "bpf-ns/open")
		})
	}
}
