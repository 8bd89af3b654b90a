package rules

import (
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// fsEvent makes a file-system change of type typ whose paths are raw1 and
// raw2 as the caller passed them, joined to cwd as the sensor does (a
// symlink's target is kept as it is).
func fsEvent(p *event.Process, c *event.Container, typ event.Type, raw1, raw2, cwd string, mode uint32, res int64) *event.Event {
	e := &event.Event{Type: typ, Num: 4, Time: 1_700_000_000_123_456_789, PID: p.PID, TID: p.PID, Proc: p, Container: c, Res: res}
	join := func(raw string) []byte {
		if raw == "" {
			return nil
		}
		if !strings.HasPrefix(raw, "/") {
			raw = cwd + "/" + raw
		}
		return []byte(path.Clean(raw))
	}
	e.FS.Raw1, e.FS.Raw2 = []byte(raw1), []byte(raw2)
	e.FS.Path1, e.FS.Path2 = join(raw1), join(raw2)
	if typ == event.TypeSymlink || typ == event.TypeSymlinkat {
		e.FS.Path1 = []byte(raw1)
	}
	e.FS.FD1, e.FS.FD2, e.FS.Mode = -100, -100, mode
	return e
}

// TestFSFilterSound is TestOpenFilterSound for the fs kind: no change that
// an active rule matches is left in the kernel, with vigil's default rules
// and with Falco's three files. Paths are drawn from the rules' words,
// passed absolute, relative, through ".." or with empty components, and on
// either side of a two-path call.
func TestFSFilterSound(t *testing.T) {
	falco := func(t testing.TB) []Source {
		var srcs []Source
		for _, f := range falcorules.Files {
			srcs = append(srcs, Source{Name: f, Data: testutil.FalcoRules(t, f)})
		}
		return srcs
	}
	for name, sources := range map[string]func(testing.TB) []Source{
		"vigil": func(testing.TB) []Source { return []Source{Default()} },
		"falco": falco,
		"both":  func(t testing.TB) []Source { return append(falco(t), Default()) },
	} {
		t.Run(name, func(t *testing.T) {
			srcs := sources(t)
			rs, _, err := Load(srcs, Options{MatchAll: true})
			if err != nil {
				t.Fatal(err)
			}
			f := rs.Filters()[event.KindFS]
			// What the kernel holds: at most 32 clauses (sensor.SetFilter).
			reduced := f.Reduce(32)
			t.Logf("%d clauses, %d once reduced", len(f.Clauses), len(reduced.Clauses))
			var words []string
			for _, src := range srcs {
				words = append(words, ruleWords(src.Data)...)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			pick := func() string { return words[rng.IntN(len(words))] }
			drawPath := func() string {
				var p string
				switch rng.IntN(5) {
				case 0:
					p = pick()
				case 1:
					p = pick() + "/" + pick()
				case 2:
					p = "/" + strings.TrimLeft(pick(), "/") + "/" + pick()
				case 3:
					p = "/tmp/" + pick() + "/" + pick()
				default:
					w := pick()
					p = w[:rng.IntN(len(w)+1)]
				}
				switch rng.IntN(6) {
				case 0:
					p = strings.TrimLeft(p, "/")
				case 1:
					p = "../" + strings.TrimLeft(p, "/")
				case 2:
					p = pick() + "/../" + p
				case 3:
					p = strings.ReplaceAll(p, "/", "//")
				}
				return p
			}
			types := event.KindFS.Types().Types()
			modes := []uint32{0, 0o644, 0o755, 0o4755, 0o2711, 0o6777, 0o1777}
			cwds := []string{"/root", "/tmp", "/usr/bin", "/etc", "/home/alice"}
			matched, dropped := 0, 0
			byRule := map[string]int{}
			for range 200000 {
				typ := types[rng.IntN(len(types))]
				raw1, raw2 := drawPath(), ""
				switch typ {
				case event.TypeSymlink, event.TypeSymlinkat, event.TypeLink, event.TypeLinkat,
					event.TypeRename, event.TypeRenameat, event.TypeRenameat2:
					raw2 = drawPath()
				case event.TypeFchmod:
					raw1 = ""
				}
				res := int64(0)
				if rng.IntN(5) == 0 {
					res = -2
				}
				parent := procTree()
				if rng.IntN(2) == 0 {
					parent = proc(pick(), "/usr/bin/"+pick(), pick(), parent)
				}
				p := proc(pick(), "/usr/bin/"+pick(), pick(), parent)
				var c *event.Container
				if rng.IntN(2) == 0 {
					c = ctr("0123456789ab")
				}
				e := fsEvent(p, c, typ, raw1, raw2, cwds[rng.IntN(len(cwds))], modes[rng.IntN(len(modes))], res)
				if typ == event.TypeFchmod {
					// fchmod's path is its fd's file.
					e.FS.Path1 = []byte("/" + strings.TrimLeft(drawPath(), "/"))
				}
				admitted := f.Admits(e)
				if admitted && !reduced.Admits(e) {
					t.Fatalf("the reduced filter drops %s %q -> %q that the full one admits", e.Type, e.FS.Raw1, e.FS.Raw2)
				}
				if !admitted {
					dropped++
				}
				if m := matches(rs, e); len(m) > 0 {
					matched++
					for _, r := range m {
						byRule[r]++
					}
					if !admitted {
						t.Fatalf("filter drops %s %q -> %q (raw %q, %q, mode %#o, res %d) that matches %q",
							e.Type, e.FS.Path1, e.FS.Path2, e.FS.Raw1, e.FS.Raw2, e.FS.Mode, e.Res, m)
					}
				}
			}
			t.Logf("%d events matched a rule, %d dropped by the filter, all matches admitted; matches by rule: %v", matched, dropped, byRule)
			if dropped == 0 || (name != "vigil" && matched == 0) {
				t.Errorf("the sample is too weak: %d matched, %d dropped", matched, dropped)
			}
		})
	}
}

// TestFSClauses checks the fs kind's clauses of a few conditions: which
// path each bound judges, on which types, and how bounds on one path, or
// on two, meet.
func TestFSClauses(t *testing.T) {
	renames := event.TypeSetOf(event.TypeRename, event.TypeRenameat, event.TypeRenameat2)
	for _, tc := range []struct {
		cond string
		want []event.Clause
	}{
		{"evt.arg.path startswith /bin/", []event.Clause{{
			Types: event.TypeSetOf(event.TypeUnlink, event.TypeRmdir, event.TypeMkdir, event.TypeMkdirat),
			Paths: event.FSPath1, Prefixes: []string{"/bin/"}}}},
		{"evt.type = rename and evt.arg.newpath endswith _history", []event.Clause{{
			Types: event.TypeSetOf(event.TypeRename), Paths: event.FSPath2, Suffixes: []string{"_history"}}}},
		// Two paths: either bound alone; the smaller is kept.
		{"evt.arg.oldpath in (/a, /b) and evt.arg.newpath startswith /c", []event.Clause{{
			Types: renames.Union(event.TypeSetOf(event.TypeLink, event.TypeLinkat)), Paths: event.FSPath2, Prefixes: []string{"/c"}}}},
		// One path: the bounds meet, and the needle stays.
		{"evt.arg.name startswith /root and evt.arg.name startswith /root/.x and evt.arg.name contains hist", []event.Clause{{
			Types: event.TypeSetOf(event.TypeUnlinkat), Paths: event.FSPath1, Prefixes: []string{"/root/.x"}, Contains: "hist"}}},
		// Negated, or on a field that is not the kind's path: no bound.
		{"evt.type = unlink and not evt.arg.path startswith /tmp", []event.Clause{{
			Types: event.TypeSetOf(event.TypeUnlink), AnyPath: true}}},
		{"evt.type = unlink and fd.name startswith /tmp", []event.Clause{{
			Types: event.TypeSetOf(event.TypeUnlink), AnyPath: true}}},
	} {
		rs, _, err := loadOne(t, ruleFile(tc.cond), Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		got := rs.Filters()[event.KindFS].Clauses
		ok := len(got) == len(tc.want)
		for i := 0; ok && i < len(got); i++ {
			w := tc.want[i]
			w.Classes, w.Results = 1<<8-1, event.AllResults
			ok = got[i].Equal(w)
		}
		if !ok {
			t.Errorf("%s: clauses %+v, want %+v", tc.cond, got, tc.want)
		}
	}
}
