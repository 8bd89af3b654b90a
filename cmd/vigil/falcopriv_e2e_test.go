package main

// Privileged end-to-end tests of Falco's upstream rules on privileges,
// process context and kernel events (ptrace, modules, namespaces, bpf,
// userfaultfd, setuid, capabilities, overlayfs layers, environments): each
// rule is triggered by the real activity on this kernel, on the host or in
// a container, and must be reported by an agent running Falco's files
// unchanged; one benign activity per rule must not be. The host activity
// is this test binary re-executed in helper mode helperPriv (privHelper),
// so that no tool beyond busybox is needed.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// helperPriv is the helper mode of privHelper: its first argument names
// the operation, the rest (a token) only mark its command line.
const helperPriv = "priv"

// privHelper makes one privileged operation and returns the exit code: 0
// when the syscall was made, whatever it returned (the rules look at the
// attempt), 2 when the helper could not get that far.
func privHelper(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "priv: no operation")
		return 2
	}
	// ptrace and setns act on the calling thread.
	runtime.LockOSThread()
	var err error
	switch args[0] {
	case "ptrace-attach":
		err = ptraceAttachChild()
	case "ptrace-traceme":
		_, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0, 0, 0, 0)
		err = errnoErr(errno)
	case "ptrace-peek":
		// Pid 1 is no tracee of ours: ESRCH.
		_, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, 1, 0, 0, 0, 0)
		err = errnoErr(errno)
	case "setns":
		var fd int
		if fd, err = unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
		}
	case "setuid":
		_, _, errno := unix.RawSyscall(unix.SYS_SETUID, 0, 0, 0)
		err = errnoErr(errno)
	case "bpf-prog-load":
		err = bpfProgLoad()
	case "bpf-map-create":
		// BPF_MAP_TYPE_ARRAY, 4-byte keys and values, one entry.
		attr := [4]uint32{2, 4, 4, 1}
		_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		err = errnoErr(errno)
	case "userfaultfd":
		// UFFD_USER_MODE_ONLY: what an unprivileged process may ask for
		// when vm.unprivileged_userfaultfd is 0.
		_, _, errno := unix.RawSyscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|1, 0, 0)
		err = errnoErr(errno)
	default:
		fmt.Fprintln(os.Stderr, "priv: unknown operation", args[0])
		return 2
	}
	fmt.Fprintln(os.Stderr, args[0]+":", err)
	return 0
}

func errnoErr(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// ptraceAttachChild attaches to a child with PTRACE_ATTACH, waits for it
// to stop, detaches and kills it.
func ptraceAttachChild() error {
	child := exec.Command("/bin/sleep", "30")
	if err := child.Start(); err != nil {
		return err
	}
	defer child.Process.Kill()
	pid := child.Process.Pid
	if err := unix.PtraceAttach(pid); err != nil {
		return err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return err
	}
	return unix.PtraceDetach(pid)
}

// bpfProgLoad loads "r0 = 0; exit" as a socket filter.
func bpfProgLoad() error {
	insns := [2]uint64{0x00000000000000b7, 0x0000000000000095}
	license := []byte("GPL\x00")
	var attr struct {
		progType, insnCnt uint32
		insns, license    uint64
		logLevel, logSize uint32
		logBuf            uint64
		kernVersion       uint32
		_                 uint32
	}
	attr.progType, attr.insnCnt = 1, 2
	attr.insns = uint64(uintptr(unsafe.Pointer(&insns[0])))
	attr.license = uint64(uintptr(unsafe.Pointer(&license[0])))
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(&insns)
	runtime.KeepAlive(license)
	if errno != 0 {
		return errno
	}
	return unix.Close(int(fd))
}

// runPriv runs privHelper's op with a fresh token, as root or (nobody)
// as nobody, and returns the token, which its command line carries.
func runPriv(t *testing.T, nobody bool, op string) string {
	t.Helper()
	token := "vigil-priv-" + randToken()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin = testutil.ExecutableForNobody(t, bin, "vigil-priv")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, op, token)
	cmd.Env = append(os.Environ(), helperEnv+"="+helperPriv)
	if nobody {
		testutil.AsNobody(cmd)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper %s: %v: %s", op, err, out)
	}
	return token
}

// privKey identifies an alert by the helper's command line.
var privKey = []string{"proc.cmdline"}

func privAlert(token string, f fields) alert {
	f["proc.cmdline"] = contains(token)
	return alert{key: privKey, want: f}
}

// inContainerExec runs argv in c; a non-zero exit is fine, the tests look
// at what the process did.
func inContainerExec(t *testing.T, c *containerdtest.Container, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := c.Exec(ctx, argv...); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("exec %q in the container: %v: %s", argv, err, out)
	}
}

// startPrivContainers starts containerd, an agent with args and Falco's
// rule files, and two containers, an unprivileged and a privileged one,
// known to the agent by name.
func startPrivContainers(t *testing.T, files ...string) (a *agenttest.Agent, plain, priv *containerdtest.Container) {
	t.Helper()
	a, _, plain, priv = startPrivDaemon(t, nil, files...)
	return a, plain, priv
}

// startPrivDaemon is startPrivContainers that also returns the daemon and
// loads the rule files in extra after Falco's.
func startPrivDaemon(t *testing.T, extra []string, files ...string) (a *agenttest.Agent, d *containerdtest.Daemon, plain, priv *containerdtest.Container) {
	t.Helper()
	for _, c := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc", "busybox"} {
		testutil.RequireCommand(t, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	d, err = containerdtest.Start(ctx, containerdtest.Options{})
	if err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping containerd: %v", err)
		}
	})
	args := []string{"--rule-matching", "all", "--rules", markerRulesFile(t), "--containerd-socket", d.Socket}
	for _, f := range files {
		args = append(args, "--rules", testutil.FalcoRulesPath(t, f))
	}
	for _, f := range extra {
		args = append(args, "--rules", f)
	}
	a = startAgent(t, args...)
	plain = d.MustRun(t, containerdtest.ContainerSpec{Labels: map[string]string{enrich.LabelContainerName: containerName}})
	waitContainerNamed(t, a, plain, containerName)
	priv = d.MustRun(t, containerdtest.ContainerSpec{Privileged: true,
		Labels: map[string]string{enrich.LabelContainerName: privContainerName}})
	waitContainerNamed(t, a, priv, privContainerName)
	if d.Snapshotter() != "overlayfs" {
		t.Logf("containers use the %s snapshotter: the overlayfs layer facts are not exercised", d.Snapshotter())
	}
	return a, d, plain, priv
}

// privContainerName names the privileged container.
const privContainerName = "vigil-e2e-privileged"

// TestFalcoPrivStable runs the rules of Falco's stable file on ptrace,
// kernel modules, release_agent escapes and binaries dropped into a
// container.
func TestFalcoPrivStable(t *testing.T) {
	testutil.RequireRoot(t)
	a, plain, priv := startPrivContainers(t, falcorules.Stable)
	runRuleTests(t, a, []ruleTest{
		{rule: "PTRACE attached to process", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				tok := runPriv(t, false, "ptrace-attach")
				return []alert{privAlert(tok, fields{"evt.type": "ptrace", "proc.name": "vigil-priv"})}
			},
			benign: func(t *testing.T) []alert {
				// A request that reads, not one that attaches or writes.
				return []alert{privAlert(runPriv(t, false, "ptrace-peek"), fields{})}
			}},
		{rule: "PTRACE anti-debug attempt", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				tok := runPriv(t, false, "ptrace-traceme")
				return []alert{privAlert(tok, fields{"evt.type": "ptrace", "user.uid": 0})}
			},
			benign: func(t *testing.T) []alert {
				return []alert{privAlert(runPriv(t, false, "ptrace-peek"), fields{})}
			}},
		{rule: "Linux Kernel Module Injection Detected", priority: "Warning",
			// busybox's insmod tries finit_module, then init_module, with a
			// file that is no module. A kernel without module support
			// (CONFIG_MODULES=n, like this machine's) fails both with
			// ENOSYS: the attempt is what the rule reports.
			trigger: func(t *testing.T) []alert {
				mod := "/tmp/m-" + randToken() + ".ko"
				inContainerExec(t, priv, "sh", "-c", "echo garbage > "+mod)
				inContainerExec(t, priv, "insmod", mod)
				return []alert{{key: privKey, want: fields{"proc.cmdline": "insmod " + mod, "proc.name": "insmod"}}}
			},
			benign: func(t *testing.T) []alert {
				// Without CAP_SYS_MODULE.
				mod := "/tmp/m-" + randToken() + ".ko"
				inContainerExec(t, plain, "sh", "-c", "echo garbage > "+mod)
				inContainerExec(t, plain, "insmod", mod)
				return []alert{{key: privKey, want: fields{"proc.cmdline": "insmod " + mod}}}
			}},
		{rule: "Detect release_agent File Container Escapes", priority: "Critical",
			// A cgroup v1 hierarchy of its own, mounted in the privileged
			// container, and its release_agent written: the escape's
			// first step. Where v1 cannot be mounted the write goes to a
			// file of that name, which the rule reports the same way.
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				dir := "/tmp/cg-" + tok
				inContainerExec(t, priv, "sh", "-c", "mkdir -p "+dir+" && { mount -t cgroup -o none,name=vigil"+tok+" cgroup "+dir+
					" || echo v1 unavailable; } && echo /bin/true > "+dir+"/release_agent; umount "+dir)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": dir + "/release_agent", "proc.name": "sh",
					"thread.cap_effective": contains("CAP_SYS_ADMIN")}}}
			},
			benign: func(t *testing.T) []alert {
				// Without CAP_SYS_ADMIN.
				name := "/tmp/" + randToken() + "-release_agent"
				inContainerExec(t, plain, "sh", "-c", "echo /bin/true > "+name)
				return []alert{{key: []string{"fd.name"}, want: fields{"fd.name": name}}}
			}},
		{rule: "Drop and execute new binary in container", priority: "Critical",
			trigger: func(t *testing.T) []alert {
				requireOverlay(t, plain)
				tok := randToken()
				inContainerExec(t, plain, "sh", "-c", "cp /bin/busybox /tmp/drop-"+tok+" && exec /tmp/drop-"+tok+" true")
				return []alert{{key: []string{"proc.exepath"}, want: fields{"proc.exepath": "/tmp/drop-" + tok,
					"evt.arg.flags": contains("EXE_UPPER_LAYER"),
					// sh, the session leader, became the dropped binary.
					"proc.sname": "drop-" + tok}}}
			},
			benign: func(t *testing.T) []alert {
				// The image's own busybox, in the lower layer.
				tok := randToken()
				inContainerExec(t, plain, "busybox", "echo", tok)
				return []alert{{key: privKey, want: fields{"proc.cmdline": contains(tok)}}}
			}},
	})
}

// requireOverlay skips a test about overlayfs layers when the containers
// are not on containerd's overlayfs snapshotter (an overlay upper
// directory on overlayfs or tmpfs makes containerdtest fall back to
// copies).
func requireOverlay(t *testing.T, c *containerdtest.Container) {
	t.Helper()
	mounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mounts", c.PID))
	if err != nil {
		t.Fatal(err)
	}
	root, _, _ := strings.Cut(string(mounts), "\n")
	if !strings.HasPrefix(root, "overlay / overlay ") {
		t.Skipf("the container's root is not overlayfs (%q): the machine cannot run containerd's overlayfs snapshotter here", root)
	}
}

// runExplicitEnv runs a command with exactly env and returns once it ends;
// a non-zero exit is fine.
func runExplicitEnv(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	if err := cmd.Run(); err != nil && ctx.Err() != nil {
		t.Fatalf("running %s: %v", name, err)
	}
}

// cleanEnv is the test's environment without proxy settings, which the
// proxy rule looks for.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.Contains(strings.ToUpper(kv), "_PROXY=") && !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			env = append(env, kv)
		}
	}
	return env
}

// TestFalcoPrivIncubatingSandbox runs the rules of Falco's incubating and
// sandbox files on namespaces, setuid, bpf, userfaultfd, capabilities,
// environments and interactive reconnaissance, with the three files
// loaded in order as Falco loads them.
func TestFalcoPrivIncubatingSandbox(t *testing.T) {
	testutil.RequireRoot(t)
	a, plain, priv := startPrivContainers(t, falcorules.Stable, falcorules.Incubating, falcorules.Sandbox)
	runRuleTests(t, a, []ruleTest{
		{rule: "Change thread namespace", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				tok := runPriv(t, false, "setns")
				return []alert{privAlert(tok, fields{"evt.type": "setns"})}
			},
			benign: func(t *testing.T) []alert {
				// nsenter on the host is one of the rule's exceptions.
				tok := randToken()
				runEnv(t, nil, testutil.RequireCommand(t, "nsenter"), "--net=/proc/self/ns/net", "true", tok)
				return []alert{privAlert(tok, fields{})}
			}},
		{rule: "Change namespace privileges via unshare", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				// Without CAP_SYS_ADMIN, in the unprivileged container.
				tok := randToken()
				inContainerExec(t, plain, "unshare", "-U", "echo", tok)
				return []alert{{key: privKey, want: fields{"proc.cmdline": contains(tok), "evt.type": "unshare", "proc.name": "unshare"}}}
			},
			benign: func(t *testing.T) []alert {
				tok := randToken()
				inContainerExec(t, priv, "unshare", "-U", "echo", tok)
				return []alert{{key: privKey, want: fields{"proc.cmdline": contains(tok)}}}
			}},
		{rule: "Non sudo setuid", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				// nobody asks to become root, and is refused.
				tok := runPriv(t, true, "setuid")
				return []alert{privAlert(tok, fields{"evt.arg.uid": "root", "user.name": "nobody", "user.uid": 65534})}
			},
			benign: func(t *testing.T) []alert {
				return []alert{privAlert(runPriv(t, false, "setuid"), fields{})}
			}},
		{rule: "BPF Program Not Profiled", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				tok := runPriv(t, false, "bpf-prog-load")
				return []alert{privAlert(tok, fields{"evt.arg.cmd": "BPF_PROG_LOAD"})}
			},
			benign: func(t *testing.T) []alert {
				return []alert{privAlert(runPriv(t, false, "bpf-map-create"), fields{})}
			}},
		{rule: "Unprivileged Delegation of Page Faults Handling to a Userspace Process", priority: "Critical",
			trigger: func(t *testing.T) []alert {
				tok := runPriv(t, true, "userfaultfd")
				return []alert{privAlert(tok, fields{"evt.type": "userfaultfd", "user.uid": 65534})}
			},
			benign: func(t *testing.T) []alert {
				return []alert{privAlert(runPriv(t, false, "userfaultfd"), fields{})}
			}},
		{rule: "Program run with disallowed http proxy env", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				runExplicitEnv(t, append(cleanEnv(), "HTTP_PROXY=http://127.0.0.1:9"), testutil.RequireCommand(t, "curl"),
					"-s", "--max-time", "2", "file:///nonexistent-"+tok)
				return []alert{privAlert(tok, fields{"proc.name": "curl", "proc.env": contains("HTTP_PROXY=http://127.0.0.1:9")})}
			},
			benign: func(t *testing.T) []alert {
				tok := randToken()
				runExplicitEnv(t, cleanEnv(), testutil.RequireCommand(t, "curl"), "-s", "--max-time", "2", "file:///nonexistent-"+tok)
				return []alert{privAlert(tok, fields{})}
			}},
		{rule: "Potential Local Privilege Escalation via Environment Variables Misuse", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				runExplicitEnv(t, append(cleanEnv(), "GLIBC_TUNABLES=glibc.malloc.check=0"), "/bin/true", tok)
				return []alert{privAlert(tok, fields{"proc.env": contains("GLIBC_TUNABLES=glibc.malloc.check=0")})}
			},
			benign: func(t *testing.T) []alert {
				tok := randToken()
				runExplicitEnv(t, cleanEnv(), "/bin/true", tok)
				return []alert{privAlert(tok, fields{})}
			}},
		{rule: "Basic Interactive Reconnaissance", priority: "Notice",
			// script gives the shell a terminal and a session of its
			// own; the shell runs id in its place, as the group leader.
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				runEnv(t, nil, testutil.RequireCommand(t, "script"), "-q", "-c", "exec id -u "+tok, "/dev/null")
				return []alert{privAlert(tok, fields{"proc.name": "id"})}
			},
			benign: func(t *testing.T) []alert {
				// Without a terminal.
				tok := randToken()
				runEnv(t, nil, "id", "-u", tok)
				return []alert{privAlert(tok, fields{})}
			}},
	})
}

// enableRunAsRoot turns on Falco's "Container Run as Root User", which
// the sandbox file ships disabled, as a user's rules file would.
const enableRunAsRoot = `
- rule: Container Run as Root User
  enabled: true
  override:
    enabled: replace
`

// TestFalcoContainerStart runs the sandbox and incubating rules on a
// container's first process (proc.vpid = 1): what it runs as, its
// capabilities, whether it is privileged.
func TestFalcoContainerStart(t *testing.T) {
	testutil.RequireRoot(t)
	enable := t.TempDir() + "/enable.yaml"
	if err := os.WriteFile(enable, []byte(enableRunAsRoot), 0o644); err != nil {
		t.Fatal(err)
	}
	a, d, _, _ := startPrivDaemon(t, []string{enable}, falcorules.Stable, falcorules.Incubating, falcorules.Sandbox)
	start := func(t *testing.T, privileged bool, mounts ...string) string {
		tok := randToken()
		d.MustRun(t, containerdtest.ContainerSpec{Privileged: privileged, Mounts: mounts, Args: []string{"sh", "-c", "sleep 3600 # " + tok}})
		return tok
	}
	init := func(tok string, f fields) alert {
		f["proc.cmdline"] = "sh -c sleep 3600 # " + tok
		return alert{key: privKey, want: f}
	}
	runRuleTests(t, a, []ruleTest{
		{rule: "Launch Privileged Container", priority: "Informational",
			trigger: func(t *testing.T) []alert { return []alert{init(start(t, true), fields{})} },
			benign:  func(t *testing.T) []alert { return []alert{init(start(t, false), fields{})} }},
		{rule: "Launch Excessively Capable Container", priority: "Informational",
			trigger: func(t *testing.T) []alert {
				return []alert{init(start(t, true), fields{"thread.cap_permitted": contains("CAP_SYS_ADMIN")})}
			},
			benign: func(t *testing.T) []alert { return []alert{init(start(t, false), fields{})} }},
		{rule: "Container Run as Root User", priority: "Informational",
			trigger: func(t *testing.T) []alert { return []alert{init(start(t, false), fields{"user.uid": 0})} },
			benign: func(t *testing.T) []alert {
				// A process that is not the container's first.
				tok := randToken()
				runEnv(t, nil, "sh", "-c", "true "+tok)
				return []alert{{key: privKey, want: fields{"proc.cmdline": contains(tok)}}}
			}},
		{rule: "Launch Sensitive Mount Container", priority: "Informational",
			// The host's /proc, read-only, where a container could reach
			// every host process.
			trigger: func(t *testing.T) []alert {
				tok := start(t, false, "type=bind,src=/proc,dst=/host/proc,options=rbind:ro")
				return []alert{init(tok, fields{"container.mounts": contains("/proc:/host/proc::false:")})}
			},
			benign: func(t *testing.T) []alert {
				return []alert{init(start(t, false, "type=bind,src="+t.TempDir()+",dst=/data,options=rbind:rw"), fields{})}
			}},
		{rule: "Launch Disallowed Container", priority: "Warning",
			// Falco's allowed_containers is "container.id exists": every
			// container is allowed until a user narrows the macro, so the
			// rule loads and stays silent.
			trigger: func(t *testing.T) []alert { return nil },
			benign:  func(t *testing.T) []alert { return []alert{init(start(t, false), fields{})} }},
	})
}
