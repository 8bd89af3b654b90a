package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Field 2 may hold spaces and parentheses; utime=250, stime=50 ticks.
	stat := "1234 (we ird) (name) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1234 name S 1", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 5 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestParseStatProc(t *testing.T) {
	// Field 2 may hold spaces and parentheses.
	got, err := parseStatProc([]byte("1234 (we ird) (name) Z 77 1200 1200 0 -1 4194304\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (statProc{state: 'Z', ppid: 77, pgrp: 1200}); got != want {
		t.Errorf("parseStatProc = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "1234 name S 1 2", "1 (x) S 1", "1 (x) SS 1 2", "1 (x) S x 2", "1 (x) S 1 y"} {
		if _, err := parseStatProc([]byte(bad)); err == nil {
			t.Errorf("parseStatProc(%q) succeeded", bad)
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tvigil\nVmPeak:\t 100 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 10 kB\n"
	for _, tc := range []struct {
		name  string
		parse func([]byte) (uint64, error)
		want  uint64
	}{
		{"VmHWM", parseStatusHWM, 20 << 20},
		{"VmRSS", parseStatusRSS, 10 << 10},
	} {
		got, err := tc.parse([]byte(status))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, got, tc.want)
		}
		for _, bad := range []string{"Name:\tx\n", tc.name + ":\t12 MB\n", tc.name + ":\tx kB\n", tc.name + ":\t12\n"} {
			if _, err := tc.parse([]byte(bad)); err == nil {
				t.Errorf("%s(%q) succeeded", tc.name, bad)
			}
		}
	}
	// A field whose name another begins with is not taken for it.
	if _, err := parseStatusRSS([]byte("VmRSSx:\t1 kB\n")); err == nil {
		t.Error("parseStatusRSS took VmRSSx")
	}
}

// The live readers work on this very process.
func TestProcSelf(t *testing.T) {
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if hwm, err := procHWM(os.Getpid()); err != nil || hwm == 0 {
		t.Errorf("procHWM = %d, %v", hwm, err)
	}
	rss, hwm, err := procMemory(os.Getpid())
	if err != nil || rss == 0 || hwm < rss {
		t.Errorf("procMemory = %d, %d, %v; want 0 < rss <= hwm", rss, hwm, err)
	}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := parseStatProc(b); err != nil || p.ppid != os.Getppid() || p.pgrp != syscall.Getpgrp() {
		t.Errorf("parseStatProc(/proc/self/stat) = %+v, %v; want ppid %d, pgrp %d", p, err, os.Getppid(), syscall.Getpgrp())
	}
}
