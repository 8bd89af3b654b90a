package rules

import (
	"slices"
	"testing"

	"github.com/vigil-sensor/vigil/event"
)

func TestUnbounded(t *testing.T) {
	types := event.TypeSetOf
	for _, tc := range []struct {
		cond string
		kind event.Kind
		want event.TypeSet
	}{
		// A process check bounds nothing the kernel judges.
		{"evt.type = openat and proc.name = cat", event.KindOpen, types(event.TypeOpenat)},
		{"evt.type = openat and fd.name startswith /etc/", event.KindOpen, types()},
		{"evt.type = openat and evt.is_open_write = true", event.KindOpen, types()},
		{"evt.type = openat and evt.failed = false", event.KindOpen, types()},
		// One branch bounded, the other not.
		{"(evt.type = openat and fd.name startswith /etc/) or (evt.type = open and proc.name = cat)", event.KindOpen, types(event.TypeOpen)},
		{"evt.type = chmod and evt.arg.mode contains S_ISUID", event.KindFS, types()},
		{"evt.type in (unlinkat, renameat) and proc.name = rm", event.KindFS, types(event.TypeUnlinkat, event.TypeRenameat)},
		{"evt.type = dup2 and fd.typechar = 4", event.KindDup, types()},
		// Connects are not filtered in the kernel: every one flows.
		{"evt.type = connect and fd.sport = 22", event.KindConnect, types(event.TypeConnect)},
		// The rule does not apply to the kind.
		{"evt.type = openat and proc.name = cat", event.KindConnect, types()},
	} {
		rs := mustLoad(t, Options{}, ruleFile(tc.cond))
		r := rs.Rule("t")
		if got := r.Unbounded(tc.kind); got != tc.want {
			t.Errorf("%q on %s: unbounded %v, want %v", tc.cond, tc.kind, got.Types(), tc.want.Types())
		}
		if got, want := r.AppliesTo(tc.kind), !r.types.Intersect(tc.kind.Types()).Empty(); got != want {
			t.Errorf("%q: AppliesTo(%s) = %v, want %v", tc.cond, tc.kind, got, want)
		}
	}
}

func TestAnyPath(t *testing.T) {
	types := event.TypeSetOf
	for _, tc := range []struct {
		cond   string
		kind   event.Kind
		want   event.TypeSet
		bounds bool
	}{
		{"evt.type = openat and evt.is_open_read = true and proc.name = cat", event.KindOpen, types(event.TypeOpenat), false},
		{"evt.type = openat and fd.name startswith /etc/", event.KindOpen, types(), true},
		{"evt.type = openat and fd.nameraw contains ../", event.KindOpen, types(), true},
		{"(evt.type = openat and fd.name startswith /etc/) or (evt.type = open and evt.failed = true)", event.KindOpen, types(event.TypeOpen), true},
		// No path in the kernel: any path, and no path bound.
		{"evt.type = chmod and evt.arg.mode contains S_ISUID", event.KindFS, types(event.TypeChmod), false},
		{"evt.type = openat and proc.name = cat", event.KindFS, types(), false},
	} {
		r := mustLoad(t, Options{}, ruleFile(tc.cond)).Rule("t")
		if got := r.AnyPath(tc.kind); got != tc.want {
			t.Errorf("%q on %s: any path %v, want %v", tc.cond, tc.kind, got.Types(), tc.want.Types())
		}
		if got := r.BoundsPaths(tc.kind); got != tc.bounds {
			t.Errorf("%q on %s: BoundsPaths = %v, want %v", tc.cond, tc.kind, got, tc.bounds)
		}
	}
}

func TestKernelFiltered(t *testing.T) {
	var got []event.Kind
	for k := range event.Kind(event.NumKinds) {
		if KernelFiltered(k) {
			got = append(got, k)
		}
	}
	// The kinds with a filterKind; exec, fork, exit, connect and cred flow
	// whole.
	for _, k := range []event.Kind{event.KindExec, event.KindFork, event.KindExit, event.KindConnect, event.KindCred} {
		if slices.Contains(got, k) {
			t.Errorf("KernelFiltered(%s) = true", k)
		}
	}
	for _, k := range []event.Kind{event.KindOpen, event.KindFS, event.KindSocket, event.KindDup, event.KindPriv} {
		if !slices.Contains(got, k) {
			t.Errorf("KernelFiltered(%s) = false", k)
		}
	}
}
