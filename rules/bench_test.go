package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"golang.org/x/sys/unix"
)

// benignMix is a realistic stream of events that no rule should match:
// mostly file opens (a Go build, a shell session, a web server in a
// container, package metadata reads), some execs and some connects, in the
// proportions a busy host shows (about 80/12/8).
func benignMix() []*event.Event {
	initp := proc("init", "/sbin/init", "", nil)
	initp.PID = 1
	sshd := proc("sshd", "/usr/sbin/sshd", "-D", initp)
	bash := proc("bash", "/usr/bin/bash", "", sshd)
	bash.LoginUID, bash.TTY, bash.UID, bash.UserName = 1000, 34816, 1000, "alice"
	gobuild := proc("go", "/usr/local/go/bin/go", "build ./...", bash)
	compile := proc("compile", "/usr/local/go/pkg/tool/linux_amd64/compile", "-o /tmp/go-build1/b001/_pkg_.a -p main", gobuild)
	vim := proc("vim", "/usr/bin/vim", "main.go", bash)
	git := proc("git", "/usr/bin/git", "status", bash)
	shim := proc("containerd-shim", "/usr/bin/containerd-shim-runc-v2", "-namespace k8s.io", initp)
	nginx := proc("nginx", "/usr/sbin/nginx", "-g daemon off;", shim)
	c := ctr("0123456789ab")
	python := proc("python3", "/usr/bin/python3", "app.py", shim)
	curl := proc("curl", "/usr/bin/curl", "-s https://example.com", bash)
	apt := proc("apt-get", "/usr/bin/apt-get", "update", bash)
	for _, p := range []*event.Process{bash, gobuild, compile, vim, git, curl, apt} {
		p.UID, p.UserName, p.LoginUID = 1000, "alice", 1000
	}
	ro := uint32(unix.O_RDONLY | unix.O_CLOEXEC)
	wr := uint32(unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC)
	var out []*event.Event
	opens := []struct {
		p     *event.Process
		c     *event.Container
		path  string
		flags uint32
		res   int64
	}{
		{compile, nil, "/usr/local/go/src/fmt/print.go", ro, 3},
		{compile, nil, "/usr/local/go/src/strings/builder.go", ro, 3},
		{compile, nil, "/home/alice/src/vigil/rules/compile.go", ro, 3},
		{compile, nil, "/tmp/go-build1/b001/_pkg_.a", wr, 4},
		{compile, nil, "/root/.cache/go-build/3f/3f2a-d", ro, 3},
		{gobuild, nil, "/home/alice/src/vigil/go.mod", ro, 3},
		{gobuild, nil, "/root/.cache/go-build/trim.txt", ro, 3},
		{gobuild, nil, "/proc/self/cgroup", ro, 3},
		{vim, nil, "/home/alice/src/vigil/rules/.compile.go.swp", wr, 4},
		{vim, nil, "/usr/share/vim/vim90/syntax/go.vim", ro, 3},
		{bash, nil, "/etc/ld.so.cache", ro, 3},
		{bash, nil, "/lib/x86_64-linux-gnu/libc.so.6", ro, 3},
		{bash, nil, "/home/alice/.bash_history", uint32(unix.O_WRONLY | unix.O_APPEND), 3},
		{git, nil, "/home/alice/src/vigil/.git/index", ro, 3},
		{git, nil, "/home/alice/src/vigil/.git/objects/ab/cdef", ro, -int64(unix.ENOENT)},
		{nginx, c, "/usr/share/nginx/html/index.html", ro, 12},
		{nginx, c, "/var/log/nginx/access.log", uint32(unix.O_WRONLY | unix.O_APPEND), 5},
		{python, c, "/app/templates/base.html", ro, 7},
		{python, c, "/usr/lib/python3.11/json/__init__.py", ro, 7},
		{apt, nil, "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", ro, 3},
		{apt, nil, "/etc/apt/sources.list", ro, 3},
		{curl, nil, "/etc/ssl/certs/ca-certificates.crt", ro, 3},
		{curl, nil, "/etc/resolv.conf", ro, 3},
		{compile, nil, "/usr/local/go/src/net/http/server.go", ro, 3},
	}
	for _, o := range opens {
		out = append(out, openEvent(o.p, o.c, o.path, o.flags, o.res))
	}
	for _, p := range []*event.Process{
		proc("ls", "/usr/bin/ls", "-la", bash),
		proc("compile", "/usr/local/go/pkg/tool/linux_amd64/compile", "-o x.a", gobuild),
		proc("git", "/usr/bin/git", "diff", bash),
	} {
		out = append(out, execEvent(p, nil))
	}
	out = append(out,
		connectEvent(curl, nil, "10.0.0.5:40000", "93.184.216.34:443", -int64(unix.EINPROGRESS)),
		connectEvent(python, c, "172.17.0.2:50000", "10.96.0.10:5432", 0),
	)
	return out
}

func benchRules(b testing.TB, noCache bool) *Ruleset {
	rs, _, err := Load([]Source{falcoRules(b), Default()}, Options{noCache: noCache})
	if err != nil {
		b.Fatal(err)
	}
	return rs
}

// TestBenignMixMatchesNothing keeps the benchmark honest: its events
// match no rule, so it measures the no-match path.
func TestBenignMixMatchesNothing(t *testing.T) {
	rs := benchRules(t, false)
	for _, e := range benignMix() {
		if got := matches(rs, e); len(got) > 0 {
			t.Errorf("%s %s %s matched %v", e.Type, e.Proc.Cmdline, e.Open.Name, got)
		}
	}
}

// TestNoMatchAllocs checks that matching an event that matches nothing
// allocates nothing, with the stable Falco rules and the defaults loaded.
func TestNoMatchAllocs(t *testing.T) {
	rs := benchRules(t, false)
	events := benignMix()
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		rs.Match(events[i%len(events)], nil)
		i++
	}); n != 0 {
		t.Errorf("Match allocates %v times per event", n)
	}
}

// BenchmarkMatch matches the benign mix against the stable Falco rules and
// vigil's defaults: ns and allocations per event, with and without the
// field cache.
func BenchmarkMatch(b *testing.B) {
	for _, bc := range []struct {
		name    string
		noCache bool
	}{{"cache", false}, {"nocache", true}} {
		b.Run(bc.name, func(b *testing.B) {
			rs := benchRules(b, bc.noCache)
			events := benignMix()
			fn := func(*Rule) {}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rs.Match(events[i%len(events)], fn)
			}
		})
	}
}

// BenchmarkMatchKind splits the mix by event kind.
func BenchmarkMatchKind(b *testing.B) {
	rs := benchRules(b, false)
	byKind := map[event.Kind][]*event.Event{}
	for _, e := range benignMix() {
		byKind[e.Type.Kind()] = append(byKind[e.Type.Kind()], e)
	}
	for _, k := range []event.Kind{event.KindOpen, event.KindExec, event.KindConnect} {
		events := byKind[k]
		b.Run(k.String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rs.Match(events[i%len(events)], nil)
			}
		})
	}
}

// BenchmarkMatchAlert measures an event that matches, with the output
// rendered into a reused buffer as the pipeline does.
func BenchmarkMatchAlert(b *testing.B) {
	rs := benchRules(b, false)
	e := openEvent(proc("cat", "/usr/bin/cat", "/etc/shadow", procTree()), nil, "/etc/shadow", unix.O_RDONLY, 3)
	buf := make([]byte, 0, 1024)
	fields := make([]FieldValue, 0, 32)
	fn := func(r *Rule) {
		buf = r.AppendOutput(buf[:0], e)
		fields = r.AppendOutputFields(fields[:0], e)
	}
	if rs.Match(e, fn) == 0 {
		b.Fatal("no match")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs.Match(e, fn)
	}
}

// BenchmarkLoad measures loading and compiling the stable Falco rules and
// the defaults.
func BenchmarkLoad(b *testing.B) {
	srcs := []Source{falcoRules(b), Default()}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := Load(srcs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStrSet compares the two set layouts at the switch-over size.
func BenchmarkStrSet(b *testing.B) {
	for _, n := range []int{4, 8, 16, 64} {
		var vals []string
		for i := 0; i < n; i++ {
			vals = append(vals, fmt.Sprintf("binary-%d", i))
		}
		probe := strings.Repeat("x", 10)
		b.Run(fmt.Sprintf("slice/%d", n), func(b *testing.B) {
			s := &strSet{small: vals}
			for i := 0; i < b.N; i++ {
				s.has(probe)
			}
		})
		b.Run(fmt.Sprintf("map/%d", n), func(b *testing.B) {
			s := &strSet{big: map[string]struct{}{}}
			for _, v := range vals {
				s.big[v] = struct{}{}
			}
			for i := 0; i < b.N; i++ {
				s.has(probe)
			}
		})
	}
}
