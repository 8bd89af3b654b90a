package main

// Privileged end-to-end tests of Falco's upstream rules that need the
// file-system, socket and dup kinds: each rule is triggered by the real
// activity on this kernel, on the host or in a container, and must be
// reported by an agent running Falco's stable file unchanged; one benign
// activity per rule must not be. Network peers live in the container's
// own network namespace, on its loopback.

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/enrich"
	"github.com/vigil-sensor/vigil/internal/agenttest"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

func TestFalcoStableFilesSocketsDup(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc", "busybox", "ln", "sh"} {
		testutil.RequireCommand(t, c)
	}
	d := startContainerd(t)
	a := startAgentWithHosts(t, k8sAPIAddr+" "+k8sAPIName+"\n", "--rules", testutil.FalcoRulesPath(t, falcorules.Stable),
		"--rules", markerRulesFile(t), "--containerd-socket", d.Socket)
	c := d.MustRun(t, containerdtest.ContainerSpec{Labels: map[string]string{enrich.LabelContainerName: containerName}})
	waitContainerKnown(t, a, c)
	runRuleTests(t, a, linkRuleTests(tempDir(t, "/tmp")))
	runRuleTests(t, a, socketRuleTests(c))
}

// The API server's name in Falco's k8s_api_server macro, and the address
// the test resolves it to: held on the container's own loopback.
const (
	k8sAPIName = "kubernetes.default.svc.cluster.local"
	k8sAPIAddr = "10.96.0.1"
)

// containerExec returns a function that runs argv in c within 20s and
// fails the test if it cannot, or, with mustSucceed, if it exits non-zero
// (otherwise the tests look at what the process did, not how it ended).
func containerExec(c *containerdtest.Container, mustSucceed bool) func(t *testing.T, argv ...string) {
	return func(t *testing.T, argv ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if out, err := c.Exec(ctx, argv...); err != nil && (mustSucceed || !strings.Contains(err.Error(), "exit status")) {
			t.Fatalf("exec %q in the container: %v: %s", argv, err, out)
		}
	}
}

// startContainerd starts a containerd of the test's own, stopped when the
// test ends.
func startContainerd(t *testing.T) *containerdtest.Daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := containerdtest.Start(ctx, containerdtest.Options{})
	if err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping containerd: %v", err)
		}
	})
	return d
}

// startAgentWithHosts runs the agent in a mount namespace of its own whose
// /etc/hosts holds hosts and whose resolver asks only the loopback: the
// names rules compare fd.sip.name with resolve as the test says (Falco's
// sandbox file names miner pools, which the test must not look up on the
// network), and the machine's files are left alone.
func startAgentWithHosts(t *testing.T, hosts string, args ...string) *agenttest.Agent {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "unshare")
	dir := t.TempDir()
	hostsFile, resolvFile := filepath.Join(dir, "hosts"), filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(hostsFile, []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(resolvFile, []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "vigil-with-hosts")
	script := "#!/bin/sh\nexec unshare -m --propagation private sh -c " +
		"'mount --bind \"$0\" /etc/hosts && mount --bind \"$1\" /etc/resolv.conf && shift && exec \"$@\"' " +
		hostsFile + " " + resolvFile + " " + vigilBin + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Names resolve, but only through the files above.
	return agenttest.Start(t, agenttest.Config{Bin: wrapper, Args: append([]string{"--no-resolve-names=false"}, args...), Stdout: agenttest.ReadStdout})
}

// linkRuleTests are Falco's rules on links to sensitive files, run in dir.
// coreutils' ln makes the *at syscalls, busybox's the plain ones; a
// relative path is named as the caller reached it, made absolute against
// its cwd.
func linkRuleTests(dir string) []ruleTest {
	busybox := func(t *testing.T) string { return testutil.RequireCommand(t, "busybox") }
	return []ruleTest{
		{rule: "Create Symlink Over Sensitive Files", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				at := removeAfter(t, filepath.Join(dir, "shadow-at-"+randToken()))
				plain := removeAfter(t, filepath.Join(dir, "shadow-"+randToken()))
				runOK(t, nil, "ln", "-s", "/etc/shadow", at)
				runOK(t, nil, busybox(t), "sh", "-c", "cd "+dir+" && mkdir -p sub && exec busybox ln -s /root sub/../"+filepath.Base(plain))
				key := []string{"evt.arg.linkpath"}
				return []alert{
					{key: key, want: fields{"evt.arg.target": "/etc/shadow", "evt.arg.linkpath": at, "evt.type": "symlinkat", "proc.name": "ln"}},
					{key: key, want: fields{"evt.arg.target": "/root", "evt.arg.linkpath": plain, "evt.type": "symlink"}},
				}
			},
			benign: func(t *testing.T) []alert {
				link := removeAfter(t, filepath.Join(dir, "hostname-"+randToken()))
				runOK(t, nil, "ln", "-s", "/etc/hostname", link)
				return []alert{{key: []string{"evt.arg.linkpath"}, want: fields{"evt.arg.linkpath": link}}}
			}},
		{rule: "Create Hardlink Over Sensitive Files", priority: "Warning",
			// /etc and the test's directory may be different file systems:
			// a link that fails (EXDEV) is the attempt the rule reports.
			trigger: func(t *testing.T) []alert {
				at := removeAfter(t, filepath.Join(dir, "hl-at-"+randToken()))
				plain := removeAfter(t, filepath.Join(dir, "hl-"+randToken()))
				runEnv(t, nil, "sh", "-c", "cd /etc && exec ln shadow "+at)
				runEnv(t, nil, busybox(t), "ln", "/etc/shadow", plain)
				key := []string{"evt.arg.newpath"}
				return []alert{
					{key: key, want: fields{"evt.arg.oldpath": "/etc/shadow", "evt.arg.newpath": at, "evt.type": "linkat", "proc.name": "ln"}},
					{key: key, want: fields{"evt.arg.oldpath": "/etc/shadow", "evt.arg.newpath": plain, "evt.type": "link"}},
				}
			},
			benign: func(t *testing.T) []alert {
				own := filepath.Join(dir, "own-"+randToken())
				if err := os.WriteFile(own, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				link := removeAfter(t, own+"-link")
				runOK(t, nil, "ln", own, link)
				return []alert{{key: []string{"evt.arg.newpath"}, want: fields{"evt.arg.newpath": link}}}
			}},
	}
}

// socketRuleTests are Falco's rules on sockets and descriptors, run in c.
func socketRuleTests(c *containerdtest.Container) []ruleTest {
	exec := containerExec(c, false)
	// Falco's outputs for these rules name no container field: the
	// command line, unique per test, identifies the process.
	key := []string{"proc.cmdline"}
	netns := fmt.Sprintf("/proc/%d/ns/net", c.PID)
	return []ruleTest{
		{rule: "Contact K8S API Server From Container", priority: "Notice",
			// The agent resolves Falco's API server name to an address
			// the test adds to the container's loopback and listens on.
			trigger: func(t *testing.T) []alert {
				if out, err := osexec.Command("nsenter", "--net="+netns, "ip", "addr", "replace", k8sAPIAddr+"/32", "dev", "lo").CombinedOutput(); err != nil {
					t.Fatalf("adding %s in the container: %v: %s", k8sAPIAddr, err, out)
				}
				ln := listenInNetns(t, netns, k8sAPIAddr+":0")
				t.Cleanup(func() { ln.Close() })
				accepted := serve(ln, hangUp)
				port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
				exec(t, "nc", "-w", "2", k8sAPIAddr, port)
				waitConn(t, accepted, "API server")
				return []alert{{key: key, want: fields{"proc.cmdline": "nc -w 2 " + k8sAPIAddr + " " + port,
					"evt.type": "connect", "fd.name": contains("->" + k8sAPIAddr + ":" + port), "fd.rport": port}}}
			},
			benign: func(t *testing.T) []alert {
				// Another address in the container.
				ln := listenInNetns(t, netns, "127.0.0.1:0")
				t.Cleanup(func() { ln.Close() })
				accepted := serve(ln, hangUp)
				port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
				exec(t, "nc", "-w", "2", "127.0.0.1", port)
				waitConn(t, accepted, "local service")
				return []alert{{key: key, want: fields{"proc.cmdline": "nc -w 2 127.0.0.1 " + port}}}
			}},
		{rule: "Packet socket created in container", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				// arping opens an AF_PACKET socket first thing.
				exec(t, "arping", "-c", "1", "-w", "1", "-I", "lo", "127.0.0.1")
				return []alert{{key: key, want: fields{
					"proc.cmdline": "arping -c 1 -w 1 -I lo 127.0.0.1", "evt.type": "socket", "proc.exepath": "/bin/busybox",
				}}}
			},
			benign: func(t *testing.T) []alert {
				// An IP socket in the container.
				exec(t, "nc", "-w", "1", "127.0.0.1", "1")
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "nc -w 1 127.0.0.1 1"}}}
			}},
		{rule: "Redirect STDOUT/STDIN to Network Connection in Container", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				// nc -e moves the connected socket onto stdin, stdout and
				// stderr, then runs the shell: a reverse shell to a peer on
				// the container's loopback, which tells it to exit.
				ln := listenInNetns(t, netns, "127.0.0.1:0")
				t.Cleanup(func() { ln.Close() })
				accepted := serve(ln, exitShell)
				port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
				exec(t, "nc", "127.0.0.1", port, "-e", "/bin/sh")
				waitConn(t, accepted, "reverse shell")
				return []alert{{key: key, want: fields{
					"proc.cmdline": "nc 127.0.0.1 " + port + " -e /bin/sh", "evt.type": "dup2", "fd.type": "ipv4",
					"fd.sip": "127.0.0.1", "fd.rport": port, "fd.l4proto": "tcp",
					"fd.name": contains("->127.0.0.1:" + port),
				}}}
			},
			benign: func(t *testing.T) []alert {
				// A shell redirecting its stdout to a file.
				arg := "redirect-" + randToken()
				exec(t, "sh", "-c", "echo "+arg+" > /tmp/"+arg)
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "sh -c echo " + arg + " > /tmp/" + arg}}}
			}},
	}
}

// enableDriftRules turns on Falco's sandbox drift rules, which ship
// disabled, the way a user's override file does.
const enableDriftRules = `
- rule: Container Drift Detected (chmod)
  enabled: true
  override:
    enabled: replace
- rule: Container Drift Detected (open+create)
  enabled: true
  override:
    enabled: replace
`

// TestFalcoFileChangeRules runs Falco's three files (and the drift rule
// enabled) against renames, removals, mkdirs and chmods on the host and in
// a container. The binary directories changed are the container's own.
func TestFalcoFileChangeRules(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc", "busybox", "chmod", "rm", "sh"} {
		testutil.RequireCommand(t, c)
	}
	d := startContainerd(t)
	override := filepath.Join(t.TempDir(), "enable.yaml")
	if err := os.WriteFile(override, []byte(enableDriftRules), 0o644); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, f := range falcorules.Files {
		args = append(args, "--rules", testutil.FalcoRulesPath(t, f))
	}
	args = append(args, "--rules", override, "--rules", markerRulesFile(t), "--containerd-socket", d.Socket)
	a := startAgentWithHosts(t, "", args...)
	c := d.MustRun(t, containerdtest.ContainerSpec{Labels: map[string]string{enrich.LabelContainerName: containerName}})
	waitContainerKnown(t, a, c)
	runRuleTests(t, a, fileChangeRuleTests(tempDir(t, "/tmp"), c))
}

// fileChangeRuleTests are Falco's rules on renames, removals, mkdirs and
// chmods; dir is a host directory.
func fileChangeRuleTests(dir string, c *containerdtest.Container) []ruleTest {
	exec := containerExec(c, true)
	touch := func(t *testing.T, path string) string {
		t.Helper()
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return removeAfter(t, path)
	}
	key := []string{"proc.cmdline"}
	return []ruleTest{
		{rule: "Modify binary dirs", priority: "Error",
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				exec(t, "touch", "/bin/vigil-"+tok)
				exec(t, "mv", "/bin/vigil-"+tok, "/usr/bin/vigil-"+tok)
				exec(t, "rm", "/usr/bin/vigil-"+tok)
				return []alert{
					{key: key, want: fields{"proc.cmdline": "mv /bin/vigil-" + tok + " /usr/bin/vigil-" + tok, "evt.type": "rename"}},
					{key: key, want: fields{"proc.cmdline": "rm /usr/bin/vigil-" + tok, "evt.type": "unlink"}},
				}
			},
			benign: func(t *testing.T) []alert {
				tok := randToken()
				exec(t, "touch", "/tmp/vigil-"+tok)
				exec(t, "mv", "/tmp/vigil-"+tok, "/tmp/vigil-"+tok+"-2")
				exec(t, "rm", "/tmp/vigil-"+tok+"-2")
				return []alert{
					{key: key, want: fields{"proc.cmdline": "mv /tmp/vigil-" + tok + " /tmp/vigil-" + tok + "-2"}},
					{key: key, want: fields{"proc.cmdline": "rm /tmp/vigil-" + tok + "-2"}},
				}
			}},
		{rule: "Mkdir binary dirs", priority: "Error",
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				exec(t, "mkdir", "/usr/sbin/vigil-"+tok)
				exec(t, "rmdir", "/usr/sbin/vigil-"+tok)
				return []alert{{key: key, want: fields{"proc.cmdline": "mkdir /usr/sbin/vigil-" + tok,
					"evt.arg.path": "/usr/sbin/vigil-" + tok, "evt.type": "mkdir"}}}
			},
			benign: func(t *testing.T) []alert {
				tok := randToken()
				exec(t, "mkdir", "/tmp/vigil-"+tok)
				return []alert{{key: key, want: fields{"proc.cmdline": "mkdir /tmp/vigil-" + tok}}}
			}},
		{rule: "Set Setuid or Setgid bit", priority: "Notice",
			// coreutils' chmod makes fchmodat, busybox's chmod.
			trigger: func(t *testing.T) []alert {
				at := touch(t, filepath.Join(dir, "suid-"+randToken()))
				plain := touch(t, filepath.Join(dir, "sgid-"+randToken()))
				runOK(t, nil, "chmod", "4755", at)
				runOK(t, nil, "busybox", "chmod", "g+s", plain)
				return []alert{
					{key: key, want: fields{"proc.cmdline": "chmod 4755 " + at, "evt.type": "fchmodat",
						"evt.arg.filename": at, "evt.arg.mode": contains("S_ISUID")}},
					{key: key, want: fields{"proc.cmdline": "busybox chmod g+s " + plain, "evt.type": "chmod",
						"evt.arg.filename": plain, "evt.arg.mode": contains("S_ISGID")}},
				}
			},
			benign: func(t *testing.T) []alert {
				f := touch(t, filepath.Join(dir, "plain-"+randToken()))
				runOK(t, nil, "chmod", "755", f)
				return []alert{{key: key, want: fields{"proc.cmdline": "chmod 755 " + f}}}
			}},
		{rule: "Delete or rename shell history", priority: "Warning",
			trigger: func(t *testing.T) []alert {
				hist := touch(t, filepath.Join(tempDir(t, dir), ".bash_history"))
				runOK(t, nil, "sh", "-c", "cd "+filepath.Dir(hist)+" && exec rm .bash_history")
				return []alert{{key: key, want: fields{"proc.cmdline": "rm .bash_history", "evt.type": "unlinkat", "evt.arg.name": hist}}}
			},
			benign: func(t *testing.T) []alert {
				f := touch(t, filepath.Join(dir, "notes-"+randToken()))
				runOK(t, nil, "rm", f)
				return []alert{{key: key, want: fields{"proc.cmdline": "rm " + f}}}
			}},
		{rule: "Container Drift Detected (open+create)", priority: "Error",
			// busybox's cp creates the copy with the source's mode.
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				exec(t, "cp", "/bin/busybox", "/tmp/drift-bin-"+tok)
				return []alert{{key: key, want: fields{"proc.cmdline": "cp /bin/busybox /tmp/drift-bin-" + tok,
					"evt.arg.mode": "0755", "evt.type": "openat"}}}
			},
			benign: func(t *testing.T) []alert {
				tok := randToken()
				exec(t, "cp", "/etc/passwd", "/tmp/data-"+tok)
				return []alert{{key: key, want: fields{"proc.cmdline": "cp /etc/passwd /tmp/data-" + tok}}}
			}},
		{rule: "Container Drift Detected (chmod)", priority: "Error",
			trigger: func(t *testing.T) []alert {
				tok := randToken()
				exec(t, "touch", "/tmp/drift-"+tok)
				exec(t, "chmod", "+x", "/tmp/drift-"+tok)
				return []alert{{key: key, want: fields{"proc.cmdline": "chmod +x /tmp/drift-" + tok,
					"evt.arg.filename": "/tmp/drift-" + tok, "evt.arg.mode": contains("S_IXUSR")}}}
			},
			benign: func(t *testing.T) []alert {
				// The same on the host, and a chmod without x in the container.
				f := touch(t, filepath.Join(dir, "x-"+randToken()))
				runOK(t, nil, "chmod", "+x", f)
				tok := randToken()
				exec(t, "touch", "/tmp/nox-"+tok)
				exec(t, "chmod", "644", "/tmp/nox-"+tok)
				return []alert{
					{key: key, want: fields{"proc.cmdline": "chmod +x " + f}},
					{key: key, want: fields{"proc.cmdline": "chmod 644 /tmp/nox-" + tok}},
				}
			}},
	}
}

// TestFalcoNetworkRules runs Falco's three files with the inbound and
// miner pool rules, which ship disabled, enabled and every matching rule
// reported: servers in a network namespace of the test's own, holding
// 192.0.2.1 (TEST-NET-1) on its loopback, accept a client from the same
// namespace.
func TestFalcoNetworkRules(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"ip", "perl", "busybox"} {
		testutil.RequireCommand(t, c)
	}
	// The servers listen on one address each: Falco's inbound macro also
	// matches a listen on [::] (neither end is 0.0.0.0).
	ns := "vigil-e2e-" + randToken()
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}, {"-n", ns, "addr", "add", netnsAddr + "/32", "dev", "lo"}} {
		if out, err := osexec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { osexec.Command("ip", "netns", "delete", ns).Run() })
		}
	}
	args := []string{"--no-containerd", "--rule-matching", "all",
		"--enable-rule", "Unexpected inbound connection source", "--enable-rule", "Interpreted procs inbound network activity",
		"--enable-rule", "Detect outbound connections to common miner pool ports"}
	for _, f := range falcorules.Files {
		args = append(args, "--rules", testutil.FalcoRulesPath(t, f))
	}
	// The test's hosts file resolves a miner pool of Falco's list to the
	// namespace's address.
	a := startAgentWithHosts(t, netnsAddr+" "+minerPool+"\n", append(args, "--rules", markerRulesFile(t))...)
	runRuleTests(t, a, inboundRuleTests(ns))
}

// serveOnce runs argv in network namespace ns, a server that accepts one
// connection on addr:port, connects a client to it from the namespace and
// waits for the server to end.
func serveOnce(t *testing.T, ns, addr string, port int, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := osexec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	var out strings.Builder
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// The client retries until the server listens.
	dial := fmt.Sprintf("for i in $(seq 100); do echo x | busybox nc -w 1 %s %d && exit 0; sleep 0.05; done; exit 1", addr, port)
	if o, err := osexec.CommandContext(ctx, "ip", "netns", "exec", ns, "sh", "-c", dial).CombinedOutput(); err != nil {
		t.Fatalf("connecting to %s:%d: %v: %s", addr, port, err, o)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("server %q: %v: %s", argv, err, out.String())
	}
}

// freePort is a port number for a server of the test (the namespace is
// the test's own, so any will do that no other server of it uses).
func freePort() int {
	var b [2]byte
	rand.Read(b[:])
	return 20000 + int(b[0])<<6 | int(b[1])&63
}

// perlServer is a perl one-liner that accepts one connection on addr:port.
func perlServer(addr string, port int) []string {
	return []string{"perl", "-MIO::Socket::INET", "-e",
		fmt.Sprintf(`$s = IO::Socket::INET->new(LocalAddr => "%s", LocalPort => %d, Listen => 1, ReuseAddr => 1) or die $!; $c = $s->accept; <$c>`, addr, port)}
}

// minerPool is a name of Falco's http_miner_domains.
const minerPool = "ca.minexmr.com"

func inboundRuleTests(ns string) []ruleTest {
	key := []string{"fd.lport"}
	return []ruleTest{
		{rule: "Detect outbound connections to common miner pool ports", priority: "Critical",
			// A client connects to the pool's HTTP port; the server is
			// the test's, in the namespace.
			trigger: func(t *testing.T) []alert {
				serveOnce(t, ns, netnsAddr, 80, perlServer(netnsAddr, 80)...)
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "busybox nc -w 1 " + netnsAddr + " 80",
					"evt.type": "connect", "fd.rip": netnsAddr, "fd.rport": 80}}}
			},
			benign: func(t *testing.T) []alert {
				// The same address on a port no pool list names.
				serveOnce(t, ns, netnsAddr, 8081, perlServer(netnsAddr, 8081)...)
				return []alert{{key: []string{"proc.cmdline"}, want: fields{"proc.cmdline": "busybox nc -w 1 " + netnsAddr + " 8081"}}}
			}},
		{rule: "Interpreted procs inbound network activity", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				port := freePort()
				serveOnce(t, ns, netnsAddr, port, perlServer(netnsAddr, port)...)
				return []alert{{key: key, want: fields{"fd.lport": port, "proc.name": "perl", "fd.type": "ipv4", "fd.l4proto": "tcp",
					"fd.name": contains("->" + netnsAddr + ":" + fmt.Sprint(port)), "evt.type": "accept4"}}}
			},
			benign: func(t *testing.T) []alert {
				// The same server on the loopback network.
				port := freePort()
				serveOnce(t, ns, "127.0.0.1", port, perlServer("127.0.0.1", port)...)
				return []alert{{key: key, want: fields{"fd.lport": port}}}
			}},
		{rule: "Unexpected inbound connection source", priority: "Notice",
			// The same servers: every rule that matches reports.
			trigger: func(t *testing.T) []alert {
				port := freePort()
				serveOnce(t, ns, netnsAddr, port, perlServer(netnsAddr, port)...)
				return []alert{{key: key, want: fields{"fd.lport": port, "proc.name": "perl", "fd.type": "ipv4", "evt.type": "accept4"}}}
			},
			benign: func(t *testing.T) []alert {
				port := freePort()
				serveOnce(t, ns, "127.0.0.1", port, perlServer("127.0.0.1", port)...)
				return []alert{{key: key, want: fields{"fd.lport": port}}}
			}},
	}
}
