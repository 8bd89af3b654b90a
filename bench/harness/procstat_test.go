package main

import (
	"os"
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

func TestParseStatusHWM(t *testing.T) {
	status := "Name:\tvigil\nVmPeak:\t 100 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 10 kB\n"
	got, err := parseStatusHWM([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if got != 20<<20 {
		t.Errorf("parseStatusHWM = %d, want %d", got, 20<<20)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n"} {
		if _, err := parseStatusHWM([]byte(bad)); err == nil {
			t.Errorf("parseStatusHWM(%q) succeeded", bad)
		}
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
}
