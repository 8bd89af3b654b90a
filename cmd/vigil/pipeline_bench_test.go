package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"unsafe"

	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/rules"
	"github.com/vigil-sensor/vigil/sensor"
)

// rawRecord lays out a record as the kernel does: the fixed part from the
// generated type, then the strings, with hdr.size set to the total.
func rawRecord(tb testing.TB, fixed any, strs ...string) []byte {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, fixed); err != nil {
		tb.Fatal(err)
	}
	for _, s := range strs {
		b.WriteString(s)
	}
	raw := b.Bytes()
	binary.LittleEndian.PutUint16(raw[unsafe.Offsetof(bpf.VigilRecHdr{}.Size):], uint16(len(raw)))
	return raw
}

func recHdr(typ bpf.VigilRecType, pid uint32) bpf.VigilRecHdr {
	return bpf.VigilRecHdr{TsBootNs: 5e9, CgroupId: 1, Tgid: pid, Tid: pid, Type: uint16(typ)}
}

func execRecord(tb testing.TB, pid, ppid uint32, comm, exe, cwd string, argv ...string) []byte {
	var args []byte
	for _, a := range argv {
		args = append(append(args, a...), 0)
	}
	rec := bpf.VigilExecRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_EXEC, pid), Ppid: ppid, Loginuid: 1000,
		Uid: 1000, Gid: 1000, Euid: 1000, Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_EXECVE),
		FilenameLen: uint16(len(exe)), ArgsLen: uint16(len(args)), ExeLen: uint16(len(exe)), CwdLen: uint16(len(cwd))}
	copy(rec.Comm[:], comm)
	return rawRecord(tb, rec, exe, string(args), exe, cwd)
}

func openRecord(tb testing.TB, pid uint32, path string, flags uint32) []byte {
	rec := bpf.VigilOpenRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_OPEN, pid), Ret: 3, Flags: flags, Dirfd: -100,
		FileType: 0o100000, Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_OPENAT),
		RawLen: uint16(len(path)), NameLen: uint16(len(path)), Dev: benchDev, Ino: uint64(1000 + len(path)), Nlink: 1}
	return rawRecord(tb, rec, path, path)
}

// benchDev is the device of the benchmark's files.
const benchDev = 254 << 20

// benchIdentities is the table of the files the rules name by identity, as
// the agent learns it, with inodes none of the benchmark's opens has: the
// rules on fd.identity look each open up and find nothing.
func benchIdentities(rs *rules.Ruleset) *event.FileIdentities {
	m := map[event.FileID]string{}
	for i, p := range rs.IdentityPaths() {
		m[event.FileID{Dev: benchDev, Ino: uint64(1 + i)}] = p
	}
	t := &event.FileIdentities{}
	t.Set(m)
	return t
}

func connectRecord(tb testing.TB, pid uint32, ip [4]byte, port uint16) []byte {
	rec := bpf.VigilConnectRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_CONNECT, pid), Fd: 5, Family: event.AFInet,
		SaFamily: event.AFInet, SockType: 1, Proto: event.ProtoTCP, Lport: 40000, Rport: port}
	copy(rec.Laddr[:], []byte{10, 0, 0, 2})
	copy(rec.Raddr[:], ip[:])
	return rawRecord(tb, rec)
}

// benchRules loads vigil's default rules and Falco's stable rules.
func benchRules(tb testing.TB) *rules.Ruleset {
	stable := testutil.FalcoRules(tb, falcorules.Stable)
	return mustLoad(tb, rules.Default(), rules.Source{Name: falcorules.Stable, Data: stable})
}

// defaultRules loads vigil's default rules alone.
func defaultRules(tb testing.TB) *rules.Ruleset { return mustLoad(tb, rules.Default()) }

func mustLoad(tb testing.TB, srcs ...rules.Source) *rules.Ruleset {
	rs, _, err := rules.Load(srcs, rules.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// BenchmarkPipelineNoMatch is the whole userspace hot path for events that
// match no rule, as the sensor's reader runs it: decode, process table,
// container lookup and rules, with vigil's default rules and Falco's
// stable rules loaded. The mix is what a busy host produces: mostly opens
// of ordinary files, some outbound connects.
func BenchmarkPipelineNoMatch(b *testing.B) { benchmarkPipelineNoMatch(b, benchRules(b)) }

// BenchmarkPipelineThreshold is BenchmarkPipelineNoMatch with one more
// rule, a threshold that counts every open of the mix by process and file
// and never reaches its count: the cost of a threshold on the whole path.
func BenchmarkPipelineThreshold(b *testing.B) {
	stable := testutil.FalcoRules(b, falcorules.Stable)
	count := rules.Source{Name: "threshold.yaml", Data: []byte(`- rule: Opens counted
  desc: every open of the mix, counted by process and file
  condition: evt.type = openat and proc.name = python3
  output: "%proc.name opened %fd.name"
  priority: INFO
  threshold: {count: 1048576, window: 1h, by: [proc.name, fd.name]}
`)}
	benchmarkPipelineNoMatch(b, mustLoad(b, rules.Default(), rules.Source{Name: falcorules.Stable, Data: stable}, count))
}

func benchmarkPipelineNoMatch(b *testing.B, rs *rules.Ruleset) {
	table := sensor.NewProcessTable(sensor.TableConfig{ProcRoot: b.TempDir()})
	var dec sensor.Decoder
	var r sensor.Record
	apply := func(raw []byte) {
		if err := dec.Decode(raw, &r); err != nil {
			b.Fatal(err)
		}
		table.Apply(&r)
		table.Release(&r)
	}
	apply(execRecord(b, 10, 1, "bash", "/usr/bin/bash", "/home/u", "bash"))
	apply(execRecord(b, 100, 10, "python3", "/usr/bin/python3", "/srv/app", "python3", "app.py", "--port", "8080"))

	var mix [][]byte
	for _, p := range []string{"/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/srv/app/app.py",
		"/usr/lib/python3.11/os.py", "/srv/app/templates/index.html", "/proc/self/status", "/var/lib/app/data.db",
		"/usr/share/zoneinfo/UTC", "/etc/localtime", "/srv/app/static/site.css"} {
		mix = append(mix, openRecord(b, 100, p, 0o2000000))
	}
	mix = append(mix, openRecord(b, 100, "/var/lib/app/data.db-journal", 0o2000102))
	mix = append(mix, connectRecord(b, 100, [4]byte{93, 184, 216, 34}, 443))

	p := newPipeline(nil, rs, false, output.NewEncoder("bench"), output.NewWriter(io.Discard, 16))
	p.identities = benchIdentities(rs)
	alerts := 0
	p.onMatch = func(*rules.Rule) { alerts++ }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := dec.Decode(mix[i], &r); err != nil {
			b.Fatal(err)
		}
		table.Apply(&r)
		p.handle(&r.Event)
		table.Release(&r)
		if i++; i == len(mix) {
			i = 0
		}
	}
	if alerts != 0 {
		b.Fatalf("%d alerts: the mix is meant to match nothing", alerts)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestPipelineNoMatchAllocs holds the hot path to zero allocations, with
// vigil's default rules and with Falco's stable rules added. The rules load
// outside testing.Benchmark, so a missing Falco file skips visibly.
func TestPipelineNoMatchAllocs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules func(testing.TB) *rules.Ruleset
	}{{"vigil", defaultRules}, {"vigil+falco", benchRules}} {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.rules(t)
			res := testing.Benchmark(func(b *testing.B) { benchmarkPipelineNoMatch(b, rs) })
			if res.N == 0 {
				t.Fatal("benchmark did not run")
			}
			if a := res.AllocsPerOp(); a != 0 {
				t.Errorf("pipeline allocates %d times per event that matches nothing", a)
			}
		})
	}
}
