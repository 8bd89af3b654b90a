package output

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// flakyDest fails the records that contain "bad" and keeps the others;
// with hold set, every write waits for its context to end.
type flakyDest struct {
	got  []string
	hold bool
}

var errBad = errors.New("bad record")

func (d *flakyDest) Write(ctx context.Context, rec []byte) error {
	if d.hold {
		<-ctx.Done()
		return ctx.Err()
	}
	if strings.Contains(string(rec), "bad") {
		return errBad
	}
	d.got = append(d.got, string(rec))
	return nil
}

func (d *flakyDest) Flush(context.Context) error { return nil }

func TestWriterCountsFailedRecords(t *testing.T) {
	d := &flakyDest{}
	w := NewDestinationWriter(d, WriterOptions{Depth: 8, MaxBytes: 1 << 20})
	for _, r := range []string{"a\n", "bad\n", "b\n", "bad\n", "c\n"} {
		if !w.Submit(append(w.Buffer(), r...)) {
			t.Fatalf("record %q refused", r)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v; a writer that is not fail-fast never fails", err)
	}
	if st := w.Stats(); st.Written != 3 || st.Failed != 2 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 3 written and 2 failed", st)
	}
	if strings.Join(d.got, "") != "a\nb\nc\n" || !errors.Is(w.LastErr(), errBad) {
		t.Errorf("delivered %q, last error %v", d.got, w.LastErr())
	}
}

// A destination that waits (an HTTP server that never answers) is given up
// at the shutdown deadline: its writes' context ends and the queued records
// fail at once.
func TestWriterShutdownEndsDestinationWrites(t *testing.T) {
	w := NewDestinationWriter(&flakyDest{hold: true}, WriterOptions{Depth: 8, MaxBytes: 1 << 20})
	for range 4 {
		w.Submit(append(w.Buffer(), "x\n"...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Shutdown(ctx); !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "3 queued records not written, one still being delivered") {
		t.Fatalf("Shutdown = %v, want ErrStalled with 3 queued and one being delivered", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Failed != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("records still held after the shutdown deadline: %+v", w.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}
