package rules

import "testing"

// TestPartial checks which loaded rules are listed as partial: those that
// lose a branch to event types vigil does not trace.
func TestPartial(t *testing.T) {
	for _, tc := range []struct {
		cond, reason string
	}{
		{"evt.type in (open, kcmp) and proc.name = x", "branches on event types vigil does not trace never fire: kcmp"},
		{"(evt.type = openat and fd.name = /x) or (evt.type = kcmp and proc.name = y)", "branches on event types vigil does not trace never fire: kcmp"},
		{"evt.type != kcmp and evt.type = openat", ""},
		{"evt.type = openat and not evt.type = kcmp", ""},
		{"evt.type = openat", ""},
	} {
		_, res, err := loadOne(t, ruleFile(tc.cond), Options{})
		if err != nil {
			t.Errorf("%s: %v", tc.cond, err)
			continue
		}
		partial := res.Partial()
		if tc.reason == "" {
			if len(partial) != 0 {
				t.Errorf("%s: partial %+v", tc.cond, partial)
			}
			continue
		}
		if len(partial) != 1 || partial[0].Name != "t" || partial[0].Reason != tc.reason || len(res.Files[0].RulesLoaded) != 1 {
			t.Errorf("%s: partial %+v, want reason %q", tc.cond, partial, tc.reason)
		}
	}
}
