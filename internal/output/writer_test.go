package output

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockedWriter blocks every Write until release is closed.
type blockedWriter struct {
	entered chan struct{}
	release chan struct{}
	w       io.Writer
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.w.Write(p)
}

func TestWriterBoundsBytes(t *testing.T) {
	bw := &blockedWriter{entered: make(chan struct{}, 1), release: make(chan struct{}), w: io.Discard}
	w := NewWriterSize(bw, 1000, 10<<10)
	rec := func(n int) []byte { return append(append(w.Buffer(), strings.Repeat("x", n-1)...), '\n') }
	// The first record reaches the blocked writer (through its bufio
	// buffer, flushed once the queue is empty); wait until it does.
	w.Submit(rec(100))
	<-bw.entered
	accepted := 0
	for range 100 {
		if w.Submit(rec(1 << 10)) {
			accepted++
		}
	}
	if accepted != 10 {
		t.Errorf("accepted %d records of 1 KiB with a 10 KiB bound, want 10", accepted)
	}
	if st := w.Stats(); st.Dropped != 90 || st.QueuedBytes != 10<<10 {
		t.Errorf("stats %+v, want 90 dropped and 10 KiB queued", st)
	}
	close(bw.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Written != 11 || st.QueuedBytes != 0 || st.Queued != 0 {
		t.Errorf("after close: %+v, want 11 written and nothing queued", st)
	}
}

func TestWriterHugeRecordAlone(t *testing.T) {
	var out strings.Builder
	w := NewWriterSize(&out, 4, 1<<10)
	big := append(w.Buffer(), strings.Repeat("y", 64<<10)+"\n"...)
	if !w.Submit(big) {
		t.Fatal("a record larger than the byte bound must still pass through an empty queue")
	}
	if err := w.Close(); err != nil || out.Len() != 64<<10+1 {
		t.Fatalf("close: %v, wrote %d bytes", err, out.Len())
	}
}

func TestWriterUrgentFirst(t *testing.T) {
	var out strings.Builder
	bw := &blockedWriter{entered: make(chan struct{}, 1), release: make(chan struct{}), w: &out}
	w := NewWriter(bw, 8)
	w.Submit(append(w.Buffer(), "first\n"...))
	<-bw.entered
	// The writer blocks on "first": fill the queue, then an urgent record,
	// which must overtake the queued ones and not be dropped.
	for range 20 {
		w.Submit(append(w.Buffer(), "event\n"...))
	}
	if !w.SubmitUrgent(append(w.Buffer(), "urgent\n"...)) {
		t.Fatal("urgent record dropped while the normal queue was full")
	}
	close(bw.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "first\nurgent\n"+strings.Repeat("event\n", 8); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

func TestWriterShutdownStalled(t *testing.T) {
	bw := &blockedWriter{entered: make(chan struct{}, 1), release: make(chan struct{}), w: io.Discard}
	defer close(bw.release)
	w := NewWriter(bw, 16)
	w.Submit(append(w.Buffer(), "x\n"...))
	<-bw.entered
	for range 4 {
		w.Submit(append(w.Buffer(), "x\n"...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.Shutdown(ctx)
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "4 queued records") {
		t.Errorf("Shutdown = %v, want ErrStalled with 4 queued records", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with a 50ms deadline", d)
	}
	if w.Submit(append(w.Buffer(), "late\n"...)) {
		t.Error("Submit accepted a record after Shutdown")
	}
}

func TestWriterSubmitFuncSkipsEncodingWhenFull(t *testing.T) {
	bw := &blockedWriter{entered: make(chan struct{}, 1), release: make(chan struct{}), w: io.Discard}
	w := NewWriter(bw, 2)
	encoded := 0
	enc := func(b []byte) []byte { encoded++; return append(b, "x\n"...) }
	w.SubmitFunc(enc)
	<-bw.entered
	for range 10 {
		w.SubmitFunc(enc)
	}
	if encoded != 3 || w.Stats().Dropped != 8 {
		t.Errorf("encoded %d records and dropped %d with a queue of 2; want 3 and 8", encoded, w.Stats().Dropped)
	}
	close(bw.release)
	if err := w.Close(); err != nil || w.Stats().Written != 3 {
		t.Errorf("close: %v, written %d", err, w.Stats().Written)
	}
}

// TestWriterBulkLeavesRoomForAlerts floods a stalled writer with bulk
// records (events): they fill three quarters of the queue and no more, and
// the alerts submitted after them still fit in the quarter left.
func TestWriterBulkLeavesRoomForAlerts(t *testing.T) {
	bw := &blockedWriter{entered: make(chan struct{}, 1), release: make(chan struct{}), w: io.Discard}
	w := NewWriter(bw, 8)
	rec := func(s string) func([]byte) []byte { return func(b []byte) []byte { return append(b, s...) } }
	w.SubmitFunc(rec("first\n"))
	<-bw.entered
	events := 0
	for range 100 {
		if w.SubmitBulkFunc(rec("event\n")) {
			events++
		}
	}
	alerts := 0
	for range 3 {
		if w.SubmitFunc(rec("alert\n")) {
			alerts++
		}
	}
	if events != 6 || alerts != 2 {
		t.Errorf("a queue of 8 took %d events and %d alerts after them, want 6 and 2", events, alerts)
	}
	if st := w.Stats(); st.Dropped != 94+1 {
		t.Errorf("dropped %d, want the 94 events and 1 alert that found no room", st.Dropped)
	}
	close(bw.release)
	if err := w.Close(); err != nil || w.Stats().Written != 9 {
		t.Errorf("close: %v, written %d, want 9", err, w.Stats().Written)
	}
}

// gateWriter blocks every Write while its mutex is held.
type gateWriter struct{ mu sync.Mutex }

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.mu.Unlock()
	return len(p), nil
}

// TestWriterReusesChunks fills a writer's queue to its byte bound behind a
// blocked destination, drains it, and does it again: the later backlogs
// must be held in the chunks the first ones made, not in new ones the
// kernel faults in and Go collects, so that all the backlogs together never
// made more chunks than the writer keeps.
func TestWriterReusesChunks(t *testing.T) {
	g := &gateWriter{}
	w := NewWriterSize(g, 1<<20, 8<<20)
	rec := func(q []byte) []byte { return append(append(q, strings.Repeat("r", 3000)...), '\n') }
	made := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.chunksMade
	}
	for cycle := range 6 {
		g.mu.Lock()
		n := 0
		for w.SubmitFunc(rec) {
			n++
		}
		if n < 2000 {
			t.Fatalf("cycle %d: the queue took %d records of 3 KB, want the 8 MiB bound's worth", cycle, n)
		}
		g.mu.Unlock()
		deadline := time.Now().Add(10 * time.Second)
		for w.Stats().Queued > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("cycle %d: queue not drained: %+v", cycle, w.Stats())
			}
			time.Sleep(time.Millisecond)
		}
	}
	if m := made(); m > w.maxSpare {
		t.Errorf("6 backlogs of 8 MiB made %d chunks of %d KiB, the writer keeps %d: want no more than it keeps", m, chunkSize>>10, w.maxSpare)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
