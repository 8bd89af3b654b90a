package rules

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"

	"github.com/vigil-sensor/vigil/event"
	"golang.org/x/sys/unix"
)

// Synthetic processes and events for tests and benchmarks, built by hand
// as the sensor would fill them.

// proc makes a process; cmdline is the name followed by args.
func proc(name, exepath, args string, parent *event.Process) *event.Process {
	p := &event.Process{
		PID: 1000, Name: name, Exe: exepath, ExePath: exepath, Args: args,
		Cmdline: strings.TrimSpace(name + " " + args), Cwd: "/root",
		UID: 0, UserName: "root", LoginUID: 1<<32 - 1, Parent: parent,
	}
	if parent != nil {
		p.PPID = parent.PID
	}
	return p
}

// procTree is init -> sshd -> bash (the usual interactive chain).
func procTree() *event.Process {
	initp := proc("systemd", "/usr/lib/systemd/systemd", "", nil)
	initp.PID = 1
	sshd := proc("sshd", "/usr/sbin/sshd", "-D", initp)
	sshd.PID = 500
	bash := proc("bash", "/usr/bin/bash", "", sshd)
	bash.PID = 900
	bash.LoginUID = 1000
	bash.TTY = 34816
	return bash
}

func ctr(id string) *event.Container {
	return &event.Container{
		ID: id, FullID: id + "0000000000000000", Type: "containerd", Known: true,
		Name: "web", Image: "docker.io/library/nginx:1.27", ImageRepository: "docker.io/library/nginx",
		ImageTag: "1.27", Labels: map[string]string{"app": "web", "io.kubernetes.pod.name": "web-1"},
	}
}

func execEvent(p *event.Process, c *event.Container) *event.Event {
	e := &event.Event{Type: event.TypeExecve, Num: 1, Time: 1_700_000_000_123_456_789, PID: p.PID, TID: p.PID, Proc: p, Container: c}
	e.Exec.Filename = []byte(p.ExePath)
	return e
}

func openEvent(p *event.Process, c *event.Container, path string, flags uint32, res int64) *event.Event {
	e := &event.Event{Type: event.TypeOpenat, Num: 2, Time: 1_700_000_000_123_456_789, PID: p.PID, TID: p.PID, Proc: p, Container: c, Res: res}
	e.Open.Flags = flags
	e.Open.DirFD = -100
	e.Open.Name = []byte(path)
	e.Open.Raw = []byte(path)
	if res >= 0 {
		e.Open.RealPath = []byte(path)
	}
	e.Open.FileType = unix.S_IFREG
	return e
}

func connectEvent(p *event.Process, c *event.Container, local, remote string, res int64) *event.Event {
	e := &event.Event{Type: event.TypeConnect, Num: 3, Time: 1_700_000_000_123_456_789, PID: p.PID, TID: p.PID, Proc: p, Container: c, Res: res}
	e.Connect.FD = 3
	e.Connect.Family = event.AFInet
	e.Connect.SockType = unix.SOCK_STREAM
	e.Connect.Proto = event.ProtoTCP
	e.Connect.Local = netip.MustParseAddrPort(local)
	e.Connect.Remote = netip.MustParseAddrPort(remote)
	if e.Connect.Remote.Addr().Is6() && !e.Connect.Remote.Addr().Is4In6() {
		e.Connect.Family = event.AFInet6
	}
	return e
}

// ruleFile wraps one condition into a rules file.
func ruleFile(cond string) string {
	return "- rule: t\n  desc: t\n  output: t\n  priority: INFO\n  warn_evttypes: false\n  condition: |-\n    " +
		strings.ReplaceAll(cond, "\n", "\n    ") + "\n"
}

// loadOne loads a rules file from a string.
func loadOne(t testing.TB, text string, opts Options) (*Ruleset, *LoadResult, error) {
	t.Helper()
	return Load([]Source{{Name: "test.yaml", Data: []byte(text)}}, opts)
}

// mustLoad loads rules files and fails the test on errors.
func mustLoad(t testing.TB, opts Options, texts ...string) *Ruleset {
	t.Helper()
	var srcs []Source
	for i, text := range texts {
		srcs = append(srcs, Source{Name: "f" + string(rune('1'+i)) + ".yaml", Data: []byte(text)})
	}
	rs, res, err := Load(srcs, opts)
	if err != nil {
		for _, m := range res.Errors() {
			t.Log(m.String())
		}
		t.Fatalf("loading: %v", err)
	}
	return rs
}

// matches reports the names of every active rule that matches e, in
// order, whatever Options.MatchAll says.
func matches(rs *Ruleset, e *event.Event) []string {
	var names []string
	m := rs.NewMatcher()
	m.ctx.reset(e)
	for _, r := range rs.byType[e.Type] {
		if r.pred(&m.ctx) {
			names = append(names, r.Name)
		}
	}
	return names
}

// falcoRules is Falco's stable rules file; the test skips where the upstream
// files are absent (testutil.FalcoRulesPath says how to point at them).
func falcoRules(t testing.TB) Source {
	t.Helper()
	return Source{Name: falcorules.Stable, Data: testutil.FalcoRules(t, falcorules.Stable)}
}
