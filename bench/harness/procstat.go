package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/vigil-sensor/vigil/internal/procfs"
)

// statProc is what the memory step reads of /proc/<pid>/stat.
type statProc struct {
	// state is the one-letter state: 'Z' is a zombie, 'X' dead.
	state byte
	ppid  int
	pgrp  int
}

// procCPU reads a live process's CPU time, user and kernel.
func procCPU(pid int) (time.Duration, error) {
	st, err := procfs.ReadStat("/proc", uint32(pid))
	if err != nil {
		return 0, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	return st.CPU(), nil
}

// procHWM reads a live process's peak resident set.
func procHWM(pid int) (uint64, error) {
	_, hwm, err := procMemory(pid)
	return hwm, err
}

// procMemory reads a live process's resident set now and its peak, from
// one read of its status.
func procMemory(pid int) (rss, hwm uint64, err error) {
	st, err := procfs.ReadStatus("/proc", uint32(pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	if !st.HasMemory {
		return 0, 0, fmt.Errorf("reading status of %d: no VmRSS or VmHWM", pid)
	}
	return st.VmRSS, st.VmHWM, nil
}

// eachProc calls fn with the pid and stat of every process in /proc. A
// process gone between the listing and the read of its stat is skipped; a
// stat that does not parse is an error.
func eachProc(fn func(pid int, p statProc)) error {
	d, err := os.Open("/proc")
	if err != nil {
		return fmt.Errorf("listing /proc: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("listing /proc: %w", err)
	}
	for _, name := range names {
		pid, err := strconv.ParseUint(name, 10, 32)
		if err != nil {
			continue
		}
		st, err := procfs.ReadStat("/proc", uint32(pid))
		if errors.Is(err, procfs.ErrMalformed) || errors.Is(err, procfs.ErrTooLarge) {
			return fmt.Errorf("reading /proc/%s/stat: %w", name, err)
		}
		if err != nil {
			continue
		}
		fn(int(pid), statProc{state: st.State, ppid: int(st.PPID), pgrp: int(st.PGRP)})
	}
	return nil
}
