package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
)

// loadedProgram is a BPF program loaded on the machine.
type loadedProgram struct {
	id   ebpf.ProgramID
	name string
}

// tracingPrograms returns the BPF programs loaded on the machine that
// trace: any such program that is not the round's tracer slows the loops
// and taints every figure, the baseline's included.
func tracingPrograms() ([]loadedProgram, error) {
	var progs []loadedProgram
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return progs, nil
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
			progs = append(progs, loadedProgram{id: id, name: info.Name})
		}
	}
}

// ownPrograms are the ids of the programs the harness's tracers loaded
// (the floor's, vigil's, bpftrace's, ...). They never taint a round: a
// tracer that exited has detached them, but the kernel may list them a
// while longer (since Linux 6.14 a program on the syscall tracepoints,
// such as the raw sys_exit one, is put only after an RCU tasks trace grace
// period, which a busy machine stretches past foreignTracers' polls).
// Program ids are not reused soon (the kernel allocates them cyclically),
// so an id names one program for the whole run.
type ownPrograms map[ebpf.ProgramID]bool

// addProcess records the programs that process pid and its descendants
// hold, program and link descriptors alike (the prog_id line of each
// descriptor's fdinfo), as found under procRoot (/proc).
func (o ownPrograms) addProcess(procRoot string, pid int) error {
	pids := []int{pid}
	for len(pids) > 0 {
		p := pids[0]
		pids = pids[1:]
		dir := filepath.Join(procRoot, strconv.Itoa(p))
		fds, err := os.ReadDir(filepath.Join(dir, "fdinfo"))
		if err != nil {
			if p != pid && errors.Is(err, os.ErrNotExist) {
				continue // a child that exited since listed
			}
			return fmt.Errorf("listing the descriptors of process %d: %w", p, err)
		}
		for _, fd := range fds {
			b, err := os.ReadFile(filepath.Join(dir, "fdinfo", fd.Name()))
			if err != nil {
				continue // closed since listed
			}
			if id, ok := fdinfoProgID(b); ok {
				o[id] = true
			}
		}
		children, err := childPIDs(dir)
		if err != nil {
			return fmt.Errorf("listing the children of process %d: %w", p, err)
		}
		pids = append(pids, children...)
	}
	return nil
}

// fdinfoProgID returns the program a descriptor holds, from its fdinfo: a
// program's or a link's "prog_id:" line.
func fdinfoProgID(fdinfo []byte) (ebpf.ProgramID, bool) {
	for line := range strings.Lines(string(fdinfo)) {
		v, ok := strings.CutPrefix(line, "prog_id:")
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		return ebpf.ProgramID(id), err == nil && id != 0
	}
	return 0, false
}

// childPIDs returns the children of the process whose /proc directory is
// dir, from each of its threads' children list.
func childPIDs(dir string) ([]int, error) {
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // exited
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "children"))
		if err != nil {
			continue // the thread exited
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out, nil
}

// foreign returns the names of the programs of progs that are not own.
func (o ownPrograms) foreign(progs []loadedProgram) []string {
	var names []string
	for _, p := range progs {
		if !o[p.id] {
			names = append(names, p.name)
		}
	}
	return names
}

// foreignTracers waits for the machine to have no tracing program loaded
// but own ones (the previous round's tracer frees its programs shortly
// after it exits) and returns those that stay: another tracer's. It stops
// waiting once the count has held still for a few polls, or after timeout.
func foreignTracers(ctx context.Context, timeout time.Duration, own ownPrograms) ([]string, error) {
	const poll, still = 25 * time.Millisecond, 4
	tick := time.NewTicker(poll)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	last, same := -1, 0
	for {
		progs, err := tracingPrograms()
		if err != nil {
			return nil, err
		}
		names := own.foreign(progs)
		if len(names) == 0 {
			return nil, nil
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
