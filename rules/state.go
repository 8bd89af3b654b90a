package rules

import (
	"hash/maphash"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/vigil-sensor/vigil/event"
)

// Default bounds on the groups of threshold and sequence rules. A group
// costs about 200 bytes plus its key (measured by TestGroupMemoryBounded),
// so the default total stays near 16 MiB, a quarter of DESIGN.md's RSS
// budget, under a flood of distinct keys.
const (
	DefaultGroupsPerRule = 16384
	DefaultGroups        = 65536
)

// GroupLimits bounds the state of threshold and sequence rules: the groups
// (one value of a threshold's by fields, or one sequence in progress) each
// rule keeps, and all rules together. Zero takes the default.
type GroupLimits struct {
	PerRule, Total int
	// Stats, when set, counts evictions across rulesets, so that the
	// counts survive reloads; nil counts in the Ruleset only.
	Stats *GroupStats
}

// GroupStats counts groups evicted while their window was still open,
// because a rule (RuleCap) or all rules together (TotalCap) held as many
// as they may: each is a threshold count or a sequence lost. Groups whose
// window closed are dropped without being counted.
type GroupStats struct {
	RuleCap, TotalCap atomic.Uint64
}

// threshold is a compiled threshold key.
type threshold struct {
	count      uint32
	window     int64
	windowText string
	by         []byFieldInfo
}

// sequence is a compiled sequence key.
type sequence struct {
	by         sequenceBy
	window     int64
	windowText string
	steps      []seqStep
}

type seqStep struct {
	types typeSet
	pred  pred
}

// maxTreeDepth bounds the parent chain a proc.tree sequence walks.
const maxTreeDepth = 64

// compileSequence compiles the steps of a prepared sequence.
func (l *loader) compileSequence(cc *compiler, pr *prepared) (*sequence, error) {
	si := pr.info.sequence
	s := &sequence{by: si.by, window: int64(si.window), windowText: si.windowText}
	for _, st := range pr.steps {
		p := pred(func(*evalCtx) bool { return true })
		if st.tree != nil {
			var err error
			if p, err = cc.compile(st.tree); err != nil {
				return nil, err
			}
		}
		s.steps = append(s.steps, seqStep{types: st.types, pred: p})
	}
	return s, nil
}

// stepFieldNames names the output fields of each step of a sequence:
// "vigil.sequence.step<i>.time", then "vigil.sequence.step<i>.<field>" for
// each field of the output, steps numbered from 1.
func stepFieldNames(steps int, out *template) []string {
	names := make([]string, 0, steps*(len(out.fields)+1))
	for i := 1; i <= steps; i++ {
		prefix := "vigil.sequence.step" + strconv.Itoa(i) + "."
		names = append(names, prefix+"time")
		for _, f := range out.fields {
			names = append(names, prefix+f.name)
		}
	}
	return names
}

// group is one group of a threshold rule or one sequence in progress.
// Groups live in a slab, linked in two lists ordered by the start of their
// window: the rule's and everyone's, oldest first, so that the oldest is
// what a full table evicts and what a closed window reclaims.
type group struct {
	key                        string
	rule                       int32
	gprev, gnext, rprev, rnext int32
	first, last                int64
	count                      uint32
	fired                      bool
	// next is the sequence step the group waits for; steps holds the
	// output fields of the steps done, time first, values copied.
	next  int
	steps [][]FieldValue
	bytes int
}

// ruleState is one stateful rule's groups.
type ruleState struct {
	groups     map[string]int32
	head, tail int32
	n          int
	window     int64
}

// groupState is a Matcher's threshold and sequence state. Only the
// matcher's goroutine touches it, except live, read by metrics.
type groupState struct {
	perRule, total int
	stats          *GroupStats
	live           atomic.Int64
	// captured is the bytes of step values the sequences keep.
	captured   int
	rules      []ruleState
	slab       []group
	free       []int32
	head, tail int32
	// key is the group key being built, reused across events; seed
	// hashes the keys longer than maxGroupKey.
	key  []byte
	seed maphash.Seed

	// What the last firing rule reports (AppendAggregateFields).
	fired struct {
		count       uint32
		first, last int64
		steps       [][]FieldValue
	}
}

func newGroupState(rs *Ruleset) *groupState {
	st := &groupState{perRule: rs.limits.PerRule, total: rs.limits.Total, stats: rs.limits.Stats,
		head: -1, tail: -1, key: make([]byte, 0, 256), seed: maphash.MakeSeed()}
	st.rules = make([]ruleState, rs.nstateful)
	for _, r := range rs.rules {
		if r.state < 0 {
			continue
		}
		w := int64(0)
		switch {
		case r.threshold != nil:
			w = r.threshold.window
		case r.seq != nil:
			w = r.seq.window
		}
		st.rules[r.state] = ruleState{groups: map[string]int32{}, head: -1, tail: -1, window: w}
	}
	return st
}

// insert makes a group for key in rule ri at time now, making room first:
// groups whose window closed go without a count, then the rule's oldest
// if the rule is full, then everyone's oldest if the table is.
func (st *groupState) insert(ri int32, key []byte, now int64) int32 {
	rs := &st.rules[ri]
	for rs.head >= 0 && now-st.slab[rs.head].first > rs.window {
		st.remove(rs.head)
	}
	for st.head >= 0 {
		g := &st.slab[st.head]
		if now-g.first <= st.rules[g.rule].window {
			break
		}
		st.remove(st.head)
	}
	if rs.n >= st.perRule {
		st.remove(rs.head)
		st.stats.RuleCap.Add(1)
	}
	if int(st.live.Load()) >= st.total {
		st.remove(st.head)
		st.stats.TotalCap.Add(1)
	}
	var idx int32
	if n := len(st.free); n > 0 {
		idx = st.free[n-1]
		st.free = st.free[:n-1]
	} else {
		st.slab = append(st.slab, group{})
		idx = int32(len(st.slab) - 1)
	}
	g := &st.slab[idx]
	*g = group{key: string(key), rule: ri, first: now, last: now, gprev: -1, gnext: -1, rprev: -1, rnext: -1}
	rs.groups[g.key] = idx
	rs.n++
	st.live.Add(1)
	st.link(idx)
	return idx
}

// link puts group idx at the end of both lists.
func (st *groupState) link(idx int32) {
	g := &st.slab[idx]
	rs := &st.rules[g.rule]
	g.gprev, g.gnext = st.tail, -1
	if st.tail >= 0 {
		st.slab[st.tail].gnext = idx
	} else {
		st.head = idx
	}
	st.tail = idx
	g.rprev, g.rnext = rs.tail, -1
	if rs.tail >= 0 {
		st.slab[rs.tail].rnext = idx
	} else {
		rs.head = idx
	}
	rs.tail = idx
}

// unlink takes group idx out of both lists.
func (st *groupState) unlink(idx int32) {
	g := &st.slab[idx]
	rs := &st.rules[g.rule]
	if g.gprev >= 0 {
		st.slab[g.gprev].gnext = g.gnext
	} else {
		st.head = g.gnext
	}
	if g.gnext >= 0 {
		st.slab[g.gnext].gprev = g.gprev
	} else {
		st.tail = g.gprev
	}
	if g.rprev >= 0 {
		st.slab[g.rprev].rnext = g.rnext
	} else {
		rs.head = g.rnext
	}
	if g.rnext >= 0 {
		st.slab[g.rnext].rprev = g.rprev
	} else {
		rs.tail = g.rprev
	}
}

// restart opens a new window for group idx at now: it moves to the end of
// the lists, which stay ordered by the start of the window.
func (st *groupState) restart(idx int32, now int64) {
	st.unlink(idx)
	g := &st.slab[idx]
	g.first, g.last, g.count, g.fired, g.next = now, now, 0, false, 0
	clear(g.steps)
	g.steps = g.steps[:0]
	st.captured -= g.bytes
	g.bytes = 0
	st.link(idx)
}

// remove frees group idx.
func (st *groupState) remove(idx int32) {
	st.unlink(idx)
	g := &st.slab[idx]
	rs := &st.rules[g.rule]
	delete(rs.groups, g.key)
	rs.n--
	st.live.Add(-1)
	st.captured -= g.bytes
	*g = group{}
	st.free = append(st.free, idx)
}

// appendByKey builds a threshold's group key for e: each by field's text
// followed by its length, so that no two tuples of values share a key; a
// missing value is a single 0xff byte with length 0xffffffff.
func appendByKey(b []byte, by []byFieldInfo, e *event.Event) []byte {
	for i := range by {
		f := &by[i]
		start := len(b)
		var ok bool
		b, ok = f.field.AppendText(b, e, f.arg)
		n := uint32(len(b) - start)
		if !ok {
			b, n = append(b[:start], 0xff), 0xffffffff
		}
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return b
}

// maxGroupKey bounds the bytes a group's key keeps: by fields with long
// values (proc.cmdline, proc.env) are kept as a 64-bit hash of the key and
// its length, so that the total cap bounds memory whatever the values.
// Two keys then share a group only if their hashes collide (for 65536
// groups, a chance near 1e-10).
const maxGroupKey = 128

// shortKey replaces a key longer than maxGroupKey by its hash and length.
func (st *groupState) shortKey() {
	k := st.key
	if len(k) <= maxGroupKey {
		return
	}
	h, n := maphash.Bytes(st.seed, k), uint64(len(k))
	k = append(k[:0], 0xfe)
	for i := 56; i >= 0; i -= 8 {
		k = append(k, byte(h>>i))
	}
	for i := 24; i >= 0; i -= 8 {
		k = append(k, byte(n>>i))
	}
	st.key = k
}

// threshold counts a match of r's condition by e; it reports whether the
// count reached the threshold in this window. A group's window opens at
// its first match and lasts the threshold's window; the rule fires once
// per window, when the count is reached; the next match after the window
// closes opens a new one, counting from 1.
func (st *groupState) threshold(r *Rule, e *event.Event) bool {
	t := r.threshold
	st.key = appendByKey(st.key[:0], t.by, e)
	st.shortKey()
	rs := &st.rules[r.state]
	now := e.Time
	idx, ok := rs.groups[string(st.key)]
	if !ok {
		idx = st.insert(r.state, st.key, now)
	} else if now-st.slab[idx].first > t.window {
		st.restart(idx, now)
	}
	g := &st.slab[idx]
	if g.fired {
		return false
	}
	g.count++
	g.last = now
	if g.count < t.count {
		return false
	}
	g.fired = true
	st.fired.count, st.fired.first, st.fired.last = g.count, g.first, g.last
	return true
}

// appendPID appends a pid as a group key.
func appendPID(b []byte, pid uint32) []byte {
	return append(b, byte(pid>>24), byte(pid>>16), byte(pid>>8), byte(pid))
}

// hostContainer is the container key of processes on the host, Falco's
// container.id for them.
const hostContainer = "host"

// sequenceKey builds the key a sequence starting with e is kept under:
// the process, the process's parent (proc.tree), or the container.
func sequenceKey(b []byte, by sequenceBy, e *event.Event) []byte {
	switch by {
	case byProc:
		return appendPID(b, e.PID)
	case byProcTree:
		if p := e.Proc; p != nil {
			if p.Parent != nil {
				return appendPID(b, p.Parent.PID)
			}
			if p.PPID != 0 {
				return appendPID(b, p.PPID)
			}
		}
		return appendPID(b, e.PID)
	}
	if e.Container == nil {
		return append(b, hostContainer...)
	}
	return append(b, e.Container.ID...)
}

// findSequence finds the sequence in progress e may continue: under e's
// process or container, or for proc.tree under the nearest of e's process
// and its ancestors, as the process table links them.
func (st *groupState) findSequence(r *Rule, e *event.Event) int32 {
	rs := &st.rules[r.state]
	if r.seq.by != byProcTree {
		st.key = sequenceKey(st.key[:0], r.seq.by, e)
		if idx, ok := rs.groups[string(st.key)]; ok {
			return idx
		}
		return -1
	}
	pid, p := e.PID, e.Proc
	for depth := 0; depth < maxTreeDepth && pid != 0; depth++ {
		st.key = appendPID(st.key[:0], pid)
		if idx, ok := rs.groups[string(st.key)]; ok {
			return idx
		}
		switch {
		case p == nil:
			pid = 0
		case p.Parent != nil:
			p = p.Parent
			pid = p.PID
		default:
			pid, p = p.PPID, nil
		}
	}
	return -1
}

// sequence moves r's sequences on with the event of c; it reports whether
// one completed. An event that continues a sequence in progress does not
// start another; a first step under a key that has a sequence in progress
// is ignored (the earliest start is kept, so the window is the widest).
func (st *groupState) sequence(r *Rule, c *evalCtx) bool {
	s, e := r.seq, c.e
	now := e.Time
	if idx := st.findSequence(r, e); idx >= 0 {
		g := &st.slab[idx]
		if now-g.first > s.window {
			st.remove(idx)
		} else if step := &s.steps[g.next]; step.types.Has(e.Type) && step.pred(c) {
			st.capture(r, idx, e)
			g = &st.slab[idx]
			g.next++
			g.last = now
			if g.next < len(s.steps) {
				return false
			}
			st.fired.first, st.fired.last = g.first, g.last
			st.fired.steps, g.steps = g.steps, nil
			st.remove(idx)
			return true
		}
	}
	first := &s.steps[0]
	if !first.types.Has(e.Type) || !first.pred(c) {
		return false
	}
	st.key = sequenceKey(st.key[:0], s.by, e)
	rs := &st.rules[r.state]
	if idx, ok := rs.groups[string(st.key)]; ok {
		if now-st.slab[idx].first <= s.window {
			return false
		}
		st.restart(idx, now)
		st.capture(r, idx, e)
		st.slab[idx].next = 1
		return false
	}
	idx := st.insert(r.state, st.key, now)
	st.capture(r, idx, e)
	st.slab[idx].next = 1
	return false
}

// Bounds on what sequences keep of their steps: each string value is cut
// at maxStepValue bytes, and when all the values kept pass
// maxCapturedBytes the oldest sequences are evicted (counted as the total
// cap's), so that a flood of first steps with long values stays bounded.
const (
	maxStepValue     = 1024
	maxCapturedBytes = 16 << 20
)

// capture keeps the time and output fields of a step of group idx,
// copying the strings out of the event's buffers.
func (st *groupState) capture(r *Rule, idx int32, e *event.Event) {
	g := &st.slab[idx]
	vals := make([]FieldValue, 0, len(r.out.fields)+1)
	vals = append(vals, FieldValue{Type: event.FieldAbsTime, OK: true, Num: e.Time})
	vals = r.out.appendFields(vals, e)
	n := 0
	for i := range vals {
		v := vals[i].Str
		if len(v) > maxStepValue {
			v = strings.ToValidUTF8(v[:maxStepValue], "")
		}
		vals[i].Str = strings.Clone(v)
		n += len(v)
	}
	g.steps = append(g.steps, vals)
	g.bytes += n
	st.captured += n
	for st.captured > maxCapturedBytes && st.head >= 0 && st.head != idx {
		st.remove(st.head)
		st.stats.TotalCap.Add(1)
	}
}

// appendAggregate appends what a firing threshold or sequence rule
// reports besides its output fields.
func (st *groupState) appendAggregate(dst []FieldValue, r *Rule) []FieldValue {
	switch {
	case r.threshold != nil:
		t := r.threshold
		return append(dst,
			FieldValue{Name: "vigil.threshold.count", Type: event.FieldUint, OK: true, Num: int64(st.fired.count)},
			FieldValue{Name: "vigil.threshold.window", Type: event.FieldString, OK: true, Str: t.windowText},
			FieldValue{Name: "vigil.threshold.first", Type: event.FieldAbsTime, OK: true, Num: st.fired.first},
			FieldValue{Name: "vigil.threshold.last", Type: event.FieldAbsTime, OK: true, Num: st.fired.last})
	case r.seq != nil:
		dst = append(dst,
			FieldValue{Name: "vigil.sequence.by", Type: event.FieldString, OK: true, Str: r.seq.by.String()},
			FieldValue{Name: "vigil.sequence.window", Type: event.FieldString, OK: true, Str: r.seq.windowText},
			FieldValue{Name: "vigil.sequence.first", Type: event.FieldAbsTime, OK: true, Num: st.fired.first},
			FieldValue{Name: "vigil.sequence.last", Type: event.FieldAbsTime, OK: true, Num: st.fired.last})
		k := 0
		for _, vals := range st.fired.steps {
			for _, v := range vals {
				v.Name = r.stepFields[k]
				k++
				dst = append(dst, v)
			}
		}
	}
	return dst
}
