package event

import "testing"

// TestFilterAdmitsResults checks the result classes a clause admits: a
// failure, a result of 0 to LowResult (a dup onto a standard stream), and
// a greater one.
func TestFilterAdmitsResults(t *testing.T) {
	for _, tc := range []struct {
		results uint8
		res     int64
		want    bool
	}{
		{ResultLow, 0, true}, {ResultLow, LowResult, true}, {ResultLow, LowResult + 1, false}, {ResultLow, -9, false},
		{ResultHigh, LowResult + 1, true}, {ResultHigh, 1 << 40, true}, {ResultHigh, LowResult, false}, {ResultHigh, -1, false},
		{ResultSucceeded, 0, true}, {ResultSucceeded, 100, true}, {ResultSucceeded, -1, false},
		{ResultFailed, -1, true}, {ResultFailed, -4095, true}, {ResultFailed, 0, false}, {ResultFailed, 100, false},
		{ResultLow | ResultFailed, 1, true}, {ResultLow | ResultFailed, -9, true}, {ResultLow | ResultFailed, 100, false},
	} {
		f := &Filter{Clauses: []Clause{{Types: KindDup.Types(), Classes: ^uint64(0), Results: tc.results, AnyPath: true}}}
		e := &Event{Type: TypeDup2, Res: tc.res}
		if got := f.Admits(e); got != tc.want {
			t.Errorf("results %#b, result %d: admitted %v, want %v", tc.results, tc.res, got, tc.want)
		}
	}
}
