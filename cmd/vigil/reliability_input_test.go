package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestReliabilityStartupFailures checks that vigil explains, and exits 1,
// when it cannot run: not root, no kernel BTF, no tracefs.
func TestReliabilityStartupFailures(t *testing.T) {
	testutil.RequireRoot(t)
	lock := filepath.Join(t.TempDir(), "vigil.lock")

	t.Run("not root", func(t *testing.T) {
		bin := testutil.ExecutableForNobody(t, vigilBin, "vigil")
		code, stderr := agenttest.RunToExit(t, testutil.AsNobody(exec.Command(bin, "run", "--no-containerd")))
		want := "vigil: starting sensor: missing privileges: loading and attaching tracing programs needs root, or CAP_BPF and CAP_PERFMON (euid 65534)"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("as nobody: exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
		}
	})

	// The others hide kernel interfaces in a private mount namespace.
	testutil.RequireCommand(t, "unshare")
	inMountNS := func(t *testing.T, script string) (int, string) {
		t.Helper()
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "/bin/sh", "-ec",
			script+`; exec "$0" run --no-containerd --lock-file "$1"`, vigilBin, lock)
		return agenttest.RunToExit(t, cmd)
	}
	t.Run("no BTF", func(t *testing.T) {
		code, stderr := inMountNS(t, "mount -t tmpfs none /sys/kernel/btf")
		want := "vigil: starting sensor: no kernel BTF: /sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("without BTF: exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
		}
	})
	t.Run("no tracefs", func(t *testing.T) {
		// A tmpfs over /sys/kernel hides tracefs (and debugfs) and leaves
		// no directory to mount it on; BTF is put back.
		keep := t.TempDir()
		code, stderr := inMountNS(t, fmt.Sprintf(`mount --bind /sys/kernel/btf %[1]s
mount -t tmpfs none /sys/kernel
mkdir /sys/kernel/btf
mount --bind %[1]s /sys/kernel/btf`, keep))
		want := "vigil: starting sensor: no tracefs: tracefs is not mounted and mounting it failed; mount it with `mount -t tracefs nodev /sys/kernel/tracing`"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("without tracefs: exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
		}
	})
}

// relPathMax builds directories under base whose file path is exactly
// 4095 bytes (PATH_MAX without its NUL) and returns that path.
func relPathMax(t *testing.T, base string) string {
	t.Helper()
	const total = 4095
	dir := base
	for len(dir)+1+200+1+1 <= total {
		dir += "/" + strings.Repeat("d", 200)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := dir + "/" + strings.Repeat("f", total-len(dir)-1)
	if len(file) != total {
		t.Fatalf("built a %d-byte path", len(file))
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestReliabilityHostileInput runs processes that try to hurt the sensor
// (a 1 MiB argv, paths at and past PATH_MAX, names with newlines, quotes
// and invalid UTF-8, a burst of 10k short-lived processes) and checks that
// every record is valid JSON, truncation is flagged, and the process table
// returns to its size. It also scrapes the metrics and /healthz. Rules pick
// the test's events out (rather than --events), so that a busy machine
// cannot crowd them out of the output queue.
func TestReliabilityHostileInput(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	y := fmt.Sprintf(`- rule: hostile exec
  desc: exec of a program of this test
  condition: evt.type in (execve, execveat) and proc.exe startswith "%[1]s/"
  output: exec (name=%%proc.name args=%%proc.args truncated=%%proc.is_args_truncated pid=%%proc.pid)
  priority: WARNING
- rule: hostile open
  desc: open of a long path of this test
  condition: evt.type in (open, openat, openat2) and (fd.name endswith "/deep-file" or fd.name endswith "fffff")
  output: open (file=%%fd.name pid=%%proc.pid)
  priority: WARNING
`, dir)
	if err := os.WriteFile(rulesFile, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "--rules", rulesFile, "--no-containerd")

	m := a.Metrics(t)
	for _, fam := range []string{
		"vigil_kernel_events_total counter", "vigil_kernel_drops_total counter", "vigil_kernel_filtered_total counter", "vigil_events_total counter",
		"vigil_events_skipped_total counter", "vigil_events_undecodable_total counter", "vigil_decode_errors_total counter",
		"vigil_rule_matches_total counter", "vigil_output_queue_depth gauge", "vigil_output_queue_bytes gauge",
		"vigil_output_drops_total counter", "vigil_output_event_drops_total counter", "vigil_process_table_size gauge",
		"vigil_enrich_cache_hits_total counter", "vigil_enrich_cache_misses_total counter", "vigil_enrich_failures_total counter",
		"vigil_rules_active gauge", "vigil_rule_reloads_total counter",
	} {
		if !strings.Contains(m.Text, "# TYPE "+fam+"\n") {
			t.Errorf("metrics lack family %q", fam)
		}
	}
	for _, kind := range []string{"exec", "fork", "exit", "open", "connect"} {
		m.Get(t, fmt.Sprintf(`vigil_kernel_drops_total{kind="%s"}`, kind))
		m.Get(t, fmt.Sprintf(`vigil_events_total{kind="%s"}`, kind))
	}
	if v := m.Get(t, "vigil_rules_active"); v != 2 {
		t.Errorf("vigil_rules_active = %v, want 2", v)
	}
	resp, err := http.Get("http://" + a.MetricsAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("healthz: %s %q", resp.Status, body)
	}
	baseline := m.Get(t, "vigil_process_table_size")
	isAlert := func(rule string, pid int) func(agenttest.Line) bool {
		return func(r agenttest.Line) bool {
			return r.Rule == rule && agenttest.Int(r.OutputFields["proc.pid"]) == int64(pid)
		}
	}

	// argv of 1 MiB: 16 arguments of 64 KiB.
	trueBin := filepath.Join(dir, "true")
	if err := os.Symlink("/bin/true", trueBin); err != nil {
		t.Fatal(err)
	}
	args := make([]string, 16)
	for i := range args {
		args[i] = strings.Repeat(string(rune('a'+i)), 64<<10-1)
	}
	pid := runCommand(t, trueBin, args...)
	r := a.Expect(t, "exec with a 1 MiB argv", isAlert("hostile exec", pid))
	if r.OutputFields["proc.is_args_truncated"] != true {
		t.Errorf("1 MiB argv not flagged truncated: %v", r.OutputFields["proc.is_args_truncated"])
	}
	if got := fmt.Sprint(r.OutputFields["proc.args"]); len(got) == 0 || len(got) > 4095 || !strings.HasPrefix(got, "aaaa") {
		t.Errorf("proc.args of %d bytes (%.20q), want 1..4095 starting with the argv", len(got), got)
	}
	if len(r.Raw) > 64<<10 {
		t.Errorf("exec alert of %d bytes", len(r.Raw))
	}

	// A path of exactly PATH_MAX - 1 bytes, then one past it: the first is
	// whole, the second cut from the top.
	long := relPathMax(t, dir)
	pid = runCommand(t, "cat", long)
	r = a.Expect(t, "open of a 4095-byte path", isAlert("hostile open", pid))
	if r.OutputFields["fd.name"] != long {
		t.Errorf("4095-byte path reported as %d bytes", len(fmt.Sprint(r.OutputFields["fd.name"])))
	}
	// Past PATH_MAX no path can be passed whole: walk down with openat.
	deep := filepath.Dir(long)
	fd, err := unix.Open(deep, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	comp := strings.Repeat("e", 250)
	for range 8 {
		if err := unix.Mkdirat(fd, comp, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, comp, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	ffd, err := unix.Openat(fd, "deep-file", unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(ffd)
	r = a.Expect(t, "open of a path past PATH_MAX", isAlert("hostile open", os.Getpid()))
	full := deep + strings.Repeat("/"+comp, 8) + "/deep-file"
	if name := fmt.Sprint(r.OutputFields["fd.name"]); len(name) > 4095 || !strings.HasSuffix(full, name) {
		t.Errorf("path past PATH_MAX reported as %d bytes, not a suffix of the %d-byte path: %.200q", len(name), len(full), name)
	}

	// Names with a newline, a quote and invalid UTF-8.
	evil := filepath.Join(dir, "ev\nil\"q\xff")
	if err := os.Symlink("/bin/true", evil); err != nil {
		t.Fatal(err)
	}
	pid = runCommand(t, evil, "arg\n\"\xfe", "\x01\x7f")
	r = a.Expect(t, "exec of a hostile name", isAlert("hostile exec", pid))
	if got, want := r.OutputFields["proc.name"], "ev\nil\"q\ufffd"; got != want {
		t.Errorf("proc.name = %q, want %q", got, want)
	}
	if got, want := r.OutputFields["proc.args"], "arg\n\"\ufffd \x01\x7f"; got != want {
		t.Errorf("proc.args = %q, want %q", got, want)
	}
	if !utf8.ValidString(r.Raw) || strings.Count(r.Raw, "\n") != 1 {
		t.Errorf("record is not one line of valid UTF-8: %q", r.Raw)
	}

	// 10k short-lived processes (subshells, and some execs): the table
	// returns to its size once they have exited.
	start := time.Now()
	// Two loops of 5000, one per core of the target machine.
	burst := exec.Command("/bin/sh", "-c", `loop() { i=0; while [ $i -lt 5000 ]; do (:); if [ $((i % 20)) = 0 ]; then /bin/true; fi; i=$((i+1)); done; }
loop & loop; wait`)
	if out, err := burst.CombinedOutput(); err != nil {
		t.Fatalf("burst: %v: %s", err, out)
	}
	t.Logf("10k processes in %v", time.Since(start))
	a.WaitMetric(t, "vigil_process_table_size", 15*time.Second, func(v float64) bool { return v <= baseline+20 })
	m = a.Metrics(t)
	if forks := m.Get(t, `vigil_kernel_events_total{kind="fork"}`) + m.Get(t, `vigil_kernel_drops_total{kind="fork"}`); forks < 10500 {
		t.Errorf("the kernel saw %v forks, fewer than the burst's", forks)
	}
	t.Logf("process table: %v before, %v after; exit drops %v, output drops %v", baseline, m.Get(t, "vigil_process_table_size"),
		m.Get(t, `vigil_kernel_drops_total{kind="exit"}`), m.Get(t, "vigil_output_drops_total"))

	stop := a.Stop(t, syscall.SIGINT, 20*time.Second)
	if stop.Code != 0 {
		t.Errorf("SIGINT: exit %d", stop.Code)
	}
	a.CheckJSON(t)
	// stderr carries only structured log lines.
	for _, line := range strings.Split(strings.TrimSpace(stop.Stderr), "\n") {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") || !strings.Contains(line, " msg=") {
			t.Errorf("stderr line is not a structured log record: %q", line)
		}
	}
}
