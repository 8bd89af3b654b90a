package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
)

// FuzzLoad feeds arbitrary rules files to the loader: it must never panic,
// and every error must say where it is.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(okRule))
	f.Add(Default().Data)
	if data, err := os.ReadFile(filepath.Join(falcorules.Dir(testutil.ModuleRoot(f)), falcorules.Stable)); err == nil {
		f.Add(data[:min(len(data), 6000)])
	}
	f.Add([]byte("- list: l\n  items: [a, l]\n- macro: m\n  condition: proc.name in (l) and m\n- rule: r\n  desc: d\n  condition: m\n  output: '%proc.name'\n  priority: INFO\n"))
	f.Add([]byte("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [in, pmatch]\n      values:\n        - [[a, b], (c, d)]\n"))
	f.Add([]byte("- rule: r\n  condition: x\n  override: {condition: append}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte(thresholdRule("{count: 1, window: 1s, by: [proc.name, 'proc.aname[2]']}") +
		"- rule: x\n  threshold: {count: 2, window: 1m}\n  override: {threshold: replace}\n"))
	f.Add([]byte(sequenceRule("    by: proc.tree\n    window: 1m\n    steps: [evt.type = openat, evt.type = execve, evt.type = connect]\n")))
	events := testEvents()
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, res, err := Load([]Source{{Name: "fuzz.yaml", Data: data}}, Options{MatchAll: true})
		if res == nil || len(res.Files) != 1 {
			t.Fatal("no result")
		}
		if err != nil {
			if res.OK() {
				t.Fatalf("error %v but the result is OK", err)
			}
			for _, m := range res.Errors() {
				if p := m.Pos(); p.Name != "fuzz.yaml" || p.Line < 1 || p.Column < 1 {
					t.Fatalf("error without a position: %s", m.String())
				}
			}
			return
		}
		for _, e := range events {
			rs.Match(e, func(r *Rule) {
				r.AppendOutput(nil, e)
				r.AppendOutputFields(nil, e)
				rs.AppendAggregateFields(nil, r)
			})
		}
	})
}
