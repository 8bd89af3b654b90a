package output

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("output writer closed")

// ErrStalled is returned by Shutdown when the destination did not take the
// queued records in time (stdout blocked).
var ErrStalled = errors.New("output stalled")

// Default bounds of a Writer's queue.
const (
	// DefaultMaxQueueBytes bounds the bytes of queued records.
	DefaultMaxQueueBytes = 16 << 20
	// UrgentDepth is the queue of records submitted with SubmitUrgent.
	UrgentDepth = 64
	// maxPooled bounds the recycled buffers, and maxPooledCap the capacity
	// of one (a record built for a huge event is not kept).
	maxPooled    = 256
	maxPooledCap = 16 << 10
)

// Destination is where a Writer delivers records, from the Writer's own
// goroutine only: stdout, a file, an HTTP endpoint, a syslog collector, a
// program.
type Destination interface {
	// Write delivers one record, retrying as the destination's policy
	// says; an error means the record was not delivered. ctx ends when the
	// Writer gives up on the records still queued (a shutdown past its
	// deadline): retries and waits must stop then.
	Write(ctx context.Context, rec []byte) error
	// Flush delivers what Write buffered. The Writer calls it whenever its
	// queues run empty and before it stops.
	Flush(ctx context.Context) error
}

// WriterOptions bound a Writer's queue and say what a failed write means.
type WriterOptions struct {
	// Depth bounds the queued records, MaxBytes their bytes (at least one
	// record is always accepted).
	Depth, MaxBytes int
	// FailFast makes the first failed write final: the writer stops, Failed
	// is closed and Err returns the error, as for stdout closed by its
	// reader. Without it each failed record is counted (Stats.Failed) and
	// the writer goes on.
	FailFast bool
}

// Writer writes records to a Destination from its own goroutine, through a
// queue bounded both in records and in bytes. The producer never blocks:
// when the queue is full the record is dropped and counted. A second, small
// queue takes urgent records (the internal drop reports), which are written
// first and do not compete with events for room. With FailFast the first
// write error stops the writer; Failed is closed and Err returns it (for
// stdout closed by the reader, EPIPE: the caller exits with that error).
type Writer struct {
	dest     Destination
	failFast bool
	queue    chan []byte
	urgent   chan []byte
	free     chan []byte
	failed   chan struct{}
	done     chan struct{}
	maxBytes int64
	// ctx ends when Shutdown gives up on the queued records.
	ctx    context.Context
	cancel context.CancelFunc

	// mu orders Submit (read side) before Close (write side), so a record is
	// never sent on the closed queue.
	mu     sync.RWMutex
	closed bool
	err    atomic.Pointer[error]

	// busy is set while a record is with the destination; failing while
	// its latest delivery failed.
	busy, failing                     atomic.Bool
	written, dropped, failures, bytes atomic.Uint64
	queuedBytes                       atomic.Int64
	lastErr                           atomic.Pointer[error]
}

// NewWriter starts a writer to w holding at most depth queued records and
// DefaultMaxQueueBytes bytes.
func NewWriter(w io.Writer, depth int) *Writer {
	return NewWriterSize(w, depth, DefaultMaxQueueBytes)
}

// NewWriterSize starts a writer to w holding at most depth queued records
// and maxBytes bytes of them (at least one record is always accepted). It
// buffers its writes, flushing whenever the queue runs empty, and fails
// fast: for stdout, whose loss ends the run.
func NewWriterSize(w io.Writer, depth, maxBytes int) *Writer {
	return NewDestinationWriter(Stream(w), WriterOptions{Depth: depth, MaxBytes: maxBytes, FailFast: true})
}

// NewDestinationWriter starts a writer to d.
func NewDestinationWriter(d Destination, o WriterOptions) *Writer {
	depth := max(o.Depth, 1)
	ctx, cancel := context.WithCancel(context.Background())
	wr := &Writer{
		dest:     d,
		failFast: o.FailFast,
		queue:    make(chan []byte, depth),
		urgent:   make(chan []byte, UrgentDepth),
		free:     make(chan []byte, min(depth, maxPooled)),
		failed:   make(chan struct{}),
		done:     make(chan struct{}),
		maxBytes: int64(max(o.MaxBytes, 1)),
		ctx:      ctx,
		cancel:   cancel,
	}
	go wr.loop()
	return wr
}

// Stream is a Destination writing through a 64 KiB buffer to w.
func Stream(w io.Writer) Destination { return &stream{bufio.NewWriterSize(w, 64<<10)} }

type stream struct{ bw *bufio.Writer }

func (s *stream) Write(_ context.Context, rec []byte) error {
	_, err := s.bw.Write(rec)
	return err
}

func (s *stream) Flush(context.Context) error { return s.bw.Flush() }

// Buffer returns an empty buffer to encode one record into; pass it to
// Submit. Buffers are recycled, so steady output allocates nothing.
func (w *Writer) Buffer() []byte {
	select {
	case b := <-w.free:
		return b[:0]
	default:
		return make([]byte, 0, 1024)
	}
}

// Submit queues one encoded record (ending in a newline). It reports false
// when the record was dropped because the queue is full (in records or in
// bytes) or the writer failed or closed; drops are counted in Stats.
func (w *Writer) Submit(b []byte) bool {
	return w.submit(w.queue, b, true)
}

// SubmitFunc is Submit for a record that appendRecord encodes into one of
// the writer's buffers; it is called only when the queue has room, so a
// full queue costs no encoding.
func (w *Writer) SubmitFunc(appendRecord func([]byte) []byte) bool {
	if !w.Room() {
		w.dropped.Add(1)
		return false
	}
	return w.Submit(appendRecord(w.Buffer()))
}

// SubmitBulkFunc is SubmitFunc for a record that yields to the others
// (an event record of --events): it is let in only while the queue is under
// three quarters of its bounds, so that a flood of events leaves the last
// quarter to alerts instead of making them drop.
func (w *Writer) SubmitBulkFunc(appendRecord func([]byte) []byte) bool {
	if !w.bulkRoom() {
		w.dropped.Add(1)
		return false
	}
	return w.Submit(appendRecord(w.Buffer()))
}

// Room reports whether the queue has room for a record now.
func (w *Writer) Room() bool {
	return len(w.queue) < cap(w.queue) && w.queuedBytes.Load() < w.maxBytes
}

// bulkRoom reports whether the queue has room for a record of
// SubmitBulkFunc now.
func (w *Writer) bulkRoom() bool {
	return len(w.queue) < cap(w.queue)-cap(w.queue)/4 && w.queuedBytes.Load() < w.maxBytes-w.maxBytes/4
}

// SubmitUrgent queues a record ahead of those of Submit, in a queue of its
// own of UrgentDepth records that is not charged to the byte bound; it
// drops and counts like Submit when that queue is full.
func (w *Writer) SubmitUrgent(b []byte) bool {
	return w.submit(w.urgent, b, false)
}

func (w *Writer) submit(q chan []byte, b []byte, charge bool) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed || w.err.Load() != nil {
		w.dropped.Add(1)
		return false
	}
	n := int64(len(b))
	if charge {
		// The first record is always let in, however large, so that a
		// single huge record cannot wedge the queue.
		if total := w.queuedBytes.Add(n); total > w.maxBytes && total != n {
			w.queuedBytes.Add(-n)
			w.dropped.Add(1)
			w.recycle(b)
			return false
		}
	}
	select {
	case q <- b:
		return true
	default:
		if charge {
			w.queuedBytes.Add(-n)
		}
		w.dropped.Add(1)
		w.recycle(b)
		return false
	}
}

func (w *Writer) recycle(b []byte) {
	if cap(b) > maxPooledCap {
		return // do not keep a huge buffer for every later record
	}
	select {
	case w.free <- b:
	default:
	}
}

// next returns the next record, urgent ones first; ok is false once both
// queues are closed and empty.
func (w *Writer) next(queue, urgent *chan []byte) (b []byte, fromQueue, ok bool) {
	for *queue != nil || *urgent != nil {
		select {
		case b, ok := <-*urgent:
			if ok {
				return b, false, true
			}
			*urgent = nil
			continue
		default:
		}
		select {
		case b, ok := <-*urgent:
			if ok {
				return b, false, true
			}
			*urgent = nil
		case b, ok := <-*queue:
			if ok {
				return b, true, true
			}
			*queue = nil
		}
	}
	return nil, false, false
}

func (w *Writer) loop() {
	defer close(w.done)
	defer w.cancel()
	queue, urgent := w.queue, w.urgent
	for {
		b, fromQueue, ok := w.next(&queue, &urgent)
		if !ok {
			break
		}
		if fromQueue {
			w.queuedBytes.Add(-int64(len(b)))
		}
		if w.err.Load() != nil {
			w.dropped.Add(1)
			continue
		}
		w.busy.Store(true)
		err := w.dest.Write(w.ctx, b)
		w.busy.Store(false)
		w.failing.Store(err != nil)
		if err != nil {
			w.fail(err)
			continue
		}
		w.written.Add(1)
		w.bytes.Add(uint64(len(b)))
		w.recycle(b)
		if len(w.queue) == 0 && len(w.urgent) == 0 {
			if err := w.dest.Flush(w.ctx); err != nil {
				w.fail(err)
			}
		}
	}
	if w.err.Load() == nil {
		if err := w.dest.Flush(w.ctx); err != nil {
			w.fail(err)
		}
	}
	if c, ok := w.dest.(io.Closer); ok {
		if err := c.Close(); err != nil {
			w.lastErr.Store(&err)
		}
	}
}

// fail records a failed write: the end of a fail-fast writer, one failed
// record of another.
func (w *Writer) fail(err error) {
	w.lastErr.Store(&err)
	if !w.failFast {
		w.failures.Add(1)
		return
	}
	if w.err.CompareAndSwap(nil, &err) {
		close(w.failed)
	}
}

// Failing reports whether the latest delivery failed.
func (w *Writer) Failing() bool { return w.failing.Load() }

// LastErr returns the latest write error, or nil: for a writer that is not
// fail-fast, why records fail.
func (w *Writer) LastErr() error {
	if p := w.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Failed is closed when a write fails.
func (w *Writer) Failed() <-chan struct{} { return w.failed }

// Err returns the first write error, or nil.
func (w *Writer) Err() error {
	if p := w.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats are the writer's counters: records written, dropped (refused by the
// queue, or left when a fail-fast writer stopped) and failed (the
// destination did not take them), bytes written, and what is queued now
// (records and bytes of Submit's queue, plus urgent records).
type Stats struct {
	Written, Dropped, Failed, Bytes uint64
	Queued                          int
	QueuedBytes                     int64
}

// Stats returns the current counters.
func (w *Writer) Stats() Stats {
	return Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failures.Load(), Bytes: w.bytes.Load(),
		Queued: len(w.queue) + len(w.urgent), QueuedBytes: w.queuedBytes.Load()}
}

// Close writes what is queued, flushes and stops the writer. It returns the
// first write error. It is safe to call twice and concurrently with Submit.
func (w *Writer) Close() error {
	return w.Shutdown(context.Background())
}

// Shutdown is Close with a deadline: when ctx ends before the queued
// records are written (the destination blocks), it returns an error
// wrapping ErrStalled and saying how many records were left, and ends the
// context of the destination's writes, so that retries stop and the rest
// fail at once; a write blocked in the kernel (stdout) stays blocked.
func (w *Writer) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
		close(w.urgent)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return w.Err()
	default:
	}
	select {
	case <-w.done:
		return w.Err()
	case <-ctx.Done():
		left, busy := len(w.queue)+len(w.urgent), w.busy.Load()
		w.cancel()
		if busy {
			return fmt.Errorf("%d queued records not written, one still being delivered: %w", left, ErrStalled)
		}
		return fmt.Errorf("%d queued records not written: %w", left, ErrStalled)
	}
}
