package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/sensor"
)

// benchEnv is an environment of the size a login shell's children carry
// (about 1.5 KB), NUL-separated as the kernel gives it.
var benchEnv = func() string {
	var b strings.Builder
	for _, kv := range []string{"HOME=/home/u", "LANG=C.UTF-8", "TERM=xterm-256color", "SHELL=/bin/bash",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PWD=/srv/app", "USER=u", "LOGNAME=u"} {
		b.WriteString(kv)
		b.WriteByte(0)
	}
	for b.Len() < 1500 {
		b.WriteString("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
		b.WriteByte(0)
	}
	return b.String()
}()

// richExecRecord is execRecord with the environment and the full
// capability sets of a root process (their names are about 1.1 KB in each
// of the two rendered sets).
func richExecRecord(tb testing.TB, pid, ppid uint32, comm, exe, cwd string, argv ...string) []byte {
	var args []byte
	for _, a := range argv {
		args = append(append(args, a...), 0)
	}
	const all = 1<<41 - 1
	rec := bpf.VigilExecRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_EXEC, pid), Ppid: ppid, Loginuid: 1000,
		Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_EXECVE), CapPermitted: all, CapEffective: all,
		FilenameLen: uint16(len(exe)), ArgsLen: uint16(len(args)), ExeLen: uint16(len(exe)), CwdLen: uint16(len(cwd)),
		EnvLen: uint16(len(benchEnv)), Vpid: pid, Vpgid: pid, Sid: ppid}
	copy(rec.Comm[:], comm)
	return rawRecord(tb, rec, exe, string(args), exe, cwd, benchEnv)
}

func sockInfo(lport, rport uint16) bpf.VigilSockInfo {
	s := bpf.VigilSockInfo{Family: event.AFInet, Type: 1, Proto: event.ProtoTCP, Lport: lport, Rport: rport}
	copy(s.Laddr[:], []byte{10, 0, 0, 2})
	copy(s.Raddr[:], []byte{93, 184, 216, 34})
	return s
}

// eventPathKinds is one record of each event kind, as process 100 (a
// python3 under bash, run as root) makes them; exit is preceded by a fork
// of the process that exits, which the table applies and the handler does
// not see (as when only exits are selected).
func eventPathKinds(tb testing.TB) []struct {
	kind      string
	pre, recs [][]byte
} {
	const pid = 100
	fs := bpf.VigilFsRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_FS, pid), Fd1: -100, Fd2: -100, Mode: 0o755,
		Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_MKDIRAT), Raw1Len: uint16(len("cache")), Dir1Len: uint16(len("/srv/app"))}
	dup := bpf.VigilDupRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_DUP, pid), Ret: 1, Oldfd: 5, Newfd: 1, FileType: 0o140000,
		Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_DUP2), Sock: sockInfo(40000, 443)}
	sock := bpf.VigilSocketRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_SOCKET, pid), Ret: 5, Domain: event.AFInet, Type: 1,
		Fd: 5, Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_LISTEN), Sock: sockInfo(8080, 0)}
	priv := bpf.VigilPrivRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_PRIV, pid), Arg: [3]int64{16, 1234, 0},
		Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_PTRACE), CapPermitted: 1<<41 - 1, CapEffective: 1<<41 - 1}
	cred := bpf.VigilPrivRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_PRIV, pid), Arg: [3]int64{0, 0, 0},
		Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_SETUID), CapPermitted: 1<<41 - 1, CapEffective: 1<<41 - 1}
	sr := bpf.VigilSendrecvRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_SENDRECV, pid), Ret: 512, Fd: 5,
		Syscall: uint16(bpf.VigilSyscallIdVIGIL_SYS_SENDTO), Rflags: uint16(bpf.VigilSendrecvRecFlagsVIGIL_SR_CONNECTED), Sock: sockInfo(40000, 443)}
	uring := bpf.VigilIouringRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_IOURING_SUBMIT, pid), Opcode: 18, Fd1: -100,
		Path1Len: uint16(len("data.db")), Dir1Len: uint16(len("/var/lib/app"))}
	fork := bpf.VigilForkRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_FORK, 200), StartBootNs: 4e9, ParentTgid: pid, ParentTid: pid}
	exit := bpf.VigilExitRec{Hdr: recHdr(bpf.VigilRecTypeVIGIL_REC_EXIT, 200)}
	return []struct {
		kind      string
		pre, recs [][]byte
	}{
		{kind: "exec", recs: [][]byte{richExecRecord(tb, pid, 10, "python3", "/usr/bin/python3", "/srv/app", "python3", "app.py", "--port", "8080")}},
		{kind: "fork", recs: [][]byte{rawRecord(tb, fork)}},
		{kind: "exit", pre: [][]byte{rawRecord(tb, fork)}, recs: [][]byte{rawRecord(tb, exit)}},
		{kind: "open", recs: [][]byte{openRecord(tb, pid, "/srv/app/templates/index.html", 0o2000000)}},
		{kind: "connect", recs: [][]byte{connectRecord(tb, pid, [4]byte{93, 184, 216, 34}, 443)}},
		{kind: "fs", recs: [][]byte{rawRecord(tb, fs, "cache", "/srv/app")}},
		{kind: "socket", recs: [][]byte{rawRecord(tb, sock)}},
		{kind: "dup", recs: [][]byte{rawRecord(tb, dup)}},
		{kind: "priv", recs: [][]byte{rawRecord(tb, priv)}},
		{kind: "cred", recs: [][]byte{rawRecord(tb, cred)}},
		{kind: "sendrecv", recs: [][]byte{rawRecord(tb, sr)}},
		{kind: "iouring", recs: [][]byte{rawRecord(tb, uring, "data.db", "/var/lib/app")}},
	}
}

// BenchmarkEventPath is the whole --events path of one event of each kind:
// decode of the raw ring-buffer record, process table, rules (vigil's
// default rules and Falco's stable file), the event record encoded and
// queued, and the output's writer goroutine writing the batches to
// /dev/null with write(2). ns/op is the reader goroutine's time; cpu-ns/op
// is the whole process's CPU time (user and system, both goroutines, from
// getrusage) per event, the figure the agent's CPU budget is about.
// bytes/op is the record's size; a dropped record fails the benchmark.
func BenchmarkEventPath(b *testing.B) {
	rs := benchRules(b)
	for _, k := range eventPathKinds(b) {
		b.Run(k.kind, func(b *testing.B) {
			table := sensor.NewProcessTable(sensor.TableConfig{ProcRoot: b.TempDir()})
			var dec sensor.Decoder
			var r sensor.Record
			apply := func(raw []byte) {
				if err := dec.Decode(raw, &r); err != nil {
					b.Fatal(err)
				}
				table.Apply(&r)
				table.Release(&r)
			}
			apply(richExecRecord(b, 10, 1, "bash", "/usr/bin/bash", "/home/u", "bash"))
			apply(richExecRecord(b, 100, 10, "python3", "/usr/bin/python3", "/srv/app", "python3", "app.py", "--port", "8080"))

			null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer null.Close()
			w := output.NewWriterSize(null, 1<<20, 1<<30)
			p := newPipeline(nil, rs, true, output.NewEncoder("bench"), w)
			p.identities = benchIdentities(rs)
			var seq uint64
			b.ReportAllocs()
			var before syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			i := 0
			for b.Loop() {
				for _, raw := range k.pre {
					apply(raw)
				}
				if err := dec.Decode(k.recs[i], &r); err != nil {
					b.Fatal(err)
				}
				table.Apply(&r)
				seq++
				r.Event.Num = seq
				p.handle(&r.Event)
				table.Release(&r)
				if i++; i == len(k.recs) {
					i = 0
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			var after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			st := w.Stats()
			if st.Dropped > 0 || p.alertDrops.Load() > 0 {
				b.Fatalf("%d records dropped, %d alerts: the output must take every record", st.Dropped, p.alertDrops.Load())
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if st.Written > 0 {
				b.ReportMetric(float64(st.Bytes)/float64(st.Written), "bytes/op")
			}
		})
	}
}
