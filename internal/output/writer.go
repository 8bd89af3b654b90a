package output

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("output writer closed")

// Writer writes records to an io.Writer from its own goroutine, through a
// queue of at most Depth records. The producer never blocks: when the queue
// is full the record is dropped and counted. The first write error stops
// the writer; Failed is closed and Err returns it (for stdout closed by the
// reader, EPIPE: the caller exits with that error).
type Writer struct {
	queue  chan []byte
	free   chan []byte
	failed chan struct{}
	done   chan struct{}

	// mu orders Submit (read side) before Close (write side), so a record is
	// never sent on the closed queue.
	mu     sync.RWMutex
	closed bool
	err    atomic.Pointer[error]

	written, dropped, bytes atomic.Uint64
}

// NewWriter starts a writer to w holding at most depth queued records.
func NewWriter(w io.Writer, depth int) *Writer {
	if depth < 1 {
		depth = 1
	}
	wr := &Writer{
		queue:  make(chan []byte, depth),
		free:   make(chan []byte, depth),
		failed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go wr.loop(bufio.NewWriterSize(w, 64<<10))
	return wr
}

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
// when the record was dropped because the queue is full or the writer
// failed or closed; drops are counted in Stats.
func (w *Writer) Submit(b []byte) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed || w.err.Load() != nil {
		w.dropped.Add(1)
		return false
	}
	select {
	case w.queue <- b:
		return true
	default:
		w.dropped.Add(1)
		w.recycle(b)
		return false
	}
}

func (w *Writer) recycle(b []byte) {
	if cap(b) > 256<<10 {
		return // do not keep a huge buffer for every later record
	}
	select {
	case w.free <- b:
	default:
	}
}

func (w *Writer) loop(bw *bufio.Writer) {
	defer close(w.done)
	for b := range w.queue {
		if w.err.Load() != nil {
			w.dropped.Add(1)
			continue
		}
		if _, err := bw.Write(b); err != nil {
			w.fail(err)
			continue
		}
		w.written.Add(1)
		w.bytes.Add(uint64(len(b)))
		w.recycle(b)
		if len(w.queue) == 0 {
			if err := bw.Flush(); err != nil {
				w.fail(err)
			}
		}
	}
	if w.err.Load() == nil {
		if err := bw.Flush(); err != nil {
			w.fail(err)
		}
	}
}

func (w *Writer) fail(err error) {
	if w.err.CompareAndSwap(nil, &err) {
		close(w.failed)
	}
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

// Stats are the writer's counters.
type Stats struct {
	Written, Dropped, Bytes uint64
	Queued                  int
}

// Stats returns the current counters.
func (w *Writer) Stats() Stats {
	return Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Bytes: w.bytes.Load(), Queued: len(w.queue)}
}

// Close writes what is queued, flushes and stops the writer. It returns the
// first write error. It is safe to call twice and concurrently with Submit.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.done
	return w.Err()
}
