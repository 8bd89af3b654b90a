package main

import (
	"io"
	"testing"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/rules"
	"github.com/vigil-sensor/vigil/sensor"
)

// sendRecvRecord is a send or receive record of pid on an IPv4 socket.
func sendRecvRecord(tb testing.TB, pid uint32, sys bpf.VigilSyscallId, proto uint8, rflags uint16, local, remote [4]byte, lport, rport uint16) []byte {
	rec := bpf.VigilSendrecvRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_SENDRECV, pid), Ret: 64, Fd: 5, Syscall: uint16(sys), Rflags: rflags,
		Sock: bpf.VigilSockInfo{Family: event.AFInet, Type: 2, Proto: uint16(proto), Lport: lport, Rport: rport}}
	copy(rec.Sock.Laddr[:], local[:])
	copy(rec.Sock.Raddr[:], remote[:])
	return rawRecord(tb, rec)
}

// TestSendRecvNoMatchAllocs holds the hot path of sends and receives that
// match no rule to zero allocations, with Falco's three files and their
// send and receive rules enabled, so every such rule evaluates its fields
// (fd.name, fd.sip.name, the ends, evt.buffer).
func TestSendRecvNoMatchAllocs(t *testing.T) {
	var srcs []rules.Source
	for _, f := range falcorules.Files {
		srcs = append(srcs, rules.Source{Name: f, Data: testutil.FalcoRules(t, f)})
	}
	rs, _, err := rules.Load(srcs, rules.Options{Enable: []string{"Interpreted procs outbound network activity",
		"Interpreted procs inbound network activity", "Unexpected inbound connection source",
		"Detect outbound connections to common miner pool ports", "Java Process Class File Download"}})
	if err != nil {
		t.Fatal(err)
	}
	res := testing.Benchmark(func(b *testing.B) {
		table := sensor.NewProcessTable(sensor.TableConfig{ProcRoot: b.TempDir()})
		var dec sensor.Decoder
		var r sensor.Record
		for _, raw := range [][]byte{execRecord(b, 10, 1, "bash", "/usr/bin/bash", "/home/u", "bash"),
			execRecord(b, 100, 10, "python3", "/usr/bin/python3", "/srv/app", "python3", "app.py")} {
			if err := dec.Decode(raw, &r); err != nil {
				b.Fatal(err)
			}
			table.Apply(&r)
			table.Release(&r)
		}
		const changed = uint16(bpf.VigilSendrecvRecFlagsVIGIL_SR_PEER_ARG | bpf.VigilSendrecvRecFlagsVIGIL_SR_NAME_CHANGED)
		const connected = uint16(bpf.VigilSendrecvRecFlagsVIGIL_SR_CONNECTED)
		mix := [][]byte{
			// An interpreter's datagrams to and from private and
			// loopback peers, and its TCP traffic to a web server.
			sendRecvRecord(b, 100, bpf.VigilSyscallIdVIGIL_SYS_SENDTO, event.ProtoUDP, changed, [4]byte{10, 0, 0, 2}, [4]byte{10, 0, 0, 53}, 40000, 53),
			sendRecvRecord(b, 100, bpf.VigilSyscallIdVIGIL_SYS_RECVFROM, event.ProtoUDP, changed, [4]byte{127, 0, 0, 1}, [4]byte{127, 0, 0, 53}, 40000, 53),
			sendRecvRecord(b, 100, bpf.VigilSyscallIdVIGIL_SYS_SENDMSG, event.ProtoTCP, connected, [4]byte{10, 0, 0, 2}, [4]byte{93, 184, 216, 34}, 40000, 443),
			sendRecvRecord(b, 100, bpf.VigilSyscallIdVIGIL_SYS_RECVFROM, event.ProtoTCP, connected, [4]byte{10, 0, 0, 2}, [4]byte{93, 184, 216, 34}, 40000, 443),
		}
		p := newPipeline(nil, rs, false, output.NewEncoder("bench"), output.NewWriter(io.Discard, 16))
		alerts := 0
		p.onMatch = func(*rules.Rule) { alerts++ }
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := dec.Decode(mix[i], &r); err != nil {
				b.Fatal(err)
			}
			table.Apply(&r)
			p.handle(&r.Event)
			table.Release(&r)
			if i++; i == len(mix) {
				i = 0
			}
		}
		if alerts != 0 {
			b.Fatalf("%d alerts: the mix is meant to match nothing", alerts)
		}
	})
	if res.N == 0 {
		t.Fatal("benchmark did not run")
	}
	if a := res.AllocsPerOp(); a != 0 {
		t.Errorf("pipeline allocates %d times per send or receive that matches nothing", a)
	}
	t.Logf("%d ns per send or receive", res.NsPerOp())
}
