package rules

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// dupEvent is a dup of p's descriptor of family (0: no socket) and file
// type ftype (0: not open) with result res, the new descriptor or -errno.
func dupEvent(p *event.Process, c *event.Container, typ event.Type, family uint16, ftype uint32, res int64) *event.Event {
	e := &event.Event{Type: typ, Num: 6, PID: p.PID, TID: p.PID, Proc: p, Container: c, Res: res}
	d := &e.Dup
	d.OldFD, d.NewFD = 5, int32(res)
	if typ == event.TypeDup {
		d.NewFD = -1
	}
	d.FileType = ftype
	d.Sock.Family = family
	switch family {
	case event.AFInet:
		d.Sock.Proto = event.ProtoTCP
		d.Sock.Local = netip.MustParseAddrPort("10.0.0.5:40000")
		d.Sock.Remote = netip.MustParseAddrPort("198.51.100.7:4444")
	case event.AFInet6:
		d.Sock.Proto = event.ProtoTCP
		d.Sock.Local = netip.MustParseAddrPort("[2001:db8::5]:40000")
		d.Sock.Remote = netip.MustParseAddrPort("[2001:db8::7]:4444")
	case 0:
		if ftype != 0 && ftype != unix.S_IFSOCK {
			d.Name = []byte("/tmp/out.log")
		}
	}
	return e
}

// TestDupFilterResults checks, condition by condition, how the result of
// a dup (the new descriptor, evt.rawres) bounds the dup filter: Falco's
// redirect rule keeps only dups onto 0, 1 and 2, and a rule that says
// nothing of the result keeps dups onto any descriptor, and failures.
func TestDupFilterResults(t *testing.T) {
	sh := proc("sh", "/bin/sh", "", procTree())
	c := ctr("0123456789ab")
	tcp := func(res int64) *event.Event { return dupEvent(sh, c, event.TypeDup2, event.AFInet, unix.S_IFSOCK, res) }
	ebadf := -int64(unix.EBADF)
	tests := []struct {
		cond string
		// results is the one clause's result classes.
		results    uint8
		admit, not []*event.Event
	}{{
		cond:    "evt.type in (dup, dup2, dup3) and container.id != host and evt.rawres in (0, 1, 2) and fd.type in (ipv4, ipv6)",
		results: event.ResultLow,
		admit: []*event.Event{tcp(0), tcp(1), tcp(2), dupEvent(sh, c, event.TypeDup3, event.AFInet6, unix.S_IFSOCK, 0),
			dupEvent(sh, nil, event.TypeDup, event.AFInet, unix.S_IFSOCK, 1)}, // the kernel knows no containers
		not: []*event.Event{tcp(3), tcp(100), tcp(1 << 20), tcp(ebadf), dupEvent(sh, c, event.TypeDup2, 0, unix.S_IFREG, 1)},
	}, {
		// Nothing said of the result: every descriptor, and failures.
		cond:    "evt.type in (dup, dup2, dup3) and fd.type in (ipv4, ipv6)",
		results: event.AllResults,
		admit:   []*event.Event{tcp(1), tcp(100), tcp(ebadf)},
		not:     []*event.Event{dupEvent(sh, c, event.TypeDup2, event.AFUnix, unix.S_IFSOCK, 100)},
	}, {
		cond:    "evt.type = dup2 and not evt.rawres in (0, 1, 2)",
		results: event.ResultHigh | event.ResultFailed,
		admit:   []*event.Event{tcp(3), tcp(100), tcp(ebadf)},
		not:     []*event.Event{tcp(0), tcp(2)},
	}, {
		// Some low result is none of these: the class stays.
		cond:    "evt.type = dup2 and not evt.rawres in (0, 1)",
		results: event.AllResults,
		admit:   []*event.Event{tcp(2), tcp(100), tcp(ebadf)},
	}, {
		cond:    "evt.type = dup2 and evt.rawres > 2",
		results: event.ResultHigh,
		admit:   []*event.Event{tcp(3), tcp(100)},
		not:     []*event.Event{tcp(2), tcp(0), tcp(ebadf)},
	}, {
		cond:    "evt.type = dup2 and evt.rawres <= 1",
		results: event.ResultLow | event.ResultFailed,
		admit:   []*event.Event{tcp(1), tcp(ebadf)},
		not:     []*event.Event{tcp(3)},
	}, {
		cond:    "evt.type = dup2 and evt.rawres in (1, 200)",
		results: event.ResultLow | event.ResultHigh,
		admit:   []*event.Event{tcp(1), tcp(200)},
		not:     []*event.Event{tcp(ebadf)},
	}, {
		cond:    "evt.type = dup2 and evt.rawres = 0",
		results: event.ResultLow,
		admit:   []*event.Event{tcp(0)},
		not:     []*event.Event{tcp(100), tcp(ebadf)},
	}, {
		cond:    "evt.type = dup2 and evt.res = SUCCESS",
		results: event.ResultSucceeded,
		admit:   []*event.Event{tcp(1), tcp(100)},
		not:     []*event.Event{tcp(ebadf)},
	}, {
		// Every success differs from an error's name, and so do the
		// other errors.
		cond:    "evt.type = dup2 and evt.res != EBADF",
		results: event.AllResults,
		admit:   []*event.Event{tcp(1), tcp(100), tcp(-int64(unix.EMFILE))},
	}, {
		cond:    "evt.type = dup2 and not evt.res = EBADF",
		results: event.AllResults,
		admit:   []*event.Event{tcp(-int64(unix.EMFILE))},
	}, {
		cond:    "evt.type = dup2 and evt.res = EBADF",
		results: event.ResultFailed,
		admit:   []*event.Event{tcp(ebadf)},
		not:     []*event.Event{tcp(1), tcp(100)},
	}, {
		cond:    "evt.type = dup2 and evt.res != SUCCESS",
		results: event.ResultFailed,
		admit:   []*event.Event{tcp(ebadf)},
		not:     []*event.Event{tcp(1)},
	}}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			rs := mustLoad(t, Options{}, ruleFile(tt.cond))
			f := rs.Filters()[event.KindDup]
			if f == nil || f.All || len(f.Clauses) != 1 {
				t.Fatalf("want one clause, got %+v", f)
			}
			if got := f.Clauses[0].Results; got != tt.results {
				t.Errorf("results %#b, want %#b", got, tt.results)
			}
			for _, e := range tt.admit {
				if !f.Admits(e) {
					t.Errorf("drops %s res %d family %d; filter %+v", e.Type, e.Res, e.Dup.Sock.Family, f)
				}
			}
			for _, e := range tt.not {
				if f.Admits(e) {
					t.Errorf("keeps %s res %d family %d; filter %+v", e.Type, e.Res, e.Dup.Sock.Family, f)
				}
			}
		})
	}
}

// TestFalcoRedirectDupFilter checks the dup filter of Falco's three files:
// the redirect rule is the only one on dups, and its filter keeps a dup
// of an IP socket onto 0, 1 or 2 and no dup onto a higher descriptor,
// the dup2 loop of the benchmark included.
func TestFalcoRedirectDupFilter(t *testing.T) {
	rs, _, err := Load(falcoSources(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := rs.Filters()[event.KindDup]
	if f == nil || f.All {
		t.Fatalf("no bounded dup filter: %+v", f)
	}
	for _, c := range f.Clauses {
		if c.Results != event.ResultLow {
			t.Errorf("clause %+v: results %#b, want only low results (%#b)", c, c.Results, event.ResultLow)
		}
	}
	sh := proc("sh", "/bin/sh", "", procTree())
	onto := func(family uint16, ftype uint32, res int64) *event.Event {
		return dupEvent(sh, ctr("0123456789ab"), event.TypeDup2, family, ftype, res)
	}
	for _, tc := range []struct {
		name string
		e    *event.Event
		want bool
	}{
		{"TCP socket onto stdin", onto(event.AFInet, unix.S_IFSOCK, 0), true},
		{"TCP6 socket onto stderr", onto(event.AFInet6, unix.S_IFSOCK, 2), true},
		{"TCP socket onto fd 100", onto(event.AFInet, unix.S_IFSOCK, 100), false},
		{"file onto fd 100 (the dup2 loop)", onto(0, unix.S_IFREG, 100), false},
		{"file onto stdout", onto(0, unix.S_IFREG, 1), false},
		{"failed dup2", onto(0, 0, -int64(unix.EBADF)), false},
	} {
		if got := f.Admits(tc.e); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
	}
}

// dupSoundRules are dup rules beside Falco's, which bound the result in
// every way the derivation reads.
const dupSoundRules = `
- rule: dup high
  desc: t
  output: t
  priority: INFO
  condition: evt.type = dup3 and evt.rawres >= 3 and fd.typechar = f
- rule: dup not stdio
  desc: t
  output: t
  priority: INFO
  condition: evt.type = dup and not evt.rawres in (0, 1, 2) and fd.type = unix
- rule: dup stdio but not stdin
  desc: t
  output: t
  priority: INFO
  condition: evt.type = dup2 and evt.rawres in (1, 2) and fd.typechar = p
- rule: dup failed
  desc: t
  output: t
  priority: INFO
  condition: evt.type in (dup2, dup3) and evt.res != EBADF and evt.rawres != 4 and fd.type = ipv6
`

// TestDupFilterSound checks that a dup any rule of Falco's files or of
// dupSoundRules matches is always admitted, over random descriptors,
// results, processes and containers, and that the filter still drops
// some.
func TestDupFilterSound(t *testing.T) {
	srcs := append(falcoSources(t), Source{Name: "dup.yaml", Data: []byte(dupSoundRules)})
	rs, _, err := Load(srcs, Options{MatchAll: true})
	if err != nil {
		t.Fatal(err)
	}
	f := rs.Filters()[event.KindDup]
	if f == nil || f.All {
		t.Fatalf("no bounded dup filter: %+v", f)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	types := []event.Type{event.TypeDup, event.TypeDup2, event.TypeDup3}
	files := []struct {
		family uint16
		ftype  uint32
	}{
		{event.AFInet, unix.S_IFSOCK}, {event.AFInet6, unix.S_IFSOCK}, {event.AFUnix, unix.S_IFSOCK}, {16, unix.S_IFSOCK},
		{0, unix.S_IFREG}, {0, unix.S_IFIFO}, {0, unix.S_IFCHR}, {0, unix.S_IFDIR}, {0, 0},
	}
	results := []int64{0, 1, 2, 3, 4, 5, 100, 1 << 20, -int64(unix.EBADF), -int64(unix.EMFILE), -int64(unix.EINTR)}
	names := []string{"sh", "bash", "nc", "python", "java"}
	matched, dropped := 0, 0
	byRule := map[string]int{}
	for range 50000 {
		n := names[rng.IntN(len(names))]
		p := proc(n, "/usr/bin/"+n, "-i", procTree())
		var c *event.Container
		if rng.IntN(2) == 0 {
			c = ctr("0123456789ab")
		}
		fl := files[rng.IntN(len(files))]
		e := dupEvent(p, c, types[rng.IntN(len(types))], fl.family, fl.ftype, results[rng.IntN(len(results))])
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
				t.Fatalf("filter drops %s %+v res %d of %s that matches %q", e.Type, e.Dup, e.Res, n, m)
			}
		}
	}
	t.Logf("%d events matched a rule, %d dropped by the filter, all matches admitted; matches by rule: %v", matched, dropped, byRule)
	if dropped == 0 || len(byRule) != 5 {
		t.Errorf("the sample is too weak: %d dropped, matches by rule %v (want Falco's redirect rule and the four here)", dropped, byRule)
	}
}
