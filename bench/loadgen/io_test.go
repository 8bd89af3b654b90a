package loadgen

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIOLoopsCleanUp runs each file, socket and descriptor loop with two
// workers and checks that Close leaves nothing behind: no descriptor it
// made still open, no temporary file or directory.
func TestIOLoopsCleanUp(t *testing.T) {
	for _, l := range []Loop{LoopFS, LoopUDP, LoopTCP, LoopDup2} {
		t.Run(string(l), func(t *testing.T) {
			g, err := New(Config{Loop: l, Duration: 50 * time.Millisecond, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			res, err := g.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops == 0 {
				t.Fatalf("no operations: %+v", res)
			}
			fds, dir := append([]int(nil), g.fds...), g.tmpDir
			if l == LoopFS {
				// Every operation removes what it made.
				ents, err := os.ReadDir(dir)
				if err != nil || len(ents) != 0 {
					t.Errorf("fs loop's directory after the run: %v, %v; want empty", ents, err)
				}
			} else if len(fds) == 0 {
				t.Fatal("no descriptors recorded")
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
					t.Errorf("descriptor %d still open after Close (%v)", fd, err)
				}
			}
			if dir != "" {
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("temporary directory %s still there after Close: %v", dir, err)
				}
			}
		})
	}
}

// TestTCPCountsMessages checks the count against the kernel's: the server
// end received exactly one message per operation.
func TestTCPCountsMessages(t *testing.T) {
	g, err := New(Config{Loop: LoopTCP, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := g.fds[len(g.fds)-1]
	before, err := unix.GetsockoptTCPInfo(srv, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after, err := unix.GetsockoptTCPInfo(srv, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := after.Bytes_received-before.Bytes_received, res.Ops*msgSize; got != want {
		t.Errorf("server received %d bytes over %d operations, want %d", got, res.Ops, want)
	}
}

// TestDup2Targets checks that each worker duplicates onto its own free
// descriptor from 100 up, which holds the duplicated file.
func TestDup2Targets(t *testing.T) {
	g, err := New(Config{Loop: LoopDup2, Duration: time.Second, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// fds: the duplicated file, then each worker's target.
	if len(g.fds) != 3 {
		t.Fatalf("descriptors %v, want the file and two targets", g.fds)
	}
	file, t1, t2 := g.fds[0], g.fds[1], g.fds[2]
	if t1 < dup2Base || t2 <= t1 {
		t.Errorf("targets %d, %d; want distinct descriptors from %d up", t1, t2, dup2Base)
	}
	var want, got unix.Stat_t
	if err := unix.Fstat(file, &want); err != nil {
		t.Fatal(err)
	}
	for _, fd := range []int{t1, t2} {
		if err := unix.Fstat(fd, &got); err != nil || got.Ino != want.Ino || got.Rdev != want.Rdev {
			t.Errorf("descriptor %d: %v (ino %d rdev %d), want the duplicated file (ino %d rdev %d)", fd, err, got.Ino, got.Rdev, want.Ino, want.Rdev)
		}
	}
}
