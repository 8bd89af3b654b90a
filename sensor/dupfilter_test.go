package sensor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// helperDup makes the dups of ops, each "syscall|what|newfd": syscall is
// dup, dup2 or dup3 (dup takes the lowest free descriptor; a newfd given
// to it is closed first, so that the dup lands there); what is the
// descriptor duplicated: tcp (an IPv4 TCP socket), udp6 (an IPv6 UDP
// socket), file (a file in the cwd) or bad (no open descriptor). The dups
// may replace stdout and stderr, so each result is printed on a copy of
// stdout, made with fcntl (which is no dup).
func helperDup(ops []string) int {
	outFD, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 10)
	if err != nil {
		fmt.Fprintln(os.Stderr, "copying stdout:", err)
		return 3
	}
	out := os.NewFile(uintptr(outFD), "results")
	tcp, err1 := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	udp6, err2 := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	file, err3 := unix.Open("f", unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err1 != nil || err2 != nil || err3 != nil {
		fmt.Fprintln(os.Stderr, "opening the descriptors:", err1, err2, err3)
		return 3
	}
	// Out of the way of the ops' descriptors.
	fds := map[string]int{"bad": 999}
	for name, fd := range map[string]int{"tcp": tcp, "udp6": udp6, "file": file} {
		if fds[name], err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 20); err != nil {
			fmt.Fprintln(os.Stderr, "moving the descriptors:", err)
			return 3
		}
		unix.Close(fd)
	}
	for _, op := range ops {
		parts := strings.Split(op, "|")
		old, ok := fds[parts[1]]
		if len(parts) != 3 || !ok {
			fmt.Fprintln(os.Stderr, "bad op", op)
			return 2
		}
		newfd, _ := strconv.Atoi(parts[2])
		var r uintptr
		var errno unix.Errno
		switch parts[0] {
		case "dup":
			if parts[2] != "" {
				unix.Close(newfd)
			}
			r, _, errno = unix.Syscall(unix.SYS_DUP, uintptr(old), 0, 0)
		case "dup2":
			r, _, errno = unix.Syscall(unix.SYS_DUP2, uintptr(old), uintptr(newfd), 0)
		case "dup3":
			r, _, errno = unix.Syscall(unix.SYS_DUP3, uintptr(old), uintptr(newfd), 0)
		}
		res := int(r)
		if errno != 0 {
			res = -int(errno)
		}
		fmt.Fprintf(out, "res=%d\n", res)
	}
	return 0
}

// helperDups returns the dups among a helper's events after its exec: the
// child that os/exec forks dups the helper's stdin, stdout and stderr into
// place before it execs.
func helperDups(evs []captured) []captured {
	var out []captured
	for _, e := range evs {
		switch e.Type.Kind() {
		case event.KindExec:
			out = out[:0]
		case event.KindDup:
			out = append(out, e)
		}
	}
	return out
}

// dupOpType is the event type of a helperDup op.
func dupOpType(op string) event.Type {
	switch op[:strings.IndexByte(op, '|')] {
	case "dup":
		return event.TypeDup
	case "dup2":
		return event.TypeDup2
	}
	return event.TypeDup3
}

// TestDupResultFilter runs real dups, dup2s and dup3s of sockets and a
// file onto low (0 to 2) and high descriptors, and failed ones, under a
// dup filter that bounds the result as Falco's redirect rule does, beside
// the shared unfiltered sensor: the filtered sensor must deliver a dup
// exactly when kernelAdmits says so of the dup as the unfiltered one saw
// it, and that verdict must be the expected one, in each hook mode.
func TestDupResultFilter(t *testing.T) {
	h := startHarness(t)
	inEachHookMode(t, func(t *testing.T, fh *harness) { dupResultFilterCase(t, h, fh) })
}

func dupResultFilterCase(t *testing.T, h, fh *harness) {
	dups := event.KindDup.Types()
	f := &event.Filter{Clauses: []event.Clause{
		// The redirect rule: an IP socket onto stdin, stdout or stderr.
		{Types: dups, Classes: 1<<event.AFInet | 1<<event.AFInet6, Results: event.ResultLow, AnyPath: true},
		// A file dup3'ed onto a high descriptor.
		{Types: event.TypeSetOf(event.TypeDup3), Classes: 1 << event.DupKeyFile, Results: event.ResultHigh, AnyPath: true},
		// A failed dup2 of anything.
		{Types: event.TypeSetOf(event.TypeDup2), Classes: ^uint64(0), Results: event.ResultFailed, AnyPath: true},
	}}
	ops := []struct {
		op    string
		admit bool
	}{
		{"dup2|tcp|1", true},
		{"dup2|tcp|100", false},
		{"dup3|tcp|2", true},
		{"dup3|tcp|150", false},
		{"dup3|file|151", true},
		{"dup3|file|0", false},
		{"dup2|file|2", false},
		{"dup2|udp6|101", false},
		{"dup|tcp|", false}, // the lowest free descriptor: 0 to 2 are taken
		{"dup|udp6|0", true},
		{"dup2|bad|1", true}, // EBADF
		{"dup3|bad|1", false},
	}
	if err := fh.s.SetFilter(event.KindDup, f); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	before := fh.s.Stats().Kinds[event.KindDup].Filtered
	// Admitted, and last: once it arrives, so have the admitted dups.
	sentinel := "dup2|udp6|2"
	args := []string{}
	for _, o := range ops {
		args = append(args, o.op)
	}
	c := h.spawn(t, realTempDir(t), "dup", append(args, sentinel)...)
	if len(c.results) != len(args)+1 {
		t.Fatalf("helper results %v, stderr %s", c.results, c.stderr)
	}
	// The helper's dups in order, as the unfiltered sensor saw them.
	isDup := func(e *captured) bool { return e.PID == c.pid && e.Type.Kind() == event.KindDup }
	h.wait(t, c.pid, "the sentinel dup", func(e *captured) bool {
		return isDup(e) && e.Type == event.TypeDup2 && e.Res == 2 && e.Dup.Sock.Family == event.AFInet6
	})
	refs := helperDups(h.all(c.pid))
	if len(refs) != len(args)+1 {
		t.Fatalf("the unfiltered sensor saw %d dups of the helper, want %d:\n%s", len(refs), len(args)+1, h.dump(c.pid))
	}
	fh.wait(t, c.pid, "the sentinel dup", func(e *captured) bool {
		return isDup(e) && e.Type == event.TypeDup2 && e.Res == 2 && e.Dup.Sock.Family == event.AFInet6
	})
	delivered := helperDups(fh.all(c.pid))
	same := func(a, b *captured) bool {
		return a.Type == b.Type && a.Res == b.Res && a.Dup.OldFD == b.Dup.OldFD && a.Dup.NewFD == b.Dup.NewFD
	}
	for i, o := range ops {
		ref := &refs[i]
		if ref.Type != dupOpType(o.op) || ref.Res != int64(c.results[i]) {
			t.Fatalf("%s: the unfiltered sensor saw %s, the helper's result was %d", o.op, ref.String(), c.results[i])
		}
		if low := ref.Res >= 0 && ref.Res <= event.LowResult; strings.HasSuffix(o.op, "|") && low {
			t.Fatalf("%s: landed on %d, a low descriptor", o.op, ref.Res)
		}
		if got := kernelAdmits(f, &ref.Event); got != o.admit {
			t.Errorf("%s: kernelAdmits says %v, want %v (%s %+v)", o.op, got, o.admit, ref.String(), ref.Dup)
		}
		got := false
		for _, e := range delivered {
			got = got || same(&e, ref)
		}
		if got != o.admit {
			t.Errorf("%s: the filtered sensor delivered it: %v, want %v (%s %+v)", o.op, got, o.admit, ref.String(), ref.Dup)
		}
	}
	if n := fh.s.Stats().Kinds[event.KindDup].Filtered - before; n < 7 {
		t.Errorf("the dup filter left out %d dups, want at least the helper's 7", n)
	}
}
