package main

import (
	"slices"
	"testing"
)

const guestLog = "\x1bc\x1b[?7l\x1b[2JSeaBIOS noise\r\n" +
	"VIGIL-GUEST-INIT release=6.12.117+deb12-amd64 lsm=lockdown,capability,yama,bpf\r\n" +
	"VIGIL-PKG vagrant_matrix_guesttest\r\n" +
	"=== RUN   TestHooks\r\n" +
	"=== RUN   TestHooks/fentry\r\n" +
	"    hooks_test.go:154: hook active: fentry\r\n" +
	"=== RUN   TestHooks/kprobe\r\n" +
	"    hooks_test.go:131: kernel lacks kprobe: attaching program: no such file\r\n" +
	"VIGIL-PKG sensor\r\n" +
	"=== RUN   TestExec\r\n" +
	"    sensor_test.go:10: hook active: tp_btf/sched_process_exec\r\n" +
	"    sensor_test.go:12: kernel lacks fentry: on another probe\r\n" +
	"    sensor_test.go:40: hook active: fentry (again)\r\n" +
	"[   12.345678] random kernel line\r\n" +
	"--- PASS: TestHooks (0.20s)\r\n" +
	"    --- PASS: TestHooks/fentry (0.10s)\r\n" +
	"    --- SKIP: TestHooks/kprobe (0.00s)\r\n" +
	"--- FAIL: TestExec (1.00s)\r\n" +
	"VIGIL-SETUP-FAILED: insmod /lib/modules/vigil/veth.ko\r\n" +
	"VIGIL-TEST-EXIT=1\r\n"

func TestParseGuestOutput(t *testing.T) {
	r := parseGuestOutput([]byte(guestLog))
	if r.lsm != "lockdown,capability,yama,bpf" {
		t.Errorf("lsm = %q", r.lsm)
	}
	want := []pkgHooks{
		{"vagrant_matrix_guesttest", []string{"fentry"}},
		{"sensor", []string{"tp_btf/sched_process_exec", "fentry"}},
	}
	if len(r.hooks) != len(want) {
		t.Fatalf("hooks = %v, want %v", r.hooks, want)
	}
	for i := range want {
		if r.hooks[i].pkg != want[i].pkg || !slices.Equal(r.hooks[i].hooks, want[i].hooks) {
			t.Errorf("hooks[%d] = %v, want %v", i, r.hooks[i], want[i])
		}
	}
	if want := []string{"kprobe"}; !slices.Equal(r.lacks, want) {
		t.Errorf("lacks = %v, want %v (a hook active anywhere is not lacking)", r.lacks, want)
	}
	if r.passed != 2 || r.failed != 1 || r.skipped != 1 {
		t.Errorf("passed/failed/skipped = %d/%d/%d, want 2/1/1", r.passed, r.failed, r.skipped)
	}
	if want := []string{"TestExec"}; !slices.Equal(r.failedTests, want) {
		t.Errorf("failedTests = %v, want %v", r.failedTests, want)
	}
	if len(r.setupFailures) != 1 {
		t.Errorf("setupFailures = %v, want one", r.setupFailures)
	}
}

// TestSerialWatcher feeds the log in small chunks, as a pipe delivers it,
// so markers arrive split across writes.
func TestSerialWatcher(t *testing.T) {
	for _, tc := range []struct {
		name       string
		log        string
		exited     bool
		status     int
		initSpoken bool
	}{
		{"passed", "VIGIL-GUEST-INIT release=x\r\nPASS\r\nVIGIL-TEST-EXIT=0\r\n", true, 0, true},
		{"failed", "VIGIL-GUEST-INIT\nVIGIL-TEST-EXIT=125\n[ 3.9] reboot: Power down\n", true, 125, true},
		{"kernel prefix", "[    4.1] VIGIL-TEST-EXIT=2 trailing\n", true, 2, false},
		{"no newline yet", "VIGIL-TEST-EXIT=0", false, 0, false},
		{"no status", "VIGIL-TEST-EXIT=\n", false, 0, false},
		{"panic", "Kernel panic - not syncing: Attempted to kill init!\n", false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSerialWatcher()
			for i := 0; i < len(tc.log); i += 3 {
				if _, err := w.Write([]byte(tc.log[i:min(i+3, len(tc.log))])); err != nil {
					t.Fatal(err)
				}
			}
			exited, status := w.exit()
			if exited != tc.exited || status != tc.status {
				t.Errorf("exit() = %v, %d; want %v, %d", exited, status, tc.exited, tc.status)
			}
			if got := closed(w.initSeen); got != tc.initSpoken {
				t.Errorf("init seen = %v, want %v", got, tc.initSpoken)
			}
			if got := closed(w.exitSeen); got != tc.exited {
				t.Errorf("exit seen = %v, want %v", got, tc.exited)
			}
		})
	}
}

func TestCompactHooks(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"tracepoint", "tp_btf", "lsm"}, "tracepoint,tp_btf,lsm"},
		{
			[]string{"tp_btf/sched_process_exec", "tracepoint/syscalls/sys_enter_open", "tp_btf/sched_process_exit", "tracepoint/syscalls/sys_exit_open", "lsm/file_open"},
			"tp_btf×2,tracepoint×2,lsm/file_open",
		},
	} {
		if got := compactHooks(tc.in); got != tc.want {
			t.Errorf("compactHooks(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
