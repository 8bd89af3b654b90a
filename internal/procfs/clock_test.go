package procfs

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBootOffset checks the offset against the clocks it comes from: now on
// the boot clock plus the offset is now on the wall clock.
func TestBootOffset(t *testing.T) {
	off := BootOffset()
	var boot unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	if d := time.Duration(now - (boot.Nano() + off)); d < 0 || d > 50*time.Millisecond {
		t.Errorf("boot clock + offset is %v behind the wall clock", d)
	}
	if again := BootOffset(); time.Duration(again-off).Abs() > time.Millisecond {
		t.Errorf("offset moved from %d to %d between two reads", off, again)
	}
}
