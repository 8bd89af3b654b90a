package rules

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// sendRecvRules are the rules of Falco's files with branches on sends and
// receives, all of which are disabled in the sandbox file.
var sendRecvRules = []string{
	"Disallowed SSH Connection Non Standard Port", "Contact EC2 Instance Metadata Service From Container",
	"Contact cloud metadata service from container", "Unexpected inbound connection source",
	"Interpreted procs inbound network activity", "Interpreted procs outbound network activity",
	"Detect outbound connections to common miner pool ports", "Java Process Class File Download",
}

// falcoSources is Falco's three files.
func falcoSources(t testing.TB) []Source {
	var srcs []Source
	for _, f := range falcorules.Files {
		srcs = append(srcs, Source{Name: f, Data: testutil.FalcoRules(t, f)})
	}
	return srcs
}

// sendRecvEvent is a send or receive of p on a socket between local and
// remote.
func sendRecvEvent(p *event.Process, c *event.Container, typ event.Type, family uint16, proto uint8, local, remote string,
	connected, changed bool, res int64) *event.Event {
	e := &event.Event{Type: typ, Num: 5, PID: p.PID, TID: p.PID, Proc: p, Container: c, Res: res}
	s := &e.SendRecv
	s.FD = 4
	s.Sock = event.Sock{Family: family, Proto: proto, SockType: unix.SOCK_DGRAM}
	if proto == event.ProtoTCP {
		s.Sock.SockType = unix.SOCK_STREAM
	}
	if family == event.AFInet || family == event.AFInet6 {
		s.Sock.Local, s.Sock.Remote = netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)
	}
	s.Connected, s.NameChanged, s.PeerFromCall = connected, changed, !connected
	return e
}

// withNeedles sets the needles the kernel found in e's data.
func withNeedles(e *event.Event, needles string) *event.Event {
	e.SendRecv.NeedlesLen = uint8(copy(e.SendRecv.Needles[:], needles))
	return e
}

// TestSendRecvFilter checks, with Falco's files, which sends and receives
// the derived filter keeps: what the outbound and inbound macros ask
// (unconnected non-TCP IP sockets naming a new peer, successful); not TCP
// sends, connected UDP, unix sockets or failed sends. The stable file's
// one rule on sends (Disallowed SSH Connection Non Standard Port) also
// asks fd.l4proto=tcp, which its send branch excludes: no send can match
// it, and the filter keeps none.
func TestSendRecvFilter(t *testing.T) {
	stable := mustLoadSources(t, falcoRules(t))
	all, _, err := Load(falcoSources(t), Options{Enable: sendRecvRules})
	if err != nil {
		t.Fatal(err)
	}
	ssh := proc("ssh", "/usr/bin/ssh", "-p 443 attacker.example", procTree())
	for _, tc := range []struct {
		name string
		rs   *Ruleset
		e    *event.Event
		want bool
	}{
		{"stable: UDP sendto to a new peer", stable,
			sendRecvEvent(ssh, nil, event.TypeSendto, event.AFInet, event.ProtoUDP, "10.0.0.1:5000", "93.184.216.34:443", false, true, 10), false},
		{"all: UDP sendto to a new peer", all,
			sendRecvEvent(ssh, ctr("0123456789ab"), event.TypeSendto, event.AFInet, event.ProtoUDP, "10.0.0.1:5000", "169.254.169.254:80", false, true, 10), true},
		{"stable: UDP sendto to the same peer", stable,
			sendRecvEvent(ssh, nil, event.TypeSendto, event.AFInet, event.ProtoUDP, "10.0.0.1:5000", "93.184.216.34:443", false, false, 10), false},
		{"stable: connected UDP send", stable,
			sendRecvEvent(ssh, nil, event.TypeSendto, event.AFInet, event.ProtoUDP, "10.0.0.1:5000", "93.184.216.34:443", true, false, 10), false},
		{"stable: TCP send", stable,
			sendRecvEvent(ssh, nil, event.TypeSendmsg, event.AFInet6, event.ProtoTCP, "[2001:db8::1]:5000", "[2001:db8::2]:443", true, false, 10), false},
		{"stable: failed UDP sendto", stable,
			sendRecvEvent(ssh, nil, event.TypeSendto, event.AFInet, event.ProtoUDP, "10.0.0.1:5000", "93.184.216.34:443", false, true, -1), false},
		{"stable: UDP recvfrom", stable,
			sendRecvEvent(ssh, nil, event.TypeRecvfrom, event.AFInet, event.ProtoUDP, "10.0.0.1:5000", "93.184.216.34:443", false, true, 10), false},
		{"stable: unix sendmsg", stable,
			sendRecvEvent(ssh, nil, event.TypeSendmsg, event.AFUnix, 0, "", "", false, false, 10), false},
		{"all: UDP recvfrom from a new peer", all,
			sendRecvEvent(ssh, nil, event.TypeRecvfrom, event.AFInet, event.ProtoUDP, "10.0.0.1:53", "93.184.216.34:5000", false, true, 10), true},
		{"all: TCP recvfrom holding a class file (Java)", all,
			withNeedles(sendRecvEvent(ssh, nil, event.TypeRecvfrom, event.AFInet, event.ProtoTCP, "10.0.0.1:40000", "93.184.216.34:80", true, false, 10), "\xca\xfe\xba\xbe"), true},
		// Found no needle: the kernel searched and drops it (sensor's
		// TestSendRecvNeedles); the reference, which cannot tell that
		// from a search not made, admits.
		{"all: TCP recvfrom of other data", all,
			sendRecvEvent(ssh, nil, event.TypeRecvfrom, event.AFInet, event.ProtoTCP, "10.0.0.1:40000", "93.184.216.34:80", true, false, 10), true},
		{"all: TCP recvfrom of another needle", all,
			withNeedles(sendRecvEvent(ssh, nil, event.TypeRecvfrom, event.AFInet, event.ProtoTCP, "10.0.0.1:40000", "93.184.216.34:80", true, false, 10), "xyz"), false},
		// The miner-pool rule keeps IP sends to its pools' ports only.
		{"all: connected TCP sendmsg to port 443", all,
			sendRecvEvent(ssh, nil, event.TypeSendmsg, event.AFInet, event.ProtoTCP, "10.0.0.1:40000", "93.184.216.34:443", true, false, 10), true},
		{"all: connected TCP sendmsg to port 8081", all,
			sendRecvEvent(ssh, nil, event.TypeSendmsg, event.AFInet, event.ProtoTCP, "10.0.0.1:40000", "93.184.216.34:8081", true, false, 10), false},
		{"all: TCP recvmsg", all,
			sendRecvEvent(ssh, nil, event.TypeRecvmsg, event.AFInet, event.ProtoTCP, "10.0.0.1:40000", "93.184.216.34:80", true, false, 10), false},
		{"all: unix recvfrom", all,
			sendRecvEvent(ssh, nil, event.TypeRecvfrom, event.AFUnix, 0, "", "", false, false, 10), false},
	} {
		f := tc.rs.Filters()[event.KindSendRecv]
		if f == nil || f.All {
			t.Fatalf("%s: no bounded sendrecv filter: %+v", tc.name, f)
		}
		if got := f.Admits(tc.e); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
	}
	// The Java rule fires on the needle the kernel found, for java only.
	java := proc("java", "/usr/lib/jvm/bin/java", "-jar app.jar", procTree())
	dl := withNeedles(sendRecvEvent(java, nil, event.TypeRecvfrom, event.AFInet, event.ProtoTCP, "10.0.0.1:40000", "93.184.216.34:80", true, false, 10), "\xca\xfe\xba\xbe")
	if got := matches(all, dl); !slices.Equal(got, []string{"Java Process Class File Download"}) {
		t.Errorf("java receiving a class file matched %q", got)
	}
	dl.SendRecv.NeedlesLen = 0
	if got := matches(all, dl); len(got) != 0 {
		t.Errorf("java receiving other data matched %q", got)
	}
	// The metadata rules' send branch fires, from a container only.
	meta := sendRecvEvent(ssh, ctr("0123456789ab"), event.TypeSendto, event.AFInet, event.ProtoUDP, "10.0.0.1:5000", "169.254.169.254:80", false, true, 10)
	if got := matches(all, meta); !slices.Equal(got, []string{"Contact EC2 Instance Metadata Service From Container", "Contact cloud metadata service from container"}) {
		t.Errorf("sendto to the metadata service matched %q", got)
	}
	meta.Container = nil
	if got := matches(all, meta); len(got) != 0 {
		t.Errorf("sendto to the metadata service from the host matched %q", got)
	}
}

// TestSendRecvFilterSound checks that a send or receive any rule of
// Falco's files (the disabled ones enabled) matches is always admitted,
// over random sockets, peers, processes and results, and that the filter
// still drops some.
func TestSendRecvFilterSound(t *testing.T) {
	rs, _, err := Load(falcoSources(t), Options{MatchAll: true, Enable: sendRecvRules})
	if err != nil {
		t.Fatal(err)
	}
	f := rs.Filters()[event.KindSendRecv]
	if f == nil || f.All {
		t.Fatalf("no bounded sendrecv filter: %+v", f)
	}
	if !slices.Contains(f.Ports, 3333) || !slices.Contains(f.Ports, 80) || slices.Contains(f.Ports, 8081) {
		t.Errorf("server ports %v, want the miner pools' (80, 3333, ...) and no others", f.Ports)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	types := []event.Type{event.TypeSendto, event.TypeSendmsg, event.TypeRecvfrom, event.TypeRecvmsg}
	families := []uint16{event.AFInet, event.AFInet, event.AFInet6, event.AFUnix, 0}
	protos := []uint8{event.ProtoTCP, event.ProtoUDP, 1}
	v4 := []string{"127.0.0.1", "0.0.0.0", "10.0.0.5", "192.168.1.9", "169.254.169.254", "93.184.216.34", "198.51.100.7"}
	v6 := []string{"::1", "::", "2001:db8::2", "fe80::1"}
	ports := []uint16{22, 25, 53, 80, 443, 3333, 4444, 8080, 8081, 14444, 40000, 50000}
	names := []string{"ssh", "java", "python", "node", "ruby", "curl", "bash", "java"}
	results := []int64{64, 0, -int64(unix.EPIPE), -int64(unix.EINPROGRESS)}
	matched, dropped := 0, 0
	byRule := map[string]int{}
	for range 100000 {
		fam := families[rng.IntN(len(families))]
		addr := func() string {
			port := ports[rng.IntN(len(ports))]
			if fam == event.AFInet6 {
				return netip.AddrPortFrom(netip.MustParseAddr(v6[rng.IntN(len(v6))]), port).String()
			}
			return netip.AddrPortFrom(netip.MustParseAddr(v4[rng.IntN(len(v4))]), port).String()
		}
		n := names[rng.IntN(len(names))]
		p := proc(n, "/usr/bin/"+n, "-x", procTree())
		var c *event.Container
		if rng.IntN(2) == 0 {
			c = ctr("0123456789ab")
		}
		e := sendRecvEvent(p, c, types[rng.IntN(len(types))], fam, protos[rng.IntN(len(protos))], addr(), addr(),
			rng.IntN(2) == 0, rng.IntN(2) == 0, results[rng.IntN(len(results))])
		e.SendRecv.Accepted = e.SendRecv.Connected && rng.IntN(2) == 0
		if rng.IntN(2) == 0 {
			withNeedles(e, "\xca\xfe\xba\xbe")
		}
		admitted := f.Admits(e)
		if !admitted {
			dropped++
		}
		if m := matches(rs, e); len(m) > 0 {
			matched++
			for _, r := range m {
				byRule[r]++
			}
			if !admitted {
				t.Fatalf("filter drops %s %+v res %d of %s that matches %q", e.Type, e.SendRecv, e.Res, n, m)
			}
		}
	}
	t.Logf("%d events matched a rule, %d dropped by the filter, all matches admitted; matches by rule: %v", matched, dropped, byRule)
	if matched == 0 || dropped == 0 {
		t.Errorf("the sample is too weak: %d matched, %d dropped", matched, dropped)
	}
}
