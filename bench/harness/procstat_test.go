package main

import (
	"os"
	"syscall"
	"testing"
)

// The readers work on this very process; parsing itself is internal/procfs's
// and tested there.
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
	if _, err := procCPU(-1); err == nil {
		t.Error("procCPU of no process succeeded")
	}
	var self *statProc
	if err := eachProc(func(pid int, p statProc) {
		if pid == os.Getpid() {
			self = &p
		}
	}); err != nil {
		t.Fatal(err)
	}
	if self == nil || self.ppid != os.Getppid() || self.pgrp != syscall.Getpgrp() || self.state == 'Z' {
		t.Errorf("eachProc saw this process as %+v; want ppid %d, pgrp %d, alive", self, os.Getppid(), syscall.Getpgrp())
	}
}
