package procfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// statLine is a stat file of a real kernel's shape, with 52 fields.
func statLine(pid, comm, rest string) string {
	return pid + " (" + comm + ") " + rest + " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Stat
	}{
		{"plain", statLine("1234", "bash", "S 1200 1234 1234 34817 1234 4194560 100 0 0 0 250 50 0 0 20 0 1 0 98765"),
			Stat{PID: 1234, Comm: "bash", State: 'S', PPID: 1200, PGRP: 1234, TTY: 34817, UTime: 250, STime: 50, StartTicks: 98765}},
		// The command name is the process's choice: spaces, parentheses
		// and a newline do not shift the fields.
		{"odd name", statLine("7", "a) b (c\n)", "R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5"),
			Stat{PID: 7, Comm: "a) b (c\n)", State: 'R', PPID: 1, PGRP: 7, UTime: 1, STime: 2, StartTicks: 5}},
		{"empty name", statLine("8", "", "Z 1 8 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"),
			Stat{PID: 8, State: 'Z', PPID: 1, PGRP: 8, StartTicks: 5}},
		// A kernel thread's full name runs past TASK_COMM_LEN.
		{"kernel thread", statLine("90", "kworker/u8:3-events_unbound_long", "I 2 0 0 0 -1 0 0 0 0 0 0 9 0 0 20 0 1 0 17"),
			Stat{PID: 90, Comm: "kworker/u8:3-events_unbound_long", State: 'I', PPID: 2, STime: 9, StartTicks: 17}},
		// tty_nr is an unsigned encoding printed as a signed int.
		{"high tty", statLine("9", "x", "S 1 9 9 -2147483392 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"),
			Stat{PID: 9, Comm: "x", State: 'S', PPID: 1, PGRP: 9, TTY: 0x80000100, StartTicks: 5}},
		// Only the fields up to the start time are needed.
		{"short kernel", "10 (x) S 1 10 10 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 6\n",
			Stat{PID: 10, Comm: "x", State: 'S', PPID: 1, PGRP: 10, UTime: 3, STime: 4, StartTicks: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseStat\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{
		"",
		"1234 bash S 1",
		"x (bash) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"-1 (bash) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0",             // no start time
		"1 (x) SS 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",          // state
		"1 (x) 5 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",           // state
		"1 (x) S -1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",          // ppid
		"1 (x) S 1 4294967296 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",  // pgrp
		"1 (x) S 1 1 1 4294967296 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",  // tty
		"1 (x) S 1 1 1 -2147483649 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", // tty
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 0 0 0 20 0 1 0 5",           // utime
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5",          // start
		"1 (" + strings.Repeat("n", maxCommBytes+1) + ") S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5" + strings.Repeat(" 0", maxStatBytes),
	} {
		if got, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%.80q) = %+v, want an error", bad, got)
		}
	}
}

func TestStatTimes(t *testing.T) {
	s := Stat{UTime: 250, STime: 50, StartTicks: 12345}
	if got := s.CPU(); got != 3*time.Second {
		t.Errorf("CPU = %v, want 3s", got)
	}
	if got := s.StartBootNs(); got != 123450*int64(time.Millisecond) {
		t.Errorf("StartBootNs = %d", got)
	}
}

// The readers work on this very process, and check the file is the pid's.
func TestReadSelf(t *testing.T) {
	pid := uint32(os.Getpid())
	s, err := ReadStat("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if s.PID != pid || s.PPID != uint32(os.Getppid()) || s.State != 'R' && s.State != 'S' {
		t.Errorf("ReadStat(self) = %+v", s)
	}
	// The test binary started within the last hour, on the boot clock.
	now := time.Now().UnixNano()
	if start := s.StartBootNs() + BootOffset(); start > now || start < now-int64(time.Hour) {
		t.Errorf("started at %v, now %v", time.Unix(0, start), time.Unix(0, now))
	}
	st, err := ReadStatus("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasIDs || !st.HasMemory || st.UID[0] != uint32(os.Getuid()) || st.UID[1] != uint32(os.Geteuid()) ||
		st.GID[0] != uint32(os.Getgid()) || st.VmRSS == 0 || st.VmHWM < st.VmRSS {
		t.Errorf("ReadStatus(self) = %+v", st)
	}

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "5"), 0o755)
	os.WriteFile(filepath.Join(dir, "5", "stat"), []byte(statLine("6", "x", "S 1 6 6 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5")), 0o644)
	if _, err := ReadStat(dir, 5); !errors.Is(err, ErrMalformed) {
		t.Errorf("stat of pid 6 in 5's directory: %v, want ErrMalformed", err)
	}
	os.WriteFile(filepath.Join(dir, "5", "status"), []byte(strings.Repeat("x", maxStatusBytes+1)), 0o644)
	if _, err := ReadStatus(dir, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge status: %v, want ErrTooLarge", err)
	}
	if _, err := ReadStat(dir, 99); err == nil {
		t.Error("ReadStat of a missing pid succeeded")
	}
}

// FuzzParseStat checks on any input that a parse that succeeds gives back
// the command name it found between the pid and the fields.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine("1234", "bash", "S 1200 1234 1234 34817 1234 4194560 100 0 0 0 250 50 0 0 20 0 1 0 98765")))
	f.Add([]byte(statLine("7", "a) b (c", "R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5")))
	f.Add([]byte("1 () S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err != nil {
			return
		}
		pid, _, _ := strings.Cut(string(b), " (")
		if len(s.Comm) > maxCommBytes || !strings.Contains(string(b), "("+s.Comm+")") ||
			strconv.FormatUint(uint64(s.PID), 10) != strings.TrimLeft(pid, "0") && s.PID != 0 {
			t.Fatalf("ParseStat(%q) = %+v", b, s)
		}
	})
}
