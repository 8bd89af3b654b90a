package main

// Privileged end-to-end tests of Falco's rules on sends and receives
// (the sendrecv kind): real UDP datagrams between perl processes in a
// network namespace of the test's own, which holds 192.0.2.1 (TEST-NET-1)
// on its loopback, against an agent running Falco's three files with the
// rules that ship disabled enabled.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

func TestFalcoSendRecvRules(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"ip", "perl"} {
		testutil.RequireCommand(t, c)
	}
	ns := netnsWithAddr(t)
	args := []string{"--no-containerd", "--rule-matching", "all"}
	for _, r := range []string{"Unexpected inbound connection source", "Interpreted procs inbound network activity", "Java Process Class File Download",
		"Interpreted procs outbound network activity", "Detect outbound connections to common miner pool ports"} {
		args = append(args, "--enable-rule", r)
	}
	for _, f := range falcorules.Files {
		args = append(args, "--rules", testutil.FalcoRulesPath(t, f))
	}
	// The hosts file resolves a miner pool of Falco's list to the
	// namespace's address.
	a := startAgentWithHosts(t, netnsAddr+" "+minerPool+"\n", append(args, "--rules", markerRulesFile(t))...)
	runRuleTests(t, a, sendRecvRuleTests(ns))
	runRuleTests(t, a, []ruleTest{javaDownloadTest(t, ns)})
}

// TestFalcoJavaDownloadWithEvents runs the Java rule with --events, which
// turns the kernel filters off: the kernel must still search received data
// for the rule's needle.
func TestFalcoJavaDownloadWithEvents(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"ip", "perl"} {
		testutil.RequireCommand(t, c)
	}
	ns := netnsWithAddr(t)
	args := []string{"--no-containerd", "--events", "--enable-rule", "Java Process Class File Download",
		"--rules", testutil.FalcoRulesPath(t, falcorules.Sandbox), "--rules", markerRulesFile(t)}
	a := startAgentWithHosts(t, "", args...)
	runRuleTests(t, a, []ruleTest{javaDownloadTest(t, ns)})
}

// javaDownloadTest is Falco's log4shell rule: a process named java
// receiving a class file (its magic, CAFEBABE, in the data). No JVM is
// needed: perl started through a symlink named java has proc.exe and
// proc.name java, and serves itself a download over TCP in the namespace.
func javaDownloadTest(t *testing.T, ns string) ruleTest {
	java := filepath.Join(t.TempDir(), "java")
	if err := os.Symlink(testutil.RequireCommand(t, "perl"), java); err != nil {
		t.Fatal(err)
	}
	download := func(t *testing.T, port int, body string) {
		t.Helper()
		prog := fmt.Sprintf(`$l = IO::Socket::INET->new(LocalAddr => "%[1]s", LocalPort => %[2]d, Listen => 1, ReuseAddr => 1) or die $!; `+
			`$c = IO::Socket::INET->new(PeerAddr => "%[1]s", PeerPort => %[2]d) or die $!; $s = $l->accept or die $!; `+
			`$s->send("HTTP/1.1 200 OK\r\nContent-Type: application/java-vm\r\n\r\n%[3]s") or die $!; `+
			`defined($c->recv($b, 4096)) or die $!`, netnsAddr, port, body)
		runOK(t, nil, "ip", "netns", "exec", ns, java, "-MIO::Socket::INET", "-e", prog)
	}
	key := []string{"fd.sport"}
	return ruleTest{rule: "Java Process Class File Download", priority: "Critical",
		trigger: func(t *testing.T) []alert {
			port := freePort()
			download(t, port, `\xca\xfe\xba\xbe\x00\x00\x00\x34`)
			return []alert{{key: key, want: fields{"fd.sport": port, "evt.type": "recvfrom", "proc.name": "java",
				"fd.sip": netnsAddr, "fd.l4proto": "tcp", "fd.name": contains("->" + netnsAddr + ":" + fmt.Sprint(port))}}}
		},
		benign: func(t *testing.T) []alert {
			// The same download of a text file.
			port := freePort()
			download(t, port, "hello")
			return []alert{{key: key, want: fields{"fd.sport": port}}}
		}}
}

// netnsWithAddr makes a network namespace, removed when the test ends,
// whose loopback is up and also holds netnsAddr.
func netnsWithAddr(t *testing.T) string {
	t.Helper()
	ns := "vigil-e2e-" + randToken()
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}, {"-n", ns, "addr", "add", netnsAddr + "/32", "dev", "lo"}} {
		if out, err := osexec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { osexec.Command("ip", "netns", "delete", ns).Run() })
		}
	}
	return ns
}

// perlInNetns runs a perl program in network namespace ns; it must
// succeed. The program's text is in proc.cmdline.
func perlInNetns(t *testing.T, ns, prog string) {
	t.Helper()
	runOK(t, nil, "ip", "netns", "exec", ns, "perl", "-MSocket", "-MIO::Socket::INET", "-e", prog)
}

// udpSend is a perl program that sends a datagram from a UDP socket,
// bound to local unless it is empty, to addr:port with sendto; token makes
// its command line unique. An unbound socket's local address is 0.0.0.0
// (the kernel's, as Falco reads it), which Falco's outbound macro
// excludes (fd.ip != "0.0.0.0").
func udpSend(local, addr string, port int, token string) string {
	bind := ""
	if local != "" {
		bind = fmt.Sprintf(`, LocalAddr => "%s"`, local)
	}
	return fmt.Sprintf(`$c = IO::Socket::INET->new(Proto => "udp"%s) or die $!; `+
		`$c->send("%s", 0, pack_sockaddr_in(%d, inet_aton("%s"))) or die $!`, bind, token, port, addr)
}

// udpServe is a perl program that binds a UDP socket on addr:port, sends
// it a datagram from another socket and receives it with recvfrom.
func udpServe(addr string, port int) string {
	return fmt.Sprintf(`$s = IO::Socket::INET->new(Proto => "udp", LocalAddr => "%s", LocalPort => %d) or die $!; `+
		`$c = IO::Socket::INET->new(Proto => "udp") or die $!; `+
		`$c->send("ping", 0, pack_sockaddr_in(%d, inet_aton("%s"))) or die $!; `+
		`defined($s->recv($b, 64)) or die $!; $b eq "ping" or die`, addr, port, port, addr)
}

func sendRecvRuleTests(ns string) []ruleTest {
	cmdline := []string{"proc.cmdline"}
	inbound := func(rule string) ruleTest {
		return ruleTest{rule: rule, priority: "Notice",
			// A datagram received from a new peer by an unconnected
			// UDP socket is inbound activity (Falco's inbound macro).
			trigger: func(t *testing.T) []alert {
				port := freePort()
				perlInNetns(t, ns, udpServe(netnsAddr, port))
				return []alert{{key: []string{"fd.lport", "evt.type"}, want: fields{"fd.lport": port, "evt.type": "recvfrom",
					"proc.name": "perl", "fd.l4proto": "udp", "fd.type": "ipv4",
					"fd.name": contains("->" + netnsAddr + ":" + fmt.Sprint(port))}}}
			},
			benign: func(t *testing.T) []alert {
				// The same exchange on the loopback network.
				port := freePort()
				perlInNetns(t, ns, udpServe("127.0.0.1", port))
				return []alert{{key: []string{"fd.lport"}, want: fields{"fd.lport": port}}}
			}}
	}
	return []ruleTest{
		{rule: "Detect outbound connections to common miner pool ports", priority: "Critical",
			// A datagram to the pool's HTTP port, by sendto from an
			// unbound socket.
			trigger: func(t *testing.T) []alert {
				token := randToken()
				perlInNetns(t, ns, udpSend("", netnsAddr, 80, token))
				return []alert{{key: cmdline, want: fields{"proc.cmdline": contains(token), "evt.type": "sendto",
					"fd.rip": netnsAddr, "fd.rport": 80, "fd.l4proto": "udp", "fd.name": contains("->" + netnsAddr + ":80")}}}
			},
			benign: func(t *testing.T) []alert {
				// The same address on a port no pool list names.
				token := randToken()
				perlInNetns(t, ns, udpSend("", netnsAddr, 8081, token))
				return []alert{{key: cmdline, want: fields{"proc.cmdline": contains(token)}}}
			}},
		{rule: "Interpreted procs outbound network activity", priority: "Notice",
			trigger: func(t *testing.T) []alert {
				token := randToken()
				perlInNetns(t, ns, udpSend(netnsAddr, netnsAddr, 8081, token))
				return []alert{{key: cmdline, want: fields{"proc.cmdline": contains(token), "evt.type": "sendto",
					"fd.name": contains("->" + netnsAddr + ":8081"), "fd.rport": 8081, "fd.l4proto": "udp", "proc.name": "perl"}}}
			},
			benign: func(t *testing.T) []alert {
				// A datagram to the loopback network is not outbound.
				token := randToken()
				perlInNetns(t, ns, udpSend("127.0.0.1", "127.0.0.1", 8081, token))
				return []alert{{key: cmdline, want: fields{"proc.cmdline": contains(token)}}}
			}},
		inbound("Interpreted procs inbound network activity"),
		inbound("Unexpected inbound connection source"),
	}
}

// TestValidateSendRecvRules checks that the rules of Falco's files with
// send and receive branches load whole: listed as loaded, and neither
// skipped nor partial.
func TestValidateSendRecvRules(t *testing.T) {
	args := []string{"validate", "--json"}
	for _, name := range falcorules.Files {
		args = append(args, testutil.FalcoRulesPath(t, name))
	}
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("validate exited %d: %s %s", code, out.String(), errb.String())
	}
	type named struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	}
	var res struct {
		Results []struct {
			RulesLoaded  []string `json:"rules_loaded"`
			RulesSkipped []named  `json:"rules_skipped"`
			RulesPartial []named  `json:"rules_partial"`
		} `json:"falco_load_results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	loaded, notWhole := map[string]bool{}, map[string]string{}
	for _, r := range res.Results {
		for _, n := range r.RulesLoaded {
			loaded[n] = true
		}
		for _, s := range append(r.RulesSkipped, r.RulesPartial...) {
			notWhole[s.Name] = s.Reason
		}
	}
	for _, name := range []string{
		"Disallowed SSH Connection Non Standard Port", "Contact EC2 Instance Metadata Service From Container",
		"Contact cloud metadata service from container", "Java Process Class File Download",
		"Unexpected inbound connection source", "Interpreted procs inbound network activity",
		"Interpreted procs outbound network activity", "Detect outbound connections to common miner pool ports",
	} {
		if !loaded[name] {
			t.Errorf("%q not loaded", name)
		}
		if reason, ok := notWhole[name]; ok {
			t.Errorf("%q skipped or partial: %s", name, reason)
		}
	}
}
