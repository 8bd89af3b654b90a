package rules

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-sensor/vigil/event"
	"golang.org/x/sys/unix"
)

// thresholdRule is a rule on opens with the threshold given (a flow
// mapping, or "" for none).
func thresholdRule(threshold string) string {
	s := "- rule: x\n  desc: d\n  condition: evt.type = openat\n  output: opened %fd.name by %proc.name\n  priority: INFO\n"
	if threshold != "" {
		s += "  threshold: " + threshold + "\n"
	}
	return s
}

// sequenceRule is a rule with the sequence given, as a block under
// "sequence:".
func sequenceRule(seq string) string {
	return "- rule: s\n  desc: d\n  output: ran %proc.exepath\n  priority: WARNING\n  sequence:\n" + seq
}

// TestAggregateKeyErrors checks that vigil validate's errors for the
// threshold and sequence keys name the exact file:line:col.
func TestAggregateKeyErrors(t *testing.T) {
	tests := []struct {
		name, text, code, pos, msg string
	}{
		{"threshold not a mapping", thresholdRule("20"), ErrYAMLValidate, "test.yaml:6:14", "Value of threshold must be a mapping"},
		{"unknown sub-key", thresholdRule("{count: 2, window: 1m, per: [proc.name]}"), ErrYAMLValidate, "test.yaml:6:37", "Unknown key 'per' in threshold"},
		{"zero count", thresholdRule("{count: 0, window: 1m}"), ErrYAMLValidate, "test.yaml:6:22", "threshold.count must be positive, not 0"},
		{"negative count", thresholdRule("{count: -3, window: 1m}"), ErrYAMLValidate, "test.yaml:6:22", "threshold.count must be positive, not -3"},
		{"count not a number", thresholdRule("{count: many, window: 1m}"), ErrYAMLValidate, "test.yaml:6:22", "'many' is not an integer"},
		{"count too large", thresholdRule("{count: 100000000, window: 1m}"), ErrYAMLValidate, "test.yaml:6:22", "at most 1048576"},
		{"missing count", thresholdRule("{window: 1m}"), ErrYAMLValidate, "test.yaml:6:14", "no mapping for key 'count'"},
		{"bad window", thresholdRule("{count: 2, window: 60}"), ErrYAMLValidate, "test.yaml:6:33", "threshold.window: '60' is not a duration"},
		{"negative window", thresholdRule("{count: 2, window: -5s}"), ErrYAMLValidate, "test.yaml:6:33", "threshold.window must be positive"},
		{"window too long", thresholdRule("{count: 2, window: 48h}"), ErrYAMLValidate, "test.yaml:6:33", "at most 24h0m0s"},
		{"unknown by field", thresholdRule("{count: 2, window: 1m, by: [proc.name, proc.nmae]}"), ErrYAMLValidate, "test.yaml:6:53", "unknown field 'proc.nmae'"},
		{"by not a list", thresholdRule("{count: 2, window: 1m, by: proc.name}"), ErrYAMLValidate, "test.yaml:6:41", "threshold.by must be a sequence"},
		{"by bad argument", thresholdRule("{count: 2, window: 1m, by: ['proc.name[2]']}"), ErrYAMLValidate, "test.yaml:6:42", "does not take an argument"},
		{"threshold and sequence", thresholdRule("{count: 2, window: 1m}") + "  sequence: {by: proc, window: 1m, steps: [a, b]}\n",
			ErrYAMLValidate, "test.yaml:6:3", "a threshold or a sequence, not both"},
		{"sequence one step", sequenceRule("    by: proc\n    window: 1m\n    steps:\n      - evt.type = openat\n"),
			ErrYAMLValidate, "test.yaml:9:7", "sequence.steps takes 2 to 8 conditions, not 1"},
		{"sequence bad by", sequenceRule("    by: user\n    window: 1m\n    steps: [evt.type = openat, evt.type = execve]\n"),
			ErrYAMLValidate, "test.yaml:6:9", "sequence.by must be proc, proc.tree or container, not 'user'"},
		{"sequence unknown key", sequenceRule("    by: proc\n    within: 1m\n    steps: [evt.type = openat, evt.type = execve]\n"),
			ErrYAMLValidate, "test.yaml:7:5", "Unknown key 'within' in sequence"},
		{"sequence bad window", sequenceRule("    by: proc\n    window: soon\n    steps: [evt.type = openat, evt.type = execve]\n"),
			ErrYAMLValidate, "test.yaml:7:13", "sequence.window: 'soon' is not a duration"},
		{"sequence step parse error", sequenceRule("    by: proc\n    window: 1m\n    steps:\n      - evt.type = openat\n      - evt.type = execve and (\n"),
			ErrCompileCondition, "test.yaml:10:32", "expected a '(' token"},
		{"threshold append twice", thresholdRule("{count: 2, window: 1m}") + "- rule: x\n  threshold: {count: 3, window: 1m}\n  override:\n    threshold: append\n",
			ErrValidate, "test.yaml:8:14", "has a threshold already"},
		{"threshold on a sequence", sequenceRule("    by: proc\n    window: 1m\n    steps: [evt.type = openat, evt.type = execve]\n") +
			"- rule: s\n  threshold: {count: 3, window: 1m}\n  override:\n    threshold: replace\n", ErrValidate, "test.yaml:10:14", "is a sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, res, err := loadOne(t, tt.text, Options{})
			if err == nil || rs != nil {
				t.Fatalf("loaded, want error %q", tt.msg)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			m := res.Errors()[0]
			if m.Code != tt.code || m.Pos().String() != tt.pos || !strings.Contains(m.Message, tt.msg) {
				t.Errorf("\n got %s %s %q\nwant %s %s %q\n%s", m.Code, m.Pos(), m.Message, tt.code, tt.pos, tt.msg, m.Context.Snippet)
			}
		})
	}
}

// TestFalcoFileWithoutVigilKeys checks that the keys change nothing for a
// file that does not use them, and that they draw no unknown-key warning.
func TestFalcoFileWithoutVigilKeys(t *testing.T) {
	rs, res, err := loadOne(t, thresholdRule("{count: 2, window: 1m}")+sequenceRule("    by: proc\n    window: 1m\n    steps: [evt.type = openat, evt.type = execve]\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings() {
		if w.Code == WarnUnknownKey {
			t.Errorf("warning %s", w)
		}
	}
	if n, w, ok := rs.Rule("x").Threshold(); !ok || n != 2 || w != "1m" {
		t.Errorf("Threshold() = %d %q %v", n, w, ok)
	}
	if n, by, w, ok := rs.Rule("s").Sequence(); !ok || n != 2 || by != "proc" || w != "1m" {
		t.Errorf("Sequence() = %d %q %q %v", n, by, w, ok)
	}
	plain := mustLoad(t, Options{}, thresholdRule(""))
	if _, _, ok := plain.Rule("x").Threshold(); ok {
		t.Error("a rule without the key has a threshold")
	}
	if plain.NewMatcher().groups != nil {
		t.Error("a ruleset without stateful rules keeps group state")
	}
}

// fire runs events through rs and returns, per event, the aggregate
// fields of the alerts it raised, rendered name=value.
func fire(rs *Ruleset, events ...*event.Event) [][]string {
	var out [][]string
	for _, e := range events {
		var got []string
		rs.Match(e, func(r *Rule) {
			for _, f := range rs.AppendAggregateFields(nil, r) {
				v := f.Str
				switch {
				case !f.OK:
					v = "null"
				case f.Type != event.FieldString:
					v = fmt.Sprint(f.Num)
				}
				got = append(got, r.Name+":"+f.Name+"="+v)
			}
		})
		out = append(out, got)
	}
	return out
}

func at(e *event.Event, sec float64) *event.Event {
	c := *e
	c.Time = int64(sec * 1e9)
	return &c
}

// TestThresholdFires checks the count, the window, the grouping and the
// re-arming of a threshold, and the fields its alert carries.
func TestThresholdFires(t *testing.T) {
	rs := mustLoad(t, Options{}, thresholdRule("{count: 3, window: 10s, by: [proc.name]}"))
	bash := procTree()
	vim := proc("vim", "/usr/bin/vim", "", bash)
	ob := openEvent(bash, nil, "/etc/hosts", unix.O_RDONLY, 3)
	ov := openEvent(vim, nil, "/etc/hosts", unix.O_RDONLY, 3)
	got := fire(rs,
		at(ob, 1), at(ov, 2), at(ob, 3), // bash 2, vim 1
		at(ob, 4),            // bash 3: fires
		at(ob, 5), at(ob, 6), // same window: no more alerts
		at(ov, 13), at(ov, 14), // vim's window (from 2s) closed at 12s: 1, 2
		at(ob, 11.5),                           // bash's window (from 1s) closed at 11s: 1
		at(ov, 15),                             // vim 3 in its new window: fires
		at(ob, 12), at(ob, 12.5), at(ob, 13.5)) // bash 2, 3 (fires), 4
	want := [][]string{nil, nil, nil,
		{"x:vigil.threshold.count=3", "x:vigil.threshold.window=10s", "x:vigil.threshold.first=1000000000", "x:vigil.threshold.last=4000000000"},
		nil, nil, nil, nil, nil,
		{"x:vigil.threshold.count=3", "x:vigil.threshold.window=10s", "x:vigil.threshold.first=13000000000", "x:vigil.threshold.last=15000000000"},
		nil,
		{"x:vigil.threshold.count=3", "x:vigil.threshold.window=10s", "x:vigil.threshold.first=11500000000", "x:vigil.threshold.last=12500000000"},
		nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("\n got %v\nwant %v", got, want)
	}
	if n := rs.Groups(); n != 2 {
		t.Errorf("Groups() = %d, want 2", n)
	}
}

// TestThresholdThroughOverride adds a threshold to a rule of another file,
// as a user would to one of Falco's, with override and with the
// deprecated append key; a plain rule after it still matches under
// first-match while the threshold is not reached.
func TestThresholdThroughOverride(t *testing.T) {
	upstream := "- rule: Read hosts\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/hosts\n  output: read %fd.name\n  priority: WARNING\n" +
		"- rule: Any open\n  desc: d\n  condition: evt.type = openat\n  output: open %fd.name\n  priority: INFO\n"
	for name, local := range map[string]string{
		"override":        "- rule: Read hosts\n  threshold:\n    count: 2\n    window: 1m\n  override:\n    threshold: replace\n",
		"override append": "- rule: Read hosts\n  threshold: {count: 2, window: 1m}\n  override: {threshold: append}\n",
		"append":          "- rule: Read hosts\n  threshold: {count: 2, window: 1m}\n  append: true\n",
	} {
		t.Run(name, func(t *testing.T) {
			rs := mustLoad(t, Options{}, upstream, local)
			e := openEvent(procTree(), nil, "/etc/hosts", unix.O_RDONLY, 3)
			var names []string
			for i := range 3 {
				rs.Match(at(e, float64(i)), func(r *Rule) { names = append(names, r.Name) })
			}
			if want := []string{"Any open", "Read hosts", "Any open"}; !slices.Equal(names, want) {
				t.Errorf("alerts %q, want %q", names, want)
			}
		})
	}
}

// TestSequenceProcTree follows a file written below /tmp and then run,
// with the steps in sibling processes under one shell, as the process
// table links them.
func TestSequenceProcTree(t *testing.T) {
	rs := mustLoad(t, Options{}, "- rule: s\n  desc: d\n  output: ran %proc.exepath (%fd.name)\n  priority: WARNING\n"+
		"  sequence:\n    by: proc.tree\n    window: 30s\n    steps:\n"+
		"      - evt.type = openat and evt.is_open_write = true and fd.name startswith /tmp/\n"+
		"      - evt.type = execve and proc.exepath startswith /tmp/\n")
	bash := procTree()
	cp := proc("cp", "/usr/bin/cp", "/bin/true /tmp/x", bash)
	cp.PID = 1001
	run := proc("x", "/tmp/x", "", bash)
	run.PID = 1002
	other := proc("x", "/tmp/x", "", procTree().Parent) // under sshd, not bash
	other.PID = 1003
	write := openEvent(cp, nil, "/tmp/x", unix.O_WRONLY|unix.O_CREAT, 3)
	got := fire(rs,
		at(execEvent(run, nil), 1), // exec before any write: nothing
		at(write, 2),
		at(execEvent(other, nil), 3),               // not in bash's tree
		at(execEvent(run, nil), 4),                 // fires
		at(execEvent(run, nil), 5),                 // the sequence is done
		at(write, 10), at(execEvent(run, nil), 41)) // out of the window
	names := func(steps ...string) []string {
		out := []string{"s:vigil.sequence.by=proc.tree", "s:vigil.sequence.window=30s", "s:vigil.sequence.first=2000000000", "s:vigil.sequence.last=4000000000"}
		return append(out, steps...)
	}
	want := [][]string{nil, nil, nil, names(
		"s:vigil.sequence.step1.time=2000000000", "s:vigil.sequence.step1.proc.exepath=/usr/bin/cp", "s:vigil.sequence.step1.fd.name=/tmp/x",
		"s:vigil.sequence.step2.time=4000000000", "s:vigil.sequence.step2.proc.exepath=/tmp/x", "s:vigil.sequence.step2.fd.name=null"),
		nil, nil, nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("\n got %v\nwant %v", got, want)
	}
}

// TestSequenceByProcAndContainer checks the other two groupings.
func TestSequenceByProcAndContainer(t *testing.T) {
	const steps = "    window: 1m\n    steps:\n      - evt.type = execve and proc.name in (bash, sh)\n      - evt.type = connect\n"
	bash := procTree()
	curl := proc("curl", "/usr/bin/curl", "", bash)
	curl.PID = 1200
	c1, c2 := ctr("aaaaaaaaaaaa"), ctr("bbbbbbbbbbbb")
	t.Run("proc", func(t *testing.T) {
		rs := mustLoad(t, Options{}, sequenceRule("    by: proc\n"+steps))
		got := fire(rs, at(execEvent(bash, nil), 1), at(connectEvent(curl, nil, "10.0.0.1:4000", "1.2.3.4:443", 0), 2),
			at(connectEvent(bash, nil, "10.0.0.1:4000", "1.2.3.4:443", 0), 3))
		if got[0] != nil || got[1] != nil || got[2] == nil {
			t.Errorf("alerts %v: want one, on the shell's own connect", got)
		}
	})
	t.Run("container", func(t *testing.T) {
		rs := mustLoad(t, Options{}, sequenceRule("    by: container\n"+steps))
		got := fire(rs, at(execEvent(bash, c1), 1), at(connectEvent(curl, c2, "10.0.0.1:4000", "1.2.3.4:443", 0), 2),
			at(connectEvent(curl, c1, "10.0.0.1:4000", "1.2.3.4:443", 0), 3))
		if got[0] != nil || got[1] != nil || got[2] == nil {
			t.Errorf("alerts %v: want one, on the connect in the shell's container", got)
		}
	})
}

// TestGroupCaps checks that the per-rule and total caps hold, that full
// tables evict their oldest group and count it, and that groups whose
// window closed are reclaimed without a count.
func TestGroupCaps(t *testing.T) {
	stats := &GroupStats{}
	rs := mustLoad(t, Options{Groups: GroupLimits{PerRule: 3, Total: 4, Stats: stats}},
		thresholdRule("{count: 2, window: 10s, by: [fd.name]}"))
	p := procTree()
	open := func(name string, sec float64) *event.Event {
		return at(openEvent(p, nil, name, unix.O_RDONLY, 3), sec)
	}
	// Five names into a cap of three.
	for i, name := range []string{"/a", "/b", "/c", "/d", "/e"} {
		fire(rs, open(name, float64(i)))
	}
	if got := rs.Groups(); got != 3 {
		t.Errorf("groups %d, want 3 (the per-rule cap)", got)
	}
	if got := stats.RuleCap.Load(); got != 2 {
		t.Errorf("per-rule evictions %d, want 2", got)
	}
	// /a was evicted: it starts again at 1 and does not fire; /e fires.
	if got := fire(rs, open("/a", 5), open("/e", 6)); got[0] != nil || got[1] == nil {
		t.Errorf("alerts %v, want only /e's", got)
	}
	// After every window closed, new groups reclaim old ones uncounted.
	before := stats.RuleCap.Load() + stats.TotalCap.Load()
	fire(rs, open("/f", 100), open("/g", 101), open("/h", 102))
	if after := stats.RuleCap.Load() + stats.TotalCap.Load(); after != before {
		t.Errorf("evictions grew from %d to %d for closed windows", before, after)
	}
}

// TestGroupTotalCap checks the cap over all rules.
func TestGroupTotalCap(t *testing.T) {
	stats := &GroupStats{}
	rs := mustLoad(t, Options{MatchAll: true, Groups: GroupLimits{PerRule: 100, Total: 4, Stats: stats}},
		thresholdRule("{count: 2, window: 10s, by: [fd.name]}"),
		strings.ReplaceAll(thresholdRule("{count: 2, window: 10s, by: [fd.name]}"), "rule: x", "rule: y"))
	p := procTree()
	for i, name := range []string{"/a", "/b", "/c"} {
		fire(rs, at(openEvent(p, nil, name, unix.O_RDONLY, 3), float64(i)))
	}
	if got, ev := rs.Groups(), stats.TotalCap.Load(); got != 4 || ev != 2 {
		t.Errorf("groups %d, total-cap evictions %d; want 4 and 2", got, ev)
	}
}

// TestGroupMemoryBounded floods a threshold with a million distinct keys
// and checks that the heap stays within the default cap's budget.
func TestGroupMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million events")
	}
	rs := mustLoad(t, Options{}, thresholdRule("{count: 5, window: 1h, by: [fd.name, proc.name]}"))
	p := procTree()
	e := openEvent(p, nil, "", unix.O_RDONLY, 3)
	name := make([]byte, 0, 64)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	const n = 1_000_000
	for i := range n {
		name = fmt.Appendf(name[:0], "/var/lib/flood/%09d", i)
		e.Open.Name, e.Open.Raw = name, name
		e.Time = int64(i) * 1000
		rs.Match(e, nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grown := int64(ms.HeapAlloc) - int64(base)
	if got := rs.Groups(); got != DefaultGroupsPerRule {
		t.Errorf("groups %d, want the per-rule cap %d", got, DefaultGroupsPerRule)
	}
	if ev := rs.GroupStats().RuleCap.Load(); ev != n-DefaultGroupsPerRule {
		t.Errorf("evictions %d, want %d", ev, n-DefaultGroupsPerRule)
	}
	perGroup := grown / DefaultGroupsPerRule
	t.Logf("heap grew %d KiB for %d groups: %d bytes per group", grown>>10, DefaultGroupsPerRule, perGroup)
	// The README's figure (about 200 bytes a group) with room for the
	// map's growth: the default total, 65536 groups, stays under 24 MiB.
	if perGroup > 360 {
		t.Errorf("%d bytes per group, want at most 360", perGroup)
	}
}

// TestThresholdNoAllocOnceGrouped checks the hot path: a threshold rule's
// match, once its group exists, allocates nothing.
func TestThresholdNoAllocOnceGrouped(t *testing.T) {
	rs := mustLoad(t, Options{}, thresholdRule("{count: 1000000, window: 1h, by: [proc.name, fd.name, container.id]}"))
	e := openEvent(procTree(), ctr("0123456789ab"), "/etc/hosts", unix.O_RDONLY, 3)
	rs.Match(e, nil)
	if n := testing.AllocsPerRun(1000, func() {
		e.Time += int64(time.Microsecond)
		rs.Match(e, nil)
	}); n != 0 {
		t.Errorf("%v allocations per event", n)
	}
}

// TestThresholdLongKeys checks that by fields with long values group as
// the values do, while each group keeps a short key.
func TestThresholdLongKeys(t *testing.T) {
	rs := mustLoad(t, Options{}, thresholdRule("{count: 2, window: 1m, by: [fd.name]}"))
	p := procTree()
	long := "/srv/" + strings.Repeat("a", 300)
	e1 := openEvent(p, nil, long+"1", unix.O_RDONLY, 3)
	e2 := openEvent(p, nil, long+"2", unix.O_RDONLY, 3)
	got := fire(rs, at(e1, 1), at(e2, 2), at(e1, 3))
	if got[0] != nil || got[1] != nil || got[2] == nil {
		t.Errorf("alerts %v: want one, on the second open of the first name", got)
	}
	for key := range rs.def.groups.rules[0].groups {
		if len(key) > maxGroupKey {
			t.Errorf("a group keeps a key of %d bytes", len(key))
		}
	}
}

// TestSequenceCapturedBytesBounded floods a sequence's first step with
// long values: each value kept is cut, and the bytes kept stay within
// their bound, the oldest sequences evicted and counted.
func TestSequenceCapturedBytesBounded(t *testing.T) {
	rs := mustLoad(t, Options{Groups: GroupLimits{PerRule: 1 << 20, Total: 1 << 20}},
		"- rule: s\n  desc: d\n  output: wrote %fd.name\n  priority: WARNING\n"+
			"  sequence:\n    by: proc\n    window: 1h\n    steps: [evt.type = openat, evt.type = execve]\n")
	p := procTree()
	long := "/srv/" + strings.Repeat("é", 2000)
	e := openEvent(p, nil, long, unix.O_RDONLY, 3)
	const n = 20000
	for i := range n {
		e.PID = uint32(i + 1)
		e.Time = int64(i)
		rs.Match(e, nil)
	}
	st := rs.def.groups
	if st.captured > maxCapturedBytes {
		t.Errorf("sequences keep %d bytes, more than %d", st.captured, maxCapturedBytes)
	}
	if ev := rs.GroupStats().TotalCap.Load(); ev == 0 || int64(n)-int64(ev) != rs.Groups() {
		t.Errorf("%d evictions, %d groups, for %d first steps", ev, rs.Groups(), n)
	}
	for _, g := range st.slab {
		for _, step := range g.steps {
			for _, v := range step {
				if len(v.Str) > maxStepValue || !utf8.ValidString(v.Str) {
					t.Fatalf("a step keeps a value of %d bytes (valid UTF-8: %v)", len(v.Str), utf8.ValidString(v.Str))
				}
			}
		}
	}
}
