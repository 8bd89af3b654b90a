package output

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

// richProcess is a process with every process-scoped field set, as an exec
// record and the process table leave it, under a parent.
func richProcess(pid uint32, name string) *event.Process {
	parent := &event.Process{PID: 1, Name: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd", Cmdline: "systemd"}
	return &event.Process{PID: pid, PPID: 1, Name: name, Exe: name, ExePath: "/usr/bin/" + name, Args: "-c \"x\"\ty",
		Cmdline: name + " -c \"x\"\ty", Cwd: "/srv", UID: 1000, GID: 1000, EUID: 0, LoginUID: 1000, TTY: 34816,
		UserName: "u", GroupName: "g", LoginName: "u", StartTime: 1_699_999_999_000_000_000, CgroupID: 7,
		ExeWritable: true, ExeIno: 42, ExeCtime: 1_600_000_000_000_000_000, ExeMtime: 1_600_000_000_000_000_000,
		CapPermitted: 1 << 21, CapEffective: 1 << 21, VPID: pid, VPGID: pid, SID: pid,
		Env: "HOME=/root\x00PATH=/bin\x00", ExecSeen: true, CapsKnown: true,
		CapPermittedNames: "CAP_SYS_ADMIN", CapEffectiveNames: "CAP_SYS_ADMIN", SessionName: name, Parent: parent}
}

// TestAppendEventCached holds the cached encoding to AppendEvent's bytes,
// the first time (rendered), the second
// (read from the cache), and when the process or the container is another
// (a new exec, a change of credentials, containerd's answer), for every
// event type.
func TestAppendEventCached(t *testing.T) {
	enc := NewEncoder("host-1")
	var c EventCache
	p1, p2 := richProcess(10, "bash"), richProcess(10, "python3")
	p2.UserName, p2.CapEffectiveNames = "root", ""
	ctr := &event.Container{ID: "0123456789ab", FullID: "0123456789abcdef", Type: "containerd", Known: true, Name: "web",
		Image: "nginx:1", Users: map[uint32]string{1000: "www"}}
	for typ := event.Type(1); int(typ) < event.NumTypes; typ++ {
		for _, step := range []struct {
			proc *event.Process
			ctr  *event.Container
		}{{p1, nil}, {p1, nil}, {p2, nil}, {p2, ctr}, {p1, nil}, {nil, nil}} {
			e := openEvent()
			e.Type, e.Proc, e.Container = typ, step.proc, step.ctr
			want := enc.AppendEvent(nil, e)
			got := enc.AppendEventCached(nil, e, &c)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s (process %v, container %v):\n got %s\nwant %s", typ, step.proc != nil, step.ctr != nil, got, want)
			}
		}
	}
	if c.Hits == 0 || c.Misses == 0 {
		t.Errorf("cache hits %d, misses %d: want both", c.Hits, c.Misses)
	}
}

// TestAppendEventCachedAllocs keeps cached event encoding free of
// allocations once the cache holds the process.
func TestAppendEventCachedAllocs(t *testing.T) {
	enc := NewEncoder("host-1")
	e := openEvent()
	e.Proc = richProcess(10, "bash")
	var c EventCache
	buf := enc.AppendEventCached(make([]byte, 0, 8192), e, &c)
	if n := testing.AllocsPerRun(100, func() { buf = enc.AppendEventCached(buf[:0], e, &c) }); n != 0 {
		t.Errorf("AppendEventCached: %v allocations per event, want 0", n)
	}
}

// BenchmarkAppendEventCached is BenchmarkAppendEvent for a process whose
// fields the cache holds, as for every event of a process after its first.
func BenchmarkAppendEventCached(b *testing.B) {
	for _, tc := range []struct {
		name   string
		cached bool
	}{{"uncached", false}, {"cached", true}} {
		b.Run(tc.name, func(b *testing.B) {
			enc := NewEncoder("host-1")
			e := openEvent()
			e.Proc = richProcess(10, "bash")
			var c *EventCache
			if tc.cached {
				c = &EventCache{}
			}
			buf := make([]byte, 0, 8192)
			b.ReportAllocs()
			for b.Loop() {
				buf = enc.AppendEventCached(buf[:0], e, c)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// goldenEventRecords are event records of processes with every
// process-scoped field set (environment, capability names, a container),
// one per kind the golden files pin.
func goldenEventRecords() map[string]*event.Event {
	ctr := &event.Container{ID: "0123456789ab", FullID: "0123456789abcdef", Type: "containerd", Known: true, Name: "web",
		Image: "nginx:1", Users: map[uint32]string{1000: "www"}}
	exec := execEvent()
	exec.Proc = richProcess(1000, "nc")
	open := openEvent()
	open.Proc, open.Container = richProcess(10, "cat"), ctr
	conn := connectEvent()
	conn.Proc = richProcess(20, "curl")
	return map[string]*event.Event{"exec": exec, "open": open, "connect": conn}
}

// TestGoldenEventRecords pins the bytes of rich event records, encoded
// directly and through the cache (rendered, then read back); regenerate
// with `go test ./internal/output -update` after an intended change.
func TestGoldenEventRecords(t *testing.T) {
	enc := NewEncoder("host-1")
	var c EventCache
	for kind, e := range goldenEventRecords() {
		got := enc.AppendEvent(nil, e)
		checkGolden(t, filepath.Join("testdata", "event_rich_"+kind+".json"), got)
		for range 2 {
			if cached := enc.AppendEventCached(nil, e, &c); !bytes.Equal(cached, got) {
				t.Errorf("%s: cached record\n got %s\nwant %s", kind, cached, got)
			}
		}
	}
}

// TestProcessFactsOnlyWhereSet holds the environment to the records of
// execs and forks, and the capability names to those and the credential
// changes: every other event type of the same process leaves them out,
// directly and through the cache.
func TestProcessFactsOnlyWhereSet(t *testing.T) {
	enc := NewEncoder("host-1")
	var c EventCache
	p := richProcess(10, "bash")
	want := map[string]any{"proc.env": "HOME=/root PATH=/bin", "thread.cap_effective": "CAP_SYS_ADMIN",
		"thread.cap_permitted": "CAP_SYS_ADMIN", "thread.cap_inheritable": ""}
	carried := 0
	for typ := event.Type(1); int(typ) < event.NumTypes; typ++ {
		e := openEvent()
		e.Type, e.Proc = typ, p
		k := typ.Kind()
		for _, rec := range [][]byte{enc.AppendEvent(nil, e), enc.AppendEventCached(nil, e, &c)} {
			var line struct {
				Fields map[string]any `json:"fields"`
			}
			if err := json.Unmarshal(rec, &line); err != nil {
				t.Fatalf("%s: %v: %s", typ, err, rec)
			}
			for name, v := range want {
				got, has := line.Fields[name]
				wantHas := k == event.KindExec || k == event.KindFork || (k == event.KindCred && name != "proc.env")
				if has != wantHas {
					t.Errorf("%s: %s in the record %v, want %v", typ, name, has, wantHas)
				} else if has && got != v {
					t.Errorf("%s: %s %q, want %q", typ, name, got, v)
				}
				if has {
					carried++
				}
			}
		}
	}
	// execve, execveat, clone and the cred types, each encoded twice.
	if carried < 2*(2*4+4+6*3) {
		t.Errorf("the facts were carried %d times, want them in every exec, fork and cred record", carried)
	}
}

// TestAppendEventCachedHead holds the record's head, whose date and time of
// day the cache renders once a second, to AppendEvent's bytes for times in
// one second, the next, an earlier one, on a second's boundary and before
// 1970, and for an event type the encoder does not know.
func TestAppendEventCachedHead(t *testing.T) {
	enc := NewEncoder("host \"1\"")
	var c EventCache
	for _, ns := range []int64{1_700_000_000_000_000_001, 1_700_000_000_999_999_999, 1_700_000_001_000_000_000,
		1_700_000_000_500_000_000, 1_700_003_600_000_000_007, -1, -1_000_000_000, -1_500_000_000, 0, 1<<63 - 1} {
		for _, typ := range []event.Type{event.TypeOpenat, event.TypeConnect, event.Type(event.NumTypes + 3)} {
			e := openEvent()
			e.Time, e.Type = ns, typ
			want := enc.AppendEvent(nil, e)
			if got := enc.AppendEventCached(nil, e, &c); !bytes.Equal(got, want) {
				t.Errorf("time %d, type %d:\n got %s\nwant %s", ns, typ, got, want)
			}
		}
	}
}
