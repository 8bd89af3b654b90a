package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigil-sensor/vigil/bench/floor"
	"github.com/vigil-sensor/vigil/bench/loadgen"
)

// floorHook is the floor hook whose records stand for one operation of l.
func floorHook(l loadgen.Loop) floor.Hook {
	switch l {
	case loadgen.LoopExec:
		return floor.HookExec
	case loadgen.LoopConnect:
		return floor.HookConnectExit
	case loadgen.LoopFS:
		// Not unlinkat: the loadgen's clean-up removes files too.
		return floor.HookFchmodatExit
	case loadgen.LoopUDP, loadgen.LoopTCP:
		return floor.HookSendtoExit
	case loadgen.LoopDup2:
		return floor.HookDup2Exit
	}
	return floor.HookOpenatExit
}

// parseFloorReport reads the floor command's JSON report. Records are
// counted only in ringbuf mode; drops are summed over every hook.
func parseFloorReport(data []byte, l loadgen.Loop) (observed, error) {
	var r floor.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return observed{}, fmt.Errorf("decoding floor report: %w", err)
	}
	if len(r.Hooks) == 0 {
		return observed{}, fmt.Errorf("decoding floor report: no hooks in %q", data)
	}
	o := observed{dropsKnown: true}
	for _, h := range r.Hooks {
		o.drops += h.Drops
	}
	if r.Mode == floor.ModeRingbuf {
		o.counted = true
		o.delivered = r.Hooks[floorHook(l).String()].Matched
	}
	return o, nil
}

// vigilEvent is the evt.type vigil reports for one operation of l, and
// whether the event belongs to the loadgen through proc.ppid (exec: the
// child execs) rather than proc.pid.
func vigilEvent(l loadgen.Loop) (typ string, byParent bool) {
	switch l {
	case loadgen.LoopExec:
		return "execve", true
	case loadgen.LoopConnect:
		return "connect", false
	case loadgen.LoopFS:
		// Not unlinkat: the loadgen's clean-up removes files too.
		return "fchmodat", false
	case loadgen.LoopUDP, loadgen.LoopTCP:
		// A build without send/recv events delivers none of these.
		return "sendto", false
	case loadgen.LoopDup2:
		return "dup2", false
	}
	return "openat", false
}

// vigilMarkerLoop is the loop whose operation the harness issues to see
// that vigil has caught up in loop l: l's own where every vigil build,
// -baseline's included, reports it, else an open. Records leave the ring
// buffer in order, so an open after the load comes after all of it.
func vigilMarkerLoop(l loadgen.Loop) loadgen.Loop {
	switch l {
	case loadgen.LoopOpen, loadgen.LoopExec, loadgen.LoopConnect:
		return l
	}
	return loadgen.LoopOpen
}

// vigilMatch matches vigil's --events lines of loop l's event type from
// pid (exec: from pid's children), by text: it looks for the harness's own
// marker operation while vigil is still writing, so it must be cheap.
func vigilMatch(l loadgen.Loop) lineMatcher {
	typ, byParent := vigilEvent(l)
	eventMark := []byte(`"event":` + strconv.Quote(typ))
	key := `"proc.pid":`
	if byParent {
		key = `"proc.ppid":`
	}
	return func(line []byte, pid int) bool {
		if !bytes.Contains(line, eventMark) {
			return false
		}
		i := bytes.Index(line, []byte(key))
		if i < 0 {
			return false
		}
		rest := line[i+len(key):]
		n := len(strconv.Itoa(pid))
		return len(rest) > n && string(rest[:n]) == strconv.Itoa(pid) && (rest[n] == ',' || rest[n] == '}')
	}
}

// vigilRecord is the part of a vigil output line the harness reads: every
// line is an alert, an event (--events) or an internal record, all with
// "source".
type vigilRecord struct {
	Source string `json:"source"`
	Rule   string `json:"rule"`
	Event  string `json:"event"`
	Fields struct {
		PID  *int64 `json:"proc.pid"`
		PPID *int64 `json:"proc.ppid"`
	} `json:"fields"`
	OutputFields map[string]json.RawMessage `json:"output_fields"`
}

// parseVigilOutput reads vigil's JSON lines. With events, it counts the
// loop's events from pid. Losses come from internal records whose rule
// names a drop, each carrying the counts lost since the previous one:
// "vigil internal: event drop" (kernel ring buffer full; per-kind counts
// and their "total") and "vigil internal: output drop" (stdout not keeping
// up; "records").
func parseVigilOutput(r io.Reader, l loadgen.Loop, pid int, events bool) (observed, error) {
	typ, byParent := vigilEvent(l)
	eventMark := []byte(`"event":` + strconv.Quote(typ))
	o := observed{counted: events, dropsKnown: true}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		// Events of other types are most of a busy machine's output and
		// need no decoding.
		if bytes.Contains(line, []byte(`"event":`)) && !bytes.Contains(line, eventMark) {
			continue
		}
		var rec vigilRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return observed{}, fmt.Errorf("decoding vigil output line %d: %w", n, err)
		}
		switch {
		case rec.Source == "internal":
			if !strings.Contains(rec.Rule, "drop") {
				continue
			}
			lost, err := lostCount(rec.OutputFields)
			if errors.Is(err, errBackwards) {
				// Summed, the wrapped count would cancel the real drops
				// out: leave it out and say so.
				o.anomalies = append(o.anomalies, fmt.Sprintf("vigil output line %d (%s): %v", n, rec.Rule, err))
				continue
			}
			if err != nil {
				return observed{}, fmt.Errorf("vigil output line %d (%s): %w", n, rec.Rule, err)
			}
			if strings.Contains(rec.Rule, "output") {
				o.outputDrops += lost
			} else {
				o.drops += lost
			}
		case rec.Event != "":
			owner := rec.Fields.PID
			if byParent {
				owner = rec.Fields.PPID
			}
			if rec.Event == typ && owner != nil && *owner == int64(pid) {
				o.delivered++
			}
		case rec.Rule != "":
			o.alerts++
		}
	}
	if err := sc.Err(); err != nil {
		return observed{}, fmt.Errorf("reading vigil output: %w", err)
	}
	return o, nil
}

// lostCount is the number a drop record reports: its "total" when it has
// one (the per-kind counts add up to it), else the sum of its counts.
func lostCount(fields map[string]json.RawMessage) (uint64, error) {
	if t, ok := fields["total"]; ok {
		n, err := strconv.ParseUint(string(t), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing total %s: %w", t, err)
		}
		return checkCount(n)
	}
	var sum uint64
	for k, v := range fields {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing count %s=%s: %w", k, v, err)
		}
		if _, err := checkCount(n); err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// errBackwards marks a drop count no run can reach: the difference of a
// counter that went backwards, wrapped around 2^64.
var errBackwards = errors.New("drop counter went backwards")

// checkCount rejects a wrapped count.
func checkCount(n uint64) (uint64, error) {
	if n >= 1<<63 {
		return 0, fmt.Errorf("%w: count %d (%d as signed)", errBackwards, n, int64(n))
	}
	return n, nil
}

// lineMatcher says whether one line of a tool's output is an event of
// pid's operations.
type lineMatcher func(line []byte, pid int) bool

// fieldIs returns a matcher for outputs whose column col (0-based,
// whitespace-separated) holds the attributed pid.
func fieldIs(col int) lineMatcher {
	return func(line []byte, pid int) bool {
		f := bytes.Fields(line)
		return len(f) > col && string(f[col]) == strconv.Itoa(pid)
	}
}

// parseLost returns n from a lost-event report in line: bpftrace's
// "Lost 12 events" or libbpf-tools' "Lost 12 events on CPU #0!".
func parseLost(line []byte) (n uint64, ok bool) {
	i := bytes.Index(bytes.ToLower(line), []byte("lost "))
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(line[i+len("lost "):])
	if len(f) < 2 || !bytes.HasPrefix(f[1], []byte("event")) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(f[0]), 10, 64)
	return n, err == nil
}

// parseToolOutput counts the lines of a text tool's output that match pid,
// and the events it said it lost on stdout or stderr.
func parseToolOutput(stdout io.Reader, stderr []byte, match lineMatcher, pid int) (observed, error) {
	o := observed{counted: true, dropsKnown: true}
	count := func(line []byte) {
		if n, ok := parseLost(line); ok {
			o.drops += n
		}
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if match(line, pid) {
			o.delivered++
			continue
		}
		count(line)
	}
	if err := sc.Err(); err != nil {
		return observed{}, fmt.Errorf("reading tool output: %w", err)
	}
	for line := range bytes.SplitSeq(stderr, []byte("\n")) {
		count(line)
	}
	return o, nil
}

// reconcileDrops makes vigil's losses the larger of what its drop records
// reported and what its final counts say (per kind, kernel ring buffer and
// output queue): a drop record that was itself lost (its queue full, or
// the run cut short before the last status interval) must not make a
// round look clean. A difference is noted as an anomaly.
func reconcileDrops(o *observed) {
	var kernel, out uint64
	for _, c := range o.kernel {
		kernel += c.dropped
		out += c.outputDropped
	}
	if kernel > o.drops {
		o.anomalies = append(o.anomalies, fmt.Sprintf("vigil's final counts: %d kernel drops, its drop records %d", kernel, o.drops))
		o.drops = kernel
	}
	if out > o.outputDrops {
		o.anomalies = append(o.anomalies, fmt.Sprintf("vigil's final counts: %d output drops, its drop records %d", out, o.outputDrops))
		o.outputDrops = out
	}
}
