package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of /proc/<pid>/stat times: USER_HZ, fixed at 100 by
// the kernel's user ABI on every architecture.
const userHZ = 100

// parseStatCPU returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("parsing stat: no command name")
	}
	// After ")": field 3 (state) is at index 0, so utime (14) and stime (15)
	// are at 11 and 12.
	f := bytes.Fields(stat[end+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parsing stat: %d fields after the command name", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing stat times: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// statProc is what the memory step reads of /proc/<pid>/stat.
type statProc struct {
	// state is the one-letter state: 'Z' is a zombie, 'X' dead.
	state byte
	ppid  int
	pgrp  int
}

// parseStatProc returns the state, parent and process group from the
// contents of /proc/<pid>/stat, counting fields from the last ')' as
// parseStatCPU does.
func parseStatProc(stat []byte) (statProc, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return statProc{}, fmt.Errorf("parsing stat: no command name")
	}
	// Fields 3 (state), 4 (ppid) and 5 (pgrp) are at 0, 1 and 2.
	f := bytes.Fields(stat[end+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return statProc{}, fmt.Errorf("parsing stat: %q after the command name", stat[end+1:])
	}
	p := statProc{state: f[0][0]}
	var err error
	if p.ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return statProc{}, fmt.Errorf("parsing stat ppid: %w", err)
	}
	if p.pgrp, err = strconv.Atoi(string(f[2])); err != nil {
		return statProc{}, fmt.Errorf("parsing stat pgrp: %w", err)
	}
	return p, nil
}

// parseStatusHWM returns VmHWM, the peak resident set, in bytes from
// /proc/<pid>/status.
func parseStatusHWM(status []byte) (uint64, error) { return parseStatusKB(status, "VmHWM") }

// parseStatusRSS returns VmRSS, the resident set now, in bytes from
// /proc/<pid>/status.
func parseStatusRSS(status []byte) (uint64, error) { return parseStatusKB(status, "VmRSS") }

// parseStatusKB returns the /proc/<pid>/status field key, given in kB, in
// bytes.
func parseStatusKB(status []byte, key string) (uint64, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(key+":"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("parsing %s %q", key, line)
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s: %w", key, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("parsing status: no %s", key)
}

// procCPU reads a live process's CPU time.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	return parseStatCPU(b)
}

// procHWM reads a live process's peak resident set.
func procHWM(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	return parseStatusHWM(b)
}

// procMemory reads a live process's resident set now and its peak, from
// one read of its status.
func procMemory(pid int) (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	if rss, err = parseStatusRSS(b); err != nil {
		return 0, 0, err
	}
	if hwm, err = parseStatusHWM(b); err != nil {
		return 0, 0, err
	}
	return rss, hwm, nil
}

// eachProc calls fn with the pid and stat of every process in /proc. A
// process gone between the listing and the read of its stat is skipped.
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
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		p, err := parseStatProc(b)
		if err != nil {
			return fmt.Errorf("reading /proc/%s/stat: %w", name, err)
		}
		fn(pid, p)
	}
	return nil
}
