package procfs

import (
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	in := "Name:\tvigil\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t0\t1000\t1000\nGid:\t100\t100\t100\t100\n" +
		"VmPeak:\t 100 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 10 kB\nVmRSSx:\tnot a field\nCpus_allowed_list:\t0-1\n" +
		"CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000200000\nCapBnd:\t000001ffffffffff\n"
	got, err := ParseStatus([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{UID: [4]uint32{1000, 0, 1000, 1000}, GID: [4]uint32{100, 100, 100, 100},
		VmRSS: 10 << 10, VmHWM: 20 << 20, CapPrm: 1<<41 - 1, CapEff: 1 << 21, HasIDs: true, HasMemory: true, HasCaps: true}
	if got != want {
		t.Errorf("ParseStatus\n got %+v\nwant %+v", got, want)
	}
	// A kernel thread has ids but no memory.
	got, err = ParseStatus([]byte("Name:\tkthreadd\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"))
	if err != nil || !got.HasIDs || got.HasMemory || got.HasCaps {
		t.Errorf("kernel thread: %+v, %v", got, err)
	}
	for _, bad := range []string{
		"Uid:\t1\t2\t3\n",
		"Uid:\t1\t2\t3\t4\t5\n",
		"Uid:\t1\t2\tx\t4\n",
		"Gid:\t-1\t2\t3\t4\n",
		"Gid:\t4294967296\t0\t0\t0\n",
		"VmRSS:\t12 MB\n",
		"VmRSS:\tx kB\n",
		"VmHWM:\t12\n",
		"VmHWM:\t99999999999999999999 kB\n",
		"CapEff:\t0000000000zz0000\n",
		"CapPrm:\t10000000000000000\n",
		strings.Repeat("x", maxStatusBytes+1),
	} {
		if got, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%.60q) = %+v, want an error", bad, got)
		}
	}
}

// FuzzParseStatus checks on any input that what a parse says it found is
// in the input.
func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\tx\nUid:\t1000\t0\t1000\t1000\nGid:\t1\t1\t1\t1\nVmHWM:\t2 kB\nVmRSS:\t1 kB\n"))
	f.Add([]byte("Uid:\n:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(b)
		if err != nil {
			return
		}
		if s.HasIDs && (!strings.Contains(string(b), "Uid:") || !strings.Contains(string(b), "Gid:")) ||
			s.HasMemory && (!strings.Contains(string(b), "VmRSS:") || !strings.Contains(string(b), "VmHWM:")) ||
			s.HasCaps && !(strings.Contains(string(b), "CapInh:") && strings.Contains(string(b), "CapPrm:") && strings.Contains(string(b), "CapEff:")) ||
			s.VmRSS%1024 != 0 || s.VmHWM%1024 != 0 {
			t.Fatalf("ParseStatus(%q) = %+v", b, s)
		}
	})
}
