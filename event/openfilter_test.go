package event

import "testing"

// A merged clause keeps a raw-path needle only when both need it: either
// alone would drop what the other admits.
func TestMergeOpenClausesNeedle(t *testing.T) {
	c := func(raw string, prefixes ...string) OpenClause {
		return OpenClause{Types: OpenAllTypes, Access: OpenAllAccess, Results: OpenAllResults, Prefixes: prefixes, RawContains: raw}
	}
	if m := MergeOpenClauses(c("../", "/etc/"), c("../", "/home/")); m.RawContains != "../" || len(m.Prefixes) != 2 {
		t.Errorf("same needle: %+v", m)
	}
	if m := MergeOpenClauses(c("../", "/etc/"), c("", "/home/")); m.RawContains != "" {
		t.Errorf("one needle: %+v", m)
	}
	// Reduce merges only clauses with the same needle first.
	f := (&OpenFilter{Clauses: []OpenClause{c("../", "/a/"), c("", "/b/"), c("../", "/c/"), c("x", "/d/")}}).Reduce(3)
	if len(f.Clauses) != 3 || f.Clauses[0].RawContains != "../" || len(f.Clauses[0].Prefixes) != 2 {
		t.Errorf("Reduce(3) = %+v", f.Clauses)
	}
}
