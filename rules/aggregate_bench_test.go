package rules

import (
	"testing"

	"github.com/vigil-sensor/vigil/event"
	"golang.org/x/sys/unix"
)

// aggregateEvents are opens by a few processes in two containers and on
// the host: eight groups for a threshold by proc.name and fd.name.
func aggregateEvents() []*event.Event {
	bash := procTree()
	nginx := proc("nginx", "/usr/sbin/nginx", "", bash)
	var out []*event.Event
	for _, c := range []*event.Container{nil, ctr("0123456789ab")} {
		for _, p := range []*event.Process{bash, nginx} {
			for _, path := range []string{"/srv/www/index.html", "/srv/www/site.css"} {
				out = append(out, openEvent(p, c, path, unix.O_RDONLY, 3))
			}
		}
	}
	return out
}

// BenchmarkThreshold is the cost of a threshold on a rule that matches
// every event, once its groups exist (the count is never reached), against
// the same rule without one: ns and allocations per event.
func BenchmarkThreshold(b *testing.B) {
	const rule = "- rule: x\n  desc: d\n  condition: evt.type = openat and fd.name startswith /srv/\n  output: o %proc.name\n  priority: INFO\n"
	for _, bc := range []struct{ name, threshold string }{
		{"none", ""},
		{"by=none", "  threshold: {count: 1048576, window: 1h}\n"},
		{"by=proc.name", "  threshold: {count: 1048576, window: 1h, by: [proc.name]}\n"},
		{"by=proc.name,fd.name,container.id", "  threshold: {count: 1048576, window: 1h, by: [proc.name, fd.name, container.id]}\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rs := mustLoad(b, Options{}, rule+bc.threshold)
			events := aggregateEvents()
			for _, e := range events {
				rs.Match(e, nil)
			}
			fn := func(*Rule) {}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				rs.Match(events[i%len(events)], fn)
				i++
			}
		})
	}
}

// BenchmarkSequenceNoStart is the cost of a proc.tree sequence on events
// that continue no sequence and start none: the walk up the parent chain
// and the first step's condition.
func BenchmarkSequenceNoStart(b *testing.B) {
	rs := mustLoad(b, Options{}, sequenceRule("    by: proc.tree\n    window: 1m\n    steps:\n"+
		"      - evt.type = openat and evt.is_open_write = true and fd.name startswith /tmp/\n"+
		"      - evt.type = execve and proc.exepath startswith /tmp/\n"))
	events := aggregateEvents()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rs.Match(events[i%len(events)], nil)
		i++
	}
}

// TestSequenceNoStartAllocs holds a sequence rule's no-match path to zero
// allocations.
func TestSequenceNoStartAllocs(t *testing.T) {
	rs := mustLoad(t, Options{}, sequenceRule("    by: proc.tree\n    window: 1m\n    steps:\n"+
		"      - evt.type = openat and evt.is_open_write = true and fd.name startswith /tmp/\n"+
		"      - evt.type = execve and proc.exepath startswith /tmp/\n"))
	events := aggregateEvents()
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		rs.Match(events[i%len(events)], nil)
		i++
	}); n != 0 {
		t.Errorf("%v allocations per event", n)
	}
}
