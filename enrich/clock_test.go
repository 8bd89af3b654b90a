package enrich

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/containerdtest"
	"github.com/vigil-sensor/vigil/sensor"
)

// TestContainerFirstProcessDuration runs the sensor and the enricher side
// by side, as vigil run does, starts containers on a real containerd, and
// checks container.duration on every event of each container's first
// process (its task: runc's init, which execs the entrypoint) once the
// container is known. The sensor times events on the kernel's boot clock
// and the enricher times the container's start: both must read the same
// clock, and the start must be the task's own, not when containerd got
// round to saying so, or the entrypoint's exec lands before its container
// started.
func TestContainerFirstProcessDuration(t *testing.T) {
	d := containerd.Daemon(t)
	e, _ := startEnricher(t, Config{ContainerdSocket: d.Socket})

	var kinds [event.NumKinds]bool
	kinds[event.KindExec], kinds[event.KindFork] = true, true
	s, err := sensor.New(sensor.Config{Kinds: kinds, RingBufferSize: 16 << 20})
	if err != nil {
		t.Fatalf("starting sensor: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	var seen seenEvents
	seen.wake = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(ev *event.Event) {
			// As vigil's pipeline does: the lookup also queues cgroups
			// the enricher has not seen.
			e.Lookup(ev.CgroupID)
			seen.add(event.Event{Type: ev.Type, PID: ev.PID, TID: ev.TID, Time: ev.Time, CgroupID: ev.CgroupID})
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("sensor Run = %v", err)
		}
	})
	duration, ok := event.LookupField("container.duration")
	if !ok {
		t.Fatal("no container.duration field")
	}

	// Several containers: which of containerd's event and the enricher's own
	// fetch describes a container first is a race, and each path must give
	// the task's start.
	for i := range 4 {
		c := d.MustRun(t, containerdtest.ContainerSpec{})
		ctr := waitFor(t, e, c.CgroupID, "container known", known)
		if ctr.StartTime == 0 {
			t.Fatalf("container %d has no start time: %+v", i, ctr)
		}
		first := seen.firstProcess(t, c)
		for _, ev := range first {
			ev.Container = ctr
			got, ok := duration.Num(&ev, event.Arg{})
			if !ok || got < 0 {
				t.Errorf("container %d: %s of its first process at %v: container.duration = %d, %v (container start %v)",
					i, ev.Type, time.Unix(0, ev.Time).UTC(), got, ok, time.Unix(0, ctr.StartTime).UTC())
			} else {
				t.Logf("container %d: %s of its first process: container.duration = %v", i, ev.Type, time.Duration(got))
			}
		}
	}
}

// seenEvents keeps a copy of what the sensor delivered, for the test to
// wait on.
type seenEvents struct {
	mu     sync.Mutex
	events []event.Event
	wake   chan struct{} // closed and replaced on every add
}

func (s *seenEvents) add(ev event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	close(s.wake)
	s.wake = make(chan struct{})
}

// firstProcess waits until the sensor has delivered the exec of c's first
// process and returns every event of that process so far.
func (s *seenEvents) firstProcess(t *testing.T, c *containerdtest.Container) []event.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		var first []event.Event
		exec := false
		s.mu.Lock()
		for _, ev := range s.events {
			if ev.PID == uint32(c.PID) && ev.CgroupID == c.CgroupID {
				first = append(first, ev)
				exec = exec || ev.Type.Kind() == event.KindExec
			}
		}
		wake := s.wake
		s.mu.Unlock()
		if exec {
			return first
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("no exec of the first process (pid %d) of container %s within 10s; saw %d of its events", c.PID, c.ID, len(first))
		}
	}
}
