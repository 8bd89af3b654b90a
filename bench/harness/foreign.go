package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cilium/ebpf"
)

// tracingPrograms returns the names of the BPF programs loaded on the
// machine that trace: any such program that is not the round's tracer
// slows the loops and taints every figure, the baseline's included.
func tracingPrograms() ([]string, error) {
	var names []string
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing BPF programs: %w", err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			continue // unloaded since listed
		}
		if err != nil {
			return nil, fmt.Errorf("opening BPF program %d: %w", id, err)
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			return nil, fmt.Errorf("reading BPF program %d: %w", id, err)
		}
		switch info.Type {
		case ebpf.Kprobe, ebpf.TracePoint, ebpf.PerfEvent, ebpf.RawTracepoint, ebpf.RawTracepointWritable,
			ebpf.Tracing, ebpf.LSM:
			names = append(names, info.Name)
		}
	}
}

// foreignTracers waits for the machine to have no tracing program loaded
// (the previous round's tracer frees its programs shortly after it exits)
// and returns those that stay: another tracer's. It stops waiting once the
// count has held still for a few polls, or after timeout.
func foreignTracers(ctx context.Context, timeout time.Duration) ([]string, error) {
	const poll, still = 25 * time.Millisecond, 4
	tick := time.NewTicker(poll)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	last, same := -1, 0
	for {
		names, err := tracingPrograms()
		if err != nil || len(names) == 0 {
			return nil, err
		}
		if len(names) == last {
			same++
		} else {
			last, same = len(names), 0
		}
		if same >= still {
			return names, nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return names, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// taint records the rounds during which another tracer was loaded.
type taint struct {
	rounds, tainted int
	// names are the foreign programs last seen, deduplicated.
	names []string
}

func (t *taint) add(names []string) {
	t.rounds++
	if len(names) == 0 {
		return
	}
	t.tainted++
	t.names = slices.Compact(slices.Sorted(slices.Values(names)))
}

// warning is the table's footnote for a tainted run, or "".
func (t *taint) warning() string {
	if t.tainted == 0 {
		return ""
	}
	names := t.names
	more := ""
	if len(names) > 6 {
		names, more = names[:6], ", ..."
	}
	return fmt.Sprintf("WARNING: during %d of %d rounds BPF tracing programs of another process were loaded (%s%s):\n"+
		"  another tracer was running and slowed every configuration; rows leave those rounds out unless all were\n",
		t.tainted, t.rounds, strings.Join(names, ", "), more)
}
