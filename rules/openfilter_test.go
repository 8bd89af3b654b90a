package rules

import (
	"bytes"
	"math/rand/v2"
	pathpkg "path"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// TestOpenFilterBounds checks, condition by condition, which opens the
// derived filter keeps and which it lets the kernel drop.
func TestOpenFilterBounds(t *testing.T) {
	cat := proc("cat", "/usr/bin/cat", "", procTree())
	open := func(path string, flags uint32, res int64) *event.Event { return openEvent(cat, nil, path, flags, res) }
	rd, wr := uint32(unix.O_RDONLY), uint32(unix.O_WRONLY|unix.O_CREAT)
	tests := []struct {
		cond       string
		admit, not []*event.Event
	}{{
		cond:  "evt.type = openat and evt.is_open_write = true and fd.name startswith /etc/",
		admit: []*event.Event{open("/etc/x", wr, 3), open("/etc/x", unix.O_RDWR, 3), open("/tmp/x", wr, -2)},
		not:   []*event.Event{open("/etc/x", rd, 3), open("/tmp/x", wr, 3), open("/etc", wr, 3)},
	}, {
		cond:  "evt.type in (open, openat) and evt.is_open_read = true and fd.num >= 0 and (fd.name in (/etc/shadow) or fd.filename = id_rsa)",
		admit: []*event.Event{open("/etc/shadow", rd, 3), open("/etc/shadow.bak", rd, 3), open("/home/a/.ssh/id_rsa", unix.O_RDWR, 3)},
		not:   []*event.Event{open("/etc/shadow", rd, -13), open("/etc/passwd", rd, 3), open("/home/a/.ssh/id_rsa.pub", rd, 3), open("/etc/shadow", unix.O_WRONLY, 3)},
	}, {
		// Negated path checks bound nothing; negated access does.
		cond:  "evt.type = openat and not fd.name startswith /tmp and not evt.is_open_read = true",
		admit: []*event.Event{open("/tmp/x", wr, 3), open("/x", unix.O_PATH, 3)},
		not:   []*event.Event{open("/x", rd, 3), open("/x", unix.O_RDWR, 3)},
	}, {
		cond:  "evt.type = openat and fd.directory = /etc/sudoers.d and evt.failed = false",
		admit: []*event.Event{open("/etc/sudoers.d/x", rd, 3)},
		not:   []*event.Event{open("/etc/sudoers.dx", rd, 3), open("/etc/sudoers.d/x", rd, -2)},
	}, {
		cond:  "evt.type = openat and fd.name glob '/etc/ssh/ssh_host_*_key' and evt.res = SUCCESS",
		admit: []*event.Event{open("/etc/ssh/ssh_host_rsa_key", rd, 3), open("/etc/ssh/ssh_host_x", rd, 3)},
		not:   []*event.Event{open("/etc/ssh/sshd_config", rd, 3), open("/etc/ssh/ssh_host_rsa_key", rd, -2)},
	}, {
		// Nested prefixes intersect to the longer one.
		cond:  "evt.type = openat and fd.name startswith /usr/ and fd.name pmatch (/usr/lib, /bin)",
		admit: []*event.Event{open("/usr/lib/x", rd, 3)},
		not:   []*event.Event{open("/usr/bin/x", rd, 3), open("/bin/x", rd, 3)},
	}, {
		// pmatch compares components: its bound is the canonical path.
		cond:  "evt.type = openat and fd.name pmatch (/var//run/, bin, /usr/*/x)",
		admit: []*event.Event{open("/var/run/x", rd, 3), open("/bin", rd, 3), open("/usr/share/x", rd, 3)},
		not:   []*event.Event{open("/var/lib/x", rd, 3), open("/sbin/x", rd, 3)},
	}, {
		// fd.num < 0 only on failure.
		cond:  "evt.type = openat and fd.num < 0",
		admit: []*event.Event{open("/x", rd, -2)},
		not:   []*event.Event{open("/x", rd, 3)},
	}, {
		// An error's name differs from every other result, failures
		// with other errors included.
		cond:  "evt.type = openat and evt.res != ENOENT",
		admit: []*event.Event{open("/x", rd, 3), open("/x", rd, -13)},
	}, {
		cond:  "evt.type = openat and not evt.res = ENOENT",
		admit: []*event.Event{open("/x", rd, -13)},
	}, {
		// Process checks bound nothing.
		cond:  "evt.type = openat and proc.name = cat",
		admit: []*event.Event{open("/x", rd, 3), open("/x", wr, -2)},
	}, {
		// A rule on every event type keeps every open.
		cond:  "proc.name = cat",
		admit: []*event.Event{open("/x", rd, 3)},
	}, {
		// No open rule: no open is kept.
		cond: "evt.type = execve and proc.name = cat",
		not:  []*event.Event{open("/x", rd, 3), open("/x", wr, -2)},
	}, {
		// The raw path bounds failed opens too, and opens of any path:
		// Falco's "Directory traversal monitored file read" shape.
		cond: "evt.type = openat and (fd.name startswith /etc/ or fd.name contains id_rsa) and fd.nameraw contains '../' and fd.nameraw glob '*../*../*'",
		admit: []*event.Event{raw(open("/etc/x", rd, 3), "../../etc/x"), raw(open("/home/a/id_rsa", rd, 3), "a/../../id_rsa"),
			raw(open("/x", rd, -2), "../../x")},
		not: []*event.Event{open("/etc/x", rd, 3), open("/home/a/id_rsa", rd, 3), raw(open("/x", rd, -2), "./x"), raw(open("/etc/x", rd, 3), "..a/etc/x")},
	}, {
		// The needle is the whole string (the sensor cuts it to what the
		// kernel compares); an unknown raw path satisfies it.
		cond:  "evt.type = openat and fd.nameraw endswith .kube/config-long",
		admit: []*event.Event{raw(open("/x", rd, 3), "/a/.kube/config-long"), raw(open("/x", rd, 3), "")},
		not:   []*event.Event{raw(open("/x", rd, 3), "/a/kube/config"), raw(open("/x", rd, 3), "/a/.kube/config")},
	}, {
		// Falco's release_agent rule: a path suffix, which also bounds
		// an intersection with a prefix (either side is kept).
		cond:  "evt.type = openat and evt.is_open_write = true and fd.name endswith release_agent",
		admit: []*event.Event{open("/sys/fs/cgroup/x/release_agent", wr, 3), open("/tmp/my_release_agent", wr, 3), open("/x", wr, -13)},
		not:   []*event.Event{open("/sys/fs/cgroup/x/release_agent.bak", wr, 3), open("/tmp/x", wr, 3), open("/x/release_agent", rd, 3)},
	}, {
		cond:  "evt.type = openat and (fd.filename endswith .pem or fd.name startswith /etc/ssl/)",
		admit: []*event.Event{open("/home/a/key.pem", rd, 3), open("/etc/ssl/x", rd, 3)},
		not:   []*event.Event{open("/home/a/key.pem.txt", rd, 3), open("/etc/x", rd, 3)},
	}, {
		// A negated raw check bounds nothing.
		cond:  "evt.type = openat and not fd.nameraw contains '../'",
		admit: []*event.Event{raw(open("/x", rd, 3), "x")},
	}, {
		// Exceptions are "and not": they cannot narrow the filter.
		cond:  "evt.type = openat and fd.name startswith /etc and not (proc.name = cat and fd.name = /etc/x)",
		admit: []*event.Event{open("/etc/x", rd, 3)},
	}}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			rs := mustLoad(t, Options{}, ruleFile(tt.cond))
			f := rs.Filters()[event.KindOpen]
			for _, e := range tt.admit {
				if !f.Admits(e) {
					t.Errorf("drops %s flags=%#o res=%d; filter %+v", e.Open.Name, e.Open.Flags, e.Res, f)
				}
			}
			for _, e := range tt.not {
				if f.Admits(e) {
					t.Errorf("keeps %s flags=%#o res=%d; filter %+v", e.Open.Name, e.Open.Flags, e.Res, f)
				}
			}
		})
	}
}

// raw sets the path e's caller passed.
func raw(e *event.Event, path string) *event.Event {
	e.Open.Raw = []byte(path)
	return e
}

// TestOpenFilterSound checks the one property the sensor relies on: an
// open that an active rule matches is always admitted. Events are drawn
// from the strings of the rules themselves, so that they hit the rules'
// paths, names and exceptions, with vigil's defaults, Falco's stable
// rules, and its sandbox rules with Modify Container Entrypoint (a rule on
// the caller's name, /proc/self/fd/N, never the resolved one) enabled.
func TestOpenFilterSound(t *testing.T) {
	for name, tc := range map[string]struct {
		sources func(testing.TB) []Source
		enable  []string
		// mustMatch must match some of the events drawn.
		mustMatch string
	}{
		"vigil": {sources: func(testing.TB) []Source { return []Source{Default()} }, mustMatch: "Read Shadow or Sudoers File"},
		"falco": {sources: func(t testing.TB) []Source { return []Source{falcoRules(t)} }, mustMatch: "Read sensitive file untrusted"},
		"falco sandbox": {sources: func(t testing.TB) []Source {
			return []Source{falcoRules(t), {Name: falcorules.Sandbox, Data: testutil.FalcoRules(t, falcorules.Sandbox)}}
		}, enable: []string{"Modify Container Entrypoint"}, mustMatch: "Modify Container Entrypoint"},
	} {
		t.Run(name, func(t *testing.T) {
			srcs := tc.sources(t)
			src := srcs[len(srcs)-1]
			rs, _, err := Load(srcs, Options{MatchAll: true, Enable: tc.enable})
			if err != nil {
				t.Fatal(err)
			}
			f := rs.Filters()[event.KindOpen]
			words := ruleWords(src.Data)
			rng := rand.New(rand.NewPCG(1, 2))
			pick := func() string { return words[rng.IntN(len(words))] }
			types := []event.Type{event.TypeOpen, event.TypeOpenat, event.TypeOpenat2, event.TypeCreat}
			flagSet := []uint32{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_PATH,
				unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, unix.O_RDWR | unix.O_APPEND, unix.O_RDONLY | unix.O_DIRECTORY}
			// The files the rules name by identity, each with an
			// inode some events' files have, whatever their path (a
			// hard link, a bind mount).
			idPaths := rs.IdentityPaths()
			idm := map[event.FileID]string{}
			for i, p := range idPaths {
				idm[event.FileID{Dev: 1, Ino: uint64(i + 1)}] = p
			}
			ids := &event.FileIdentities{}
			ids.Set(idm)
			matched, dropped, renamed, byIdentity := 0, 0, 0, 0
			byRule := map[string]int{}
			for range 200000 {
				var path string
				switch rng.IntN(4) {
				case 0:
					path = pick()
				case 1:
					path = pick() + "/" + pick()
				case 2:
					path = "/" + strings.TrimLeft(pick(), "/") + "/" + pick()
				default:
					p := pick()
					path = p[:rng.IntN(len(p)+1)]
				}
				res := int64(3)
				if rng.IntN(4) == 0 {
					res = -2
				}
				if res >= 0 {
					// The kernel's paths are absolute and have
					// no empty, "." or ".." components; the
					// filter judges only those (failed opens
					// pass on paths).
					comps := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
					comps = slices.DeleteFunc(comps, func(c string) bool { return c == "." || c == ".." })
					path = "/" + strings.Join(comps, "/")
				}
				parent := procTree()
				if rng.IntN(2) == 0 {
					// Not always a shell: rules exclude those.
					parent = proc(pick(), "/usr/bin/"+pick(), pick(), parent)
				}
				p := proc(pick(), "/usr/bin/"+pick(), pick(), parent)
				var c *event.Container
				if rng.IntN(2) == 0 {
					c = ctr("0123456789ab")
				}
				e := openEvent(p, c, path, flagSet[rng.IntN(len(flagSet))], res)
				e.Type = types[rng.IntN(len(types))]
				// The raw path: as resolved, relative (to "/"), or
				// through ".." (once or more, for the traversal
				// rules), or another name for the file, as a symlink
				// gives (/proc/self/fd/1 for a terminal), relative or
				// not. The caller's name is the raw path made
				// absolute and cleaned; the resolved path stays.
				switch rng.IntN(6) {
				case 0:
					e.Open.Raw = []byte(strings.TrimLeft(path, "/"))
				case 1:
					e.Open.Raw = []byte(strings.Repeat("../", 1+rng.IntN(3)) + strings.TrimLeft(path, "/"))
				case 2:
					e.Open.Raw = []byte(pick() + "/../" + path)
				case 3:
					e.Open.Raw = []byte(pick())
					if rng.IntN(2) == 0 {
						e.Open.Raw = []byte("/" + strings.TrimLeft(pick(), "/") + "/" + pick())
					}
				}
				e.Open.Name = []byte(pathpkg.Join("/", string(e.Open.Raw)))
				if rng.IntN(8) == 0 {
					e.Open.FileType = unix.S_IFDIR
				}
				e.Identities = ids
				if res >= 0 && len(idPaths) > 0 && rng.IntN(4) == 0 {
					e.Open.Dev, e.Open.Ino = 1, uint64(1+rng.IntN(len(idPaths)+1))
				}
				admitted := f.Admits(e)
				if !admitted {
					dropped++
				}
				if !bytes.Equal(e.Open.Name, e.Open.RealPath) {
					renamed++
				}
				if m := matches(rs, e); len(m) > 0 {
					matched++
					if _, ok := ids.Name(event.FileID{Dev: e.Open.Dev, Ino: e.Open.Ino}); ok && !bytes.HasPrefix(e.Open.RealPath, []byte("/etc/")) {
						byIdentity++
					}
					for _, r := range m {
						byRule[r]++
					}
					if !admitted {
						t.Fatalf("filter drops %s (resolved %s, raw %s, type %s flags %#o res %d proc %s) that matches %q",
							e.Open.Name, e.Open.RealPath, e.Open.Raw, e.Type, e.Open.Flags, e.Res, p.Name, m)
					}
				}
			}
			t.Logf("%d events matched a rule, %d dropped by the filter, %d named otherwise than resolved, %d matched a file "+
				"by identity outside /etc, all matches admitted; matches by rule: %v", matched, dropped, renamed, byIdentity, byRule)
			if len(idPaths) > 0 && byIdentity == 0 {
				t.Errorf("the sample is too weak: no match by identity of %q", idPaths)
			}
			if matched == 0 || dropped == 0 || renamed == 0 || byRule[tc.mustMatch] == 0 {
				t.Errorf("the sample is too weak: %d matched, %d dropped, %d renamed, %d by %s", matched, dropped, renamed,
					byRule[tc.mustMatch], tc.mustMatch)
			}
		})
	}
}

// ruleWords returns the paths and words of a rules file, with their
// path components, for drawing test events.
func ruleWords(data []byte) []string {
	var out []string
	for _, w := range strings.FieldsFunc(string(data), func(r rune) bool {
		return strings.ContainsRune(" \t\n,()[]\"'=<>!", r)
	}) {
		out = append(out, w)
		for _, part := range strings.Split(w, "/") {
			if part != "" {
				out = append(out, part)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestDefaultRulesOpenFilter keeps the default rules cheap: every clause
// they give bounds the path, so a benign open (the bulk of a host's
// events) never leaves the kernel. A new default rule that matches opens
// must name its paths or file names.
func TestDefaultRulesOpenFilter(t *testing.T) {
	rs := mustLoadSources(t, Default())
	f := rs.Filters()[event.KindOpen]
	if len(f.Clauses) == 0 {
		t.Fatal("the default rules give no open clause: are their open rules gone?")
	}
	for _, c := range f.Clauses {
		if c.AnyPath {
			t.Errorf("a default rule admits opens of any path: %+v", c)
		}
		// Bounds on the caller's name cost a raw-path read on opens
		// the kernel would drop; the defaults match the resolved file.
		if !c.Resolved {
			t.Errorf("a default rule bounds the caller's name, not the resolved path: %+v", c)
		}
	}
	checkBenignOpens(t, "the default rules", f)
}

// TestFalcoRulesOpenFilter does the same for Falco's stable rules, where
// a clause may instead be bounded by a string the raw path must contain
// (the directory traversal rule's '../').
func TestFalcoRulesOpenFilter(t *testing.T) {
	f := mustLoadSources(t, falcoRules(t)).Filters()[event.KindOpen]
	raw := 0
	for _, c := range f.Clauses {
		if c.AnyPath && c.RawContains == "" && c.Results&event.ResultSucceeded != 0 {
			t.Errorf("a Falco rule admits successful opens of any path: %+v", c)
		}
		if c.RawContains != "" {
			raw++
		}
	}
	if raw == 0 {
		t.Error("no clause of Falco's rules needs a raw-path string: is the directory traversal rule gone?")
	}
	checkBenignOpens(t, "Falco's rules", f)
}

// checkBenignOpens checks that f keeps none of a few everyday opens.
func checkBenignOpens(t *testing.T, what string, f *event.OpenFilter) {
	t.Helper()
	cat := proc("cat", "/usr/bin/cat", "", procTree())
	for _, path := range []string{"/tmp/x", "/home/alice/notes.txt", "/usr/share/zoneinfo/UTC", "/proc/self/status"} {
		for _, flags := range []uint32{unix.O_RDONLY, unix.O_WRONLY | unix.O_CREAT} {
			if e := openEvent(cat, nil, path, flags, 3); f.Admits(e) {
				t.Errorf("%s' filter keeps a benign open of %s (flags %#o)", what, path, flags)
			}
		}
	}
}

func mustLoadSources(t *testing.T, srcs ...Source) *Ruleset {
	t.Helper()
	rs, _, err := Load(srcs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestFalcoRulesPrivFilter checks the priv kind's filter from Falco's
// stable rules: the ptrace requests its two ptrace rules name and the
// module loads pass, a reading ptrace request and the namespace and bpf
// calls no stable rule names stay in the kernel.
func TestFalcoRulesPrivFilter(t *testing.T) {
	f := mustLoadSources(t, falcoRules(t)).Filters()[event.KindPriv]
	if f == nil {
		t.Fatal("no priv filter")
	}
	ev := func(typ event.Type, arg int64, res int64) *event.Event {
		return &event.Event{Type: typ, Res: res, Priv: event.Priv{Args: [3]int64{arg}}}
	}
	for _, tt := range []struct {
		e    *event.Event
		want bool
	}{
		{ev(event.TypePtrace, unix.PTRACE_ATTACH, 0), true},
		{ev(event.TypePtrace, unix.PTRACE_SEIZE, -1), true},
		{ev(event.TypePtrace, unix.PTRACE_POKEDATA, 0), true},
		{ev(event.TypePtrace, unix.PTRACE_TRACEME, 0), true},
		{ev(event.TypePtrace, 0x5000, 0), true}, // unnamed: its class is kept
		{ev(event.TypePtrace, unix.PTRACE_PEEKDATA, 0), false},
		{ev(event.TypePtrace, unix.PTRACE_CONT, 0), false},
		{ev(event.TypeInitModule, 0, -38), true},
		{ev(event.TypeFinitModule, 3, -1), true},
		{ev(event.TypeUnshare, 0x10000000, 0), false},
		{ev(event.TypeBpf, 5, 3), false},
	} {
		if got := f.Admits(tt.e); got != tt.want {
			t.Errorf("%s %#x: admitted %v, want %v", tt.e.Type, tt.e.Priv.Args[0], got, tt.want)
		}
	}
}
