package sensor

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// The per-CPU scratch buffers (rec_bufs, path_bufs) are safe only while no
// two runs of vigil's programs interleave on one CPU. Syscall tracepoints
// became faultable in Linux 6.13; the kernels vigil supports still run the
// BPF programs on them with preemption disabled, and this test is what
// tells when one does not: many more tasks than CPUs open files and exec
// programs whose names carry their pid, and every record must carry its
// own task's names.
const (
	scratchOpens = 3000 // opens per worker
	scratchExecs = 10   // execs per worker
)

// scratchVolume is the opens and execs per worker: a tenth under -short,
// as the kernel matrix runs its guests (software-emulated CPUs, where the
// full volume takes minutes and the interleavings are as real).
func scratchVolume() (opens, execs int) {
	if testing.Short() {
		return scratchOpens / 10, scratchExecs / 2
	}
	return scratchOpens, scratchExecs
}

// TestScratchIsolation runs 4 workers per CPU, each opening a path of its
// own (its pid in the name, read by the kernel from a page the worker
// unmaps between opens, so that every open faults it in again) and sleeping
// now and then, and execing a helper whose argv names it. With every kind
// on and no filter, every open and exec record from a worker must carry
// that worker's names: a record with another task's path or argv is a
// scratch buffer overwritten by an interleaved program. Both ways of
// tracing syscalls run it.
func TestScratchIsolation(t *testing.T) {
	for name, mode := range map[string]string{"auto": SyscallHooksAuto, "tracepoint": SyscallHooksTracepoint} {
		t.Run(name, func(t *testing.T) { testScratchIsolation(t, mode) })
	}
}

func testScratchIsolation(t *testing.T, hooks string) {
	startHarness(t) // requires root, and closes the extra sensor's peers at exit
	h, err := newHarness(Config{Kinds: AllKinds(), RingBufferSize: 64 << 20, SyscallHooks: hooks})
	if err != nil {
		t.Fatalf("starting a sensor: %v", err)
	}
	defer h.close()
	dir := realTempDir(t)
	workers := 4 * runtime.NumCPU()
	nOpens, nExecs := scratchVolume()
	pids := runScratchWorkers(t, h, dir, workers, nOpens, nExecs)

	prefix := []byte(dir + "/w")
	byPID := make(map[uint32]bool, workers)
	for _, pid := range pids {
		byPID[pid] = true
	}
	opens := make(map[uint32]int, workers)
	execs := make(map[uint32]int, workers)
	bad := 0
	h.mu.Lock()
	evs := h.events
	h.mu.Unlock()
	for i := range evs {
		c := &evs[i]
		switch c.Type.Kind() {
		case event.KindOpen:
			if !bytes.HasPrefix(c.Open.Raw, prefix) && !bytes.HasPrefix(c.Open.Name, prefix) {
				continue
			}
			owner := scratchOwner(c.Open.Raw, prefix)
			if !byPID[c.PID] || owner != c.PID || !bytes.Equal(c.Open.Name, c.Open.Raw) {
				bad++
				if bad <= 10 {
					t.Errorf("open record of pid %d carries another task's path: %s", c.PID, c.String())
				}
				continue
			}
			if c.Open.Flags&unix.O_ACCMODE == unix.O_RDONLY { // not the worker's creat of it
				opens[c.PID]++
			}
		case event.KindExec:
			if c.Proc == nil || !strings.Contains(c.Proc.Args, "scratch-of-") {
				continue
			}
			var owner, seq uint32
			if _, err := fmt.Sscanf(c.Proc.Args[strings.Index(c.Proc.Args, "scratch-of-"):], "scratch-of-%d-%d", &owner, &seq); err != nil ||
				!byPID[owner] || c.Proc.PPID != owner {
				bad++
				if bad <= 10 {
					t.Errorf("exec record of pid %d (parent %d) carries another task's argv: %s", c.PID, c.Proc.PPID, c.String())
				}
				continue
			}
			execs[owner]++
		}
	}
	st := h.s.Stats()
	t.Logf("%d workers on %d CPUs; open records: %d workers, exec records: %d workers; ring drops: open %d, exec %d",
		workers, runtime.NumCPU(), len(opens), len(execs), st.Kinds[event.KindOpen].Dropped, st.Kinds[event.KindExec].Dropped)
	if bad > 0 {
		t.Fatalf("%d records carried another task's names", bad)
	}
	// The check is only as good as the records it saw: every open and
	// exec must have arrived (the ring is large enough not to drop them).
	for _, pid := range pids {
		if opens[pid] != nOpens || execs[pid] != nExecs {
			t.Errorf("worker %d: %d open records of %d, %d exec records of %d (drops: open %d, exec %d)", pid, opens[pid], nOpens,
				execs[pid], nExecs, st.Kinds[event.KindOpen].Dropped, st.Kinds[event.KindExec].Dropped)
		}
	}

	// Filtered: no clause admits the workers' opens, so none may reach
	// userspace, however the programs' runs interleave.
	if err := h.s.SetFilter(event.KindOpen, &event.OpenFilter{Clauses: []event.OpenClause{{
		Types: event.KindOpen.Types(), Classes: event.OpenAllAccess, Results: event.AllResults,
		Prefixes: []string{"/etc/"}, Names: []string{"shadow"}, Resolved: true,
	}}}); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	before := h.s.Stats().Kinds[event.KindOpen].Filtered
	fdir := realTempDir(t)
	runScratchWorkers(t, h, fdir, workers, nOpens, 1)
	filtered := h.s.Stats().Kinds[event.KindOpen].Filtered - before
	leaked := 0
	h.mu.Lock()
	evs = h.events
	h.mu.Unlock()
	for i := range evs {
		c := &evs[i]
		if c.Type.Kind() == event.KindOpen && (bytes.HasPrefix(c.Open.Raw, []byte(fdir)) || bytes.HasPrefix(c.Open.Name, []byte(fdir))) {
			leaked++
			if leaked <= 10 {
				t.Errorf("an open no clause admits reached userspace: %s", c.String())
			}
		}
	}
	t.Logf("filtered: %d opens kept in the kernel, %d of the workers' reached userspace", filtered, leaked)
	if want := uint64(workers * nOpens); filtered < want {
		t.Errorf("%d opens filtered, want at least the workers' %d", filtered, want)
	}
}

// runScratchWorkers runs n helperScratch workers in dir at once, each making
// opens opens and execs execs, and returns their pids once each one's last
// exec has been delivered and the ring buffer's opens drained.
func runScratchWorkers(t *testing.T, h *harness, dir string, n, opens, execs int) []uint32 {
	t.Helper()
	pids := make([]uint32, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		cmd := exec.Command(h.bin, dir, strconv.Itoa(opens), strconv.Itoa(execs))
		cmd.Env = append(os.Environ(), helperEnv+"=scratch")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting worker: %v", err)
		}
		pids[i] = uint32(cmd.Process.Pid)
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				errs <- fmt.Errorf("worker %d: %v: %s", cmd.Process.Pid, err, stderr.String())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every worker's last exec follows its opens: wait for it, then for
	// the ring buffer to be drained.
	for _, pid := range pids {
		marker := scratchMarker(pid, execs-1)
		h.wait(t, pid, "the last exec of worker "+strconv.Itoa(int(pid)), func(c *captured) bool {
			return c.Type.Kind() == event.KindExec && c.Proc != nil && strings.Contains(c.Proc.Args, marker)
		})
	}
	settle := time.Now().Add(waitTimeout)
	for !drained(h.s.Stats(), event.KindOpen) && time.Now().Before(settle) {
		time.Sleep(10 * time.Millisecond)
	}
	return pids
}

// drained reports whether every record of kind the kernel emitted has been
// read.
func drained(st Stats, kind event.Kind) bool {
	k := st.Kinds[kind]
	return k.Emitted == k.Delivered+k.Skipped+k.Failed
}

// scratchMarker is the argv word of a worker's n-th exec.
func scratchMarker(pid uint32, n int) string {
	return fmt.Sprintf("scratch-of-%d-%d", pid, n)
}

// scratchOwner is the pid a worker's path names (prefix "<dir>/w", then
// "<pid>/<pid>-..."), 0 when it names none.
func scratchOwner(raw, prefix []byte) uint32 {
	rest, ok := bytes.CutPrefix(raw, prefix)
	if !ok {
		return 0
	}
	d, f, ok := bytes.Cut(rest, []byte("/"))
	if !ok || !bytes.HasPrefix(f, append(append([]byte{}, d...), '-')) {
		return 0
	}
	n, err := strconv.ParseUint(string(d), 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// helperScratch is a worker of TestScratchIsolation: args are the
// directory, the number of opens and of execs. Its path lives in a shared
// file mapping that it zaps after every open (MADV_DONTNEED), so that the
// kernel faults the page in again on the next open; every 64 opens it
// sleeps, and every opens/execs opens it runs the test binary's "exit"
// helper with a marker naming it in argv.
func helperScratch(args []string) int {
	dir := args[0]
	opens, err1 := strconv.Atoi(args[1])
	execs, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || opens <= 0 || execs <= 0 {
		return 2
	}
	pid := os.Getpid()
	sub := filepath.Join(dir, "w"+strconv.Itoa(pid))
	// A long name makes the kernel's copies long, and tells each worker's
	// path from another's in every byte range.
	path := filepath.Join(sub, strconv.Itoa(pid)+"-"+strings.Repeat(strconv.Itoa(pid%10), 100))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fd, err := unix.MemfdCreate("vigil-scratch", unix.MFD_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	page := os.Getpagesize()
	if _, err := unix.Pwrite(fd, append([]byte(path), 0), 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := unix.Ftruncate(fd, int64(page)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	m, err := unix.Mmap(fd, 0, page, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	bin, _ := os.Executable()
	every := opens / execs
	n := 0
	for i := range opens {
		if err := unix.Madvise(m, unix.MADV_DONTNEED); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		ofd, err := scratchOpen(m)
		if err != nil {
			fmt.Fprintf(os.Stderr, "opening %s: %v\n", path, err)
			return 3
		}
		unix.Close(ofd)
		if i%64 == 63 {
			time.Sleep(50 * time.Microsecond)
		}
		if i%every == every-1 && n < execs {
			cmd := exec.Command(bin, scratchMarker(uint32(pid), n))
			cmd.Env = append(os.Environ(), helperEnv+"=exit")
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 3
			}
			n++
		}
	}
	return 0
}

// scratchOpen opens the NUL-terminated path at the start of m read-only,
// the kernel reading it from m itself.
func scratchOpen(m []byte) (int, error) {
	cwd := int64(unix.AT_FDCWD)
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&m[0])),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
