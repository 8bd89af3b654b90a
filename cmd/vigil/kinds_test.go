package main

import (
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/falcorules"
	"github.com/vigil-sensor/vigil/internal/testutil"
	"github.com/vigil-sensor/vigil/rules"
)

// TestKindsFor checks that a kind stays off when its rules' filter admits
// nothing: Falco's stable file names sendto and sendmsg only in a branch
// its one rule on them excludes (fd.l4proto != tcp and fd.l4proto=tcp),
// while the sandbox's outbound rules need them.
func TestKindsFor(t *testing.T) {
	load := func(enable []string, files ...string) *rules.Ruleset {
		var srcs []rules.Source
		for _, f := range files {
			srcs = append(srcs, rules.Source{Name: f, Data: testutil.FalcoRules(t, f)})
		}
		rs, _, err := rules.Load(srcs, rules.Options{Enable: enable})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	stable := kindsFor(load(nil, falcorules.Stable), false)
	if stable[event.KindSendRecv] || !stable[event.KindConnect] || !stable[event.KindOpen] {
		t.Errorf("stable file: kinds %v, want connect and open on, sendrecv off", stable)
	}
	all := kindsFor(load([]string{"Interpreted procs outbound network activity"}, falcorules.Files...), false)
	if !all[event.KindSendRecv] {
		t.Errorf("with the interpreted outbound rule: sendrecv off")
	}
	if every := kindsFor(load(nil, falcorules.Stable), true); !every[event.KindSendRecv] {
		t.Errorf("--events: sendrecv off")
	}
}
