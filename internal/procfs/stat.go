package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// maxStatBytes bounds /proc/<pid>/stat: 52 numeric fields of at most 20
// digits and a command name of at most 64 bytes fit in well under 2 KiB.
const maxStatBytes = 4 << 10

// maxCommBytes bounds the command name: TASK_COMM_LEN (16) for tasks, up to
// 64 for the full names the kernel shows of its own threads.
const maxCommBytes = 64

// ErrMalformed is wrapped by the errors of a file that is not in the
// kernel's format.
var ErrMalformed = errors.New("malformed")

// Stat is what vigil reads of /proc/<pid>/stat (proc(5)).
type Stat struct {
	PID uint32
	// Comm is the command name (field 2), as the process set it: any bytes
	// but NUL, parentheses and newlines included.
	Comm string
	// State is the one-letter state (R, S, D, Z, T, t, X, I, ...).
	State byte
	PPID  uint32
	// PGRP is the process group.
	PGRP uint32
	// TTY is tty_nr, the controlling terminal's device number as the kernel
	// encodes it (minor bits 31-20 and 7-0, major 15-8); 0 for none.
	TTY uint32
	// UTime and STime are the CPU time spent in user and kernel mode, and
	// StartTicks the start since boot, all in clock ticks (Tick).
	UTime, STime, StartTicks uint64
}

// Field numbers of proc(5), counted from 1.
const (
	fieldState      = 3
	fieldPPID       = 4
	fieldPGRP       = 5
	fieldTTY        = 7
	fieldUTime      = 14
	fieldSTime      = 15
	fieldStartTicks = 22
)

// ParseStat parses the contents of /proc/<pid>/stat. The command name may
// hold spaces and parentheses, so it runs from the first '(' to the last
// ')'. Every field up to the start time must be there and well formed.
func ParseStat(b []byte) (Stat, error) {
	var s Stat
	if len(b) > maxStatBytes {
		return Stat{}, fmt.Errorf("parsing stat: %w", ErrTooLarge)
	}
	open, end := bytes.Index(b, []byte(" (")), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stat{}, fmt.Errorf("parsing stat: %w: no command name", ErrMalformed)
	}
	pid, err := strconv.ParseUint(string(b[:open]), 10, 32)
	if err != nil {
		return Stat{}, fmt.Errorf("parsing stat pid: %w: %w", ErrMalformed, err)
	}
	s.PID = uint32(pid)
	comm := b[open+2 : end]
	if len(comm) > maxCommBytes {
		return Stat{}, fmt.Errorf("parsing stat: %w: command name of %d bytes", ErrMalformed, len(comm))
	}
	s.Comm = string(comm)
	// f[0] is field 3.
	f := bytes.Fields(b[end+1:])
	if len(f) < fieldStartTicks-fieldState+1 {
		return Stat{}, fmt.Errorf("parsing stat: %w: %d fields after the command name", ErrMalformed, len(f))
	}
	field := func(n int) string { return string(f[n-fieldState]) }
	if st := f[0]; len(st) != 1 || !(st[0] >= 'A' && st[0] <= 'Z' || st[0] >= 'a' && st[0] <= 'z') {
		return Stat{}, fmt.Errorf("parsing stat: %w: state %q", ErrMalformed, st)
	}
	s.State = f[0][0]
	bad := 0
	num := func(n, bits int) uint64 {
		v, err := strconv.ParseUint(field(n), 10, bits)
		if err != nil && bad == 0 {
			bad = n
		}
		return v
	}
	s.PPID = uint32(num(fieldPPID, 32))
	s.PGRP = uint32(num(fieldPGRP, 32))
	s.UTime, s.STime = num(fieldUTime, 64), num(fieldSTime, 64)
	s.StartTicks = num(fieldStartTicks, 64)
	// tty_nr is printed as a signed int of an unsigned encoding.
	tty, err := strconv.ParseInt(field(fieldTTY), 10, 64)
	if (err != nil || tty < -1<<31 || tty >= 1<<32) && bad == 0 {
		bad = fieldTTY
	}
	if bad != 0 {
		return Stat{}, fmt.Errorf("parsing stat: %w: field %d is %q", ErrMalformed, bad, field(bad))
	}
	s.TTY = uint32(tty)
	return s, nil
}

// ReadStat reads and parses procRoot/<pid>/stat.
func ReadStat(procRoot string, pid uint32) (Stat, error) {
	b, err := readCapped(pidPath(procRoot, pid, "stat"), maxStatBytes)
	if err != nil {
		return Stat{}, err
	}
	s, err := ParseStat(b)
	if err != nil {
		return Stat{}, err
	}
	if s.PID != pid {
		return Stat{}, fmt.Errorf("parsing stat: %w: pid %d in the file of %d", ErrMalformed, s.PID, pid)
	}
	return s, nil
}

// CPU is the CPU time the process has spent, user and kernel.
func (s Stat) CPU() time.Duration { return time.Duration(s.UTime+s.STime) * Tick }

// StartBootNs is when the process started, in ns on the boot clock (see
// BootOffset), rounded down to a tick: never after its first event.
func (s Stat) StartBootNs() int64 { return int64(s.StartTicks) * int64(Tick) }
