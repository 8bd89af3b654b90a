package main

import (
	"log/slog"
	"testing"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

// TestProbeOps issues the harness's own operation of every loop but exec
// (which needs busybox and is covered by the smoke test): what a tool must
// report to show it attached and caught up.
func TestProbeOps(t *testing.T) {
	h := &harness{log: slog.New(slog.DiscardHandler), dir: t.TempDir()}
	for _, l := range loadgen.Loops() {
		if l == loadgen.LoopExec {
			continue
		}
		op, done, err := h.probeOp(l)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		for range 2 {
			if err := op(); err != nil {
				t.Errorf("%s: %v", l, err)
			}
		}
		done()
	}
}
