package main

// Privileged end-to-end tests of file access that makes no open syscall:
// io_uring requests (the default rule "File Operation through io_uring")
// and open_by_handle_at (the default credential rule), each done by this
// test binary re-executed in a helper mode.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/sensor"
)

// Helper modes of the test binary for this file.
const (
	// helperURing makes the requests of testutil.URingRequests' scenario
	// (its arguments) in the cwd.
	helperURing = "uring"
	// helperHandle opens its first argument by handle
	// (testutil.OpenByHandle), with a mount descriptor of its second.
	helperHandle = "handle"
)

// fileAccessHelper runs the helper modes of this file; ok is false for
// another mode.
func fileAccessHelper(mode string, args []string) (code int, ok bool) {
	switch mode {
	case helperURing:
		res, err := testutil.URingRequests(args)
		fmt.Println(res)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2, true
		}
		return 0, true
	case helperHandle:
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "handle: want a path and a directory")
			return 2, true
		}
		if _, _, err := testutil.OpenByHandle(args[0], args[1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2, true
		}
		return 0, true
	}
	return 0, false
}

// runHelperIn runs this test binary in helper mode in dir, within 20s; the
// helper must succeed.
func runHelperIn(t *testing.T, dir, mode string, args ...string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper %s %q: %v: %s", mode, args, err, out)
	}
}

// openByHandleTrigger reads /etc/shadow through a file handle: the
// credential rule must fire with the path resolved from the new fd.
func openByHandleTrigger(t *testing.T) alert {
	runHelperIn(t, "/", helperHandle, "/etc/shadow", "/etc")
	return alert{key: []string{"fd.name", "proc.cmdline"}, want: fields{
		"fd.name": "/etc/shadow", "proc.cmdline": contains(" /etc/shadow /etc"), "user.uid": 0,
	}}
}

// iouringRuleTest is the test of the default rule on io_uring file
// operations: an IORING_OP_OPENAT of /etc/shadow (from a syscall, and from
// an SQPOLL ring's kernel thread, with a path relative to the cwd) and the
// path opcodes fire; a ring that only makes no-ops and reads does not.
func iouringRuleTest(env *hostEnv) ruleTest {
	requireIOURing := func(t *testing.T) {
		if err := sensor.ProbeIOURing(); err != nil {
			testutil.SkipKernelLacks(t, "the io_uring tracepoints io_uring_create and io_uring_submit_req", err)
		}
	}
	key := []string{"iouring.op", "iouring.path", "iouring.sq_thread"}
	return ruleTest{rule: "File Operation through io_uring", priority: "Warning",
		trigger: func(t *testing.T) []alert {
			requireIOURing(t)
			runHelperIn(t, "/", helperURing, "openat", "/etc/shadow")
			runHelperIn(t, "/etc", helperURing, "sqpoll", "shadow")
			dir := tempDir(t, env.tmp)
			if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			runHelperIn(t, dir, helperURing, "fsops")
			return []alert{
				{key: key, want: fields{"iouring.op": "IORING_OP_OPENAT", "iouring.path": "/etc/shadow", "iouring.sq_thread": false,
					"proc.cmdline": contains("openat /etc/shadow"), "user.uid": 0}},
				{key: key, want: fields{"iouring.op": "IORING_OP_OPENAT", "iouring.path": "/etc/shadow", "iouring.sq_thread": true,
					"proc.cmdline": contains("sqpoll shadow")}},
				{key: key, want: fields{"iouring.op": "IORING_OP_MKDIRAT", "iouring.path": dir + "/d", "iouring.sq_thread": false}},
				{key: key, want: fields{"iouring.op": "IORING_OP_RENAMEAT", "iouring.path": dir + "/d", "iouring.sq_thread": false,
					"iouring.path2": dir + "/e"}},
				{key: key, want: fields{"iouring.op": "IORING_OP_UNLINKAT", "iouring.path": dir + "/e", "iouring.sq_thread": false}},
			}
		},
		benign: func(t *testing.T) []alert {
			requireIOURing(t)
			dir := tempDir(t, env.tmp)
			file := filepath.Join(dir, "own")
			if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
				t.Fatal(err)
			}
			runHelperIn(t, dir, helperURing, "benign", file)
			return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": contains("benign " + file)}}}
		}}
}
