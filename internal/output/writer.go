package output

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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

// BatchDestination is a Destination that takes many records, concatenated,
// in one call: a byte stream (stdout, a file), where a record needs no
// framing of its own. The Writer hands it everything queued at once, so a
// busy stream costs one write(2) per batch, not one per record.
type BatchDestination interface {
	Destination
	// WriteBatch delivers the records in recs, which are whole records
	// back to back; an error means none of them may count as delivered.
	WriteBatch(ctx context.Context, recs []byte) error
}

// Writer writes records to a Destination from its own goroutine, through a
// queue bounded both in records and in bytes. The producer never blocks:
// when the queue is full the record is dropped and counted. A second, small
// queue takes urgent records (the internal drop reports), which are written
// first and do not compete with events for room. With FailFast the first
// write error stops the writer; Failed is closed and Err returns it (for
// stdout closed by the reader, EPIPE: the caller exits with that error).
//
// The queue is a batch: records are appended to it, under a mutex held for
// the append only, and the writer goroutine takes the whole batch whenever
// it is ready for more. It is woken only when a batch starts, so under
// load it is woken once per batch, not once per record, and a batch grows
// while the previous one is written.
type Writer struct {
	dest     Destination
	batchDst BatchDestination // dest, when it takes batches
	failFast bool
	free     chan []byte
	wake     chan struct{}
	failed   chan struct{}
	done     chan struct{}
	depth    int
	maxBytes int64
	// ctx ends when Shutdown gives up on the queued records.
	ctx    context.Context
	cancel context.CancelFunc

	// scratchMu guards scratch, the buffer submitFunc encodes into.
	scratchMu sync.Mutex
	scratch   []byte
	// mu guards the queued batches and closed.
	mu              sync.Mutex
	queue, urgent   batch
	spare           []*chunk
	maxSpare        int
	chunksMade      int // chunks allocated, for tests
	closed          bool
	queued, urgentN atomic.Int64 // records queued, for Stats and Room
	// pending counts the records the writer took and has not yet handed
	// to the destination.
	pending atomic.Int64
	err     atomic.Pointer[error]

	// busy is set while a record is with the destination; failing while
	// its latest delivery failed.
	busy, failing                     atomic.Bool
	written, dropped, failures, bytes atomic.Uint64
	queuedBytes                       atomic.Int64
	lastErr                           atomic.Pointer[error]
}

// batch is queued records, in chunks of whole records back to back, so
// that a growing batch never copies what it holds; n counts its records.
type batch struct {
	chunks []*chunk
	n      int
}

// chunk is records back to back in buf; ends[i] is where record i ends.
type chunk struct {
	buf  []byte
	ends []int
}

// Chunks are chunkSize bytes; a record starts a new chunk when the last
// has less than chunkReserve left (a record larger than that grows its
// chunk). The writer keeps emptied chunks for reuse, as many as its queue's
// byte bound can fill (spareChunks), at most maxSpareChunks: a chunk made
// afresh is memory the kernel must fault in and Go must zero and later
// collect, which under a sustained backlog cost more than the copy of the
// records into it.
const (
	chunkSize      = 256 << 10
	chunkReserve   = 32 << 10
	maxSpareChunks = 256
)

// spareChunks is how many emptied chunks a writer whose queue holds at most
// maxBytes keeps: every chunk but the last of a batch holds more than
// chunkSize-chunkReserve bytes, which the bound counts until the writer
// hands the chunk to the destination, so a full queue behind a stalled
// destination needs that many, and a few more: the last chunks of the queue
// and of the writer's batch, the one being written, and the delivered ones
// the writer returns with its next batch. The spares hold no more memory
// than the full queue did.
func spareChunks(maxBytes int64) int {
	return int(min(maxBytes/(chunkSize-chunkReserve)+4, maxSpareChunks))
}

// tail returns the chunk a record is appended to.
func (w *Writer) tail(b *batch) *chunk {
	if n := len(b.chunks); n > 0 {
		if c := b.chunks[n-1]; cap(c.buf)-len(c.buf) >= chunkReserve {
			return c
		}
	}
	var c *chunk
	if n := len(w.spare); n > 0 {
		c, w.spare = w.spare[n-1], w.spare[:n-1]
	} else {
		c = &chunk{buf: make([]byte, 0, chunkSize)}
		w.chunksMade++
	}
	b.chunks = append(b.chunks, c)
	return c
}

// releaseLocked returns the chunks of b, delivered, to the writer's spares
// and empties b. w.mu is held.
func (w *Writer) releaseLocked(b *batch) {
	for _, c := range b.chunks {
		if cap(c.buf) == chunkSize && len(w.spare) < w.maxSpare {
			c.buf, c.ends = c.buf[:0], c.ends[:0]
			w.spare = append(w.spare, c)
		}
	}
	clear(b.chunks)
	b.chunks, b.n = b.chunks[:0], 0
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
		free:     make(chan []byte, min(depth, maxPooled)),
		wake:     make(chan struct{}, 1),
		failed:   make(chan struct{}),
		done:     make(chan struct{}),
		depth:    depth,
		maxBytes: int64(max(o.MaxBytes, 1)),
		maxSpare: spareChunks(int64(max(o.MaxBytes, 1))),
		ctx:      ctx,
		cancel:   cancel,
	}
	wr.batchDst, _ = d.(BatchDestination)
	go wr.loop()
	return wr
}

// Stream is a Destination writing to w: each batch of records in one
// write, single records through a 64 KiB buffer.
func Stream(w io.Writer) Destination { return StreamDropBehind(w, nil) }

// StreamDropBehind is Stream, writing batches with RWF_DONTCACHE when w is
// a regular file (DropBehind); off, if not nil, is told once if the kernel
// refuses the flag.
func StreamDropBehind(w io.Writer, off func(error)) Destination {
	s := &stream{w: w, bw: bufio.NewWriterSize(w, 64<<10)}
	if f, ok := w.(*os.File); ok {
		s.db = NewDropBehind(f, off)
	}
	return s
}

type stream struct {
	w  io.Writer
	bw *bufio.Writer
	db *DropBehind
}

// DropBehind reports whether the stream's batches leave the page cache
// behind them (DropBehind.Active).
func (s *stream) DropBehind() bool { return s.db.Active() }

func (s *stream) Write(_ context.Context, rec []byte) error {
	_, err := s.bw.Write(rec)
	return err
}

// WriteBatch writes recs straight to the stream: a batch is already as
// large as a buffer would make it, and copying it there would cost a copy
// of every byte.
func (s *stream) WriteBatch(_ context.Context, recs []byte) error {
	if s.bw.Buffered() > 0 {
		if err := s.bw.Flush(); err != nil {
			return err
		}
	}
	if done, err := s.db.Write(recs); done {
		return err
	}
	_, err := s.w.Write(recs)
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
// bytes) or the writer failed or closed; drops are counted in Stats. b is
// copied; the writer takes it back for Buffer.
func (w *Writer) Submit(b []byte) bool {
	ok := false
	if w.queued.Load() < int64(w.depth) && w.queuedBytes.Load() < w.maxBytes {
		ok = w.queueRecord(b, w.depth, w.maxBytes)
	} else {
		w.dropped.Add(1)
	}
	w.recycle(b)
	return ok
}

// SubmitFunc is Submit for a record that appendRecord appends to the buffer
// it is given (it must append exactly one record, and may keep nothing of
// the buffer); it is called only when the queue has room, so a full queue
// costs no encoding.
func (w *Writer) SubmitFunc(appendRecord func([]byte) []byte) bool {
	return w.submitFunc(appendRecord, w.depth, w.maxBytes)
}

// submitFunc queues the record appendRecord appends while the queue holds
// fewer than depth records and maxBytes bytes. The record is encoded into a
// scratch buffer of the caller's before the lock is taken and copied into
// the queue under it: the writer goroutine takes the lock for every batch,
// and with a fast destination (a pipe, /dev/null) it would otherwise wait
// on (and the producer wake it from) the whole encoding of a record.
func (w *Writer) submitFunc(appendRecord func([]byte) []byte, depth int, maxBytes int64) bool {
	if w.queued.Load() >= int64(depth) || w.queuedBytes.Load() >= maxBytes {
		// A full queue (a stalled sink) costs no lock and no encoding.
		w.dropped.Add(1)
		return false
	}
	// Producers take turns on one scratch buffer (one goroutine, the
	// sensor's, submits nearly all records); the writer goroutine never
	// takes scratchMu.
	w.scratchMu.Lock()
	rec := appendRecord(w.scratch[:0])
	ok := w.queueRecord(rec, depth, maxBytes)
	if cap(rec) <= maxPooledCap {
		w.scratch = rec[:0]
	}
	w.scratchMu.Unlock()
	return ok
}

// queueRecord copies rec into the queue, as submitFunc says.
func (w *Writer) queueRecord(rec []byte, depth int, maxBytes int64) bool {
	n := int64(len(rec))
	w.mu.Lock()
	q := &w.queue
	// The first record is always let in, however large, so that a single
	// huge record cannot wedge the queue.
	if w.closed || w.err.Load() != nil || q.n >= depth || w.queuedBytes.Load() >= maxBytes ||
		(w.queuedBytes.Load()+n > maxBytes && q.n > 0) {
		w.mu.Unlock()
		w.dropped.Add(1)
		return false
	}
	c := w.tail(q)
	c.buf = append(c.buf, rec...)
	c.ends = append(c.ends, len(c.buf))
	q.n++
	first := q.n == 1
	w.queuedBytes.Add(n)
	w.queued.Add(1)
	w.mu.Unlock()
	if first {
		w.signal()
	}
	return true
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// SubmitBulkFunc is SubmitFunc for a record that yields to the others
// (an event record of --events): it is let in only while the queue is under
// three quarters of its bounds, so that a flood of events leaves the last
// quarter to alerts instead of making them drop.
func (w *Writer) SubmitBulkFunc(appendRecord func([]byte) []byte) bool {
	return w.submitFunc(appendRecord, max(w.depth-w.depth/4, 1), max(w.maxBytes-w.maxBytes/4, 1))
}

// Room reports whether the queue has room for a record now.
func (w *Writer) Room() bool {
	return w.queued.Load() < int64(w.depth) && w.queuedBytes.Load() < w.maxBytes
}

// SubmitUrgent queues a record ahead of those of Submit, in a queue of its
// own of UrgentDepth records that is not charged to the byte bound; it
// drops and counts like Submit when that queue is full.
func (w *Writer) SubmitUrgent(b []byte) bool {
	w.mu.Lock()
	u := &w.urgent
	if w.closed || w.err.Load() != nil || u.n >= UrgentDepth {
		w.mu.Unlock()
		w.dropped.Add(1)
		w.recycle(b)
		return false
	}
	c := w.tail(u)
	c.buf = append(c.buf, b...)
	c.ends = append(c.ends, len(c.buf))
	u.n++
	w.urgentN.Add(1)
	w.mu.Unlock()
	w.recycle(b)
	w.signal()
	return true
}

func (w *Writer) recycle(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledCap {
		return // do not keep a huge buffer for every later record
	}
	select {
	case w.free <- b[:0]:
	default:
	}
}

func (w *Writer) loop() {
	defer close(w.done)
	defer w.cancel()
	var queue, urgent batch
	for {
		// One lock a round: the chunks delivered last round go back to
		// the spares as the next batch is taken.
		w.mu.Lock()
		w.releaseLocked(&urgent)
		w.releaseLocked(&queue)
		queue, w.queue = w.queue, queue
		urgent, w.urgent = w.urgent, urgent
		closed := w.closed
		w.mu.Unlock()
		w.pending.Add(int64(queue.n + urgent.n))
		w.queued.Add(-int64(queue.n))
		w.urgentN.Add(-int64(urgent.n))
		if queue.n == 0 && urgent.n == 0 {
			if closed {
				break
			}
			if w.err.Load() == nil {
				if err := w.dest.Flush(w.ctx); err != nil {
					w.fail(err)
				}
			}
			<-w.wake
			continue
		}
		w.deliver(&urgent, false)
		w.deliver(&queue, true)
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

// deliver writes the records of b, chunk by chunk: in one call per chunk
// to a BatchDestination, else one by one. charged says b's bytes count
// against the queue's byte bound until their chunk is handed to the
// destination, so that the bound covers the batch the writer holds too.
func (w *Writer) deliver(b *batch, charged bool) {
	for _, c := range b.chunks {
		if charged {
			w.queuedBytes.Add(-int64(len(c.buf)))
		}
		w.deliverChunk(c)
	}
}

func (w *Writer) deliverChunk(c *chunk) {
	n := len(c.ends)
	if n == 0 {
		return
	}
	if w.err.Load() != nil {
		w.pending.Add(-int64(n))
		w.dropped.Add(uint64(n))
		return
	}
	if w.batchDst != nil {
		w.pending.Add(-int64(n))
		w.busy.Store(true)
		err := w.batchDst.WriteBatch(w.ctx, c.buf)
		w.busy.Store(false)
		w.failing.Store(err != nil)
		if err != nil {
			if w.failFast {
				w.dropped.Add(uint64(n))
			}
			w.failN(err, n)
			return
		}
		w.written.Add(uint64(n))
		w.bytes.Add(uint64(len(c.buf)))
		return
	}
	start := 0
	for _, end := range c.ends {
		rec := c.buf[start:end]
		start = end
		w.pending.Add(-1)
		if w.err.Load() != nil {
			w.dropped.Add(1)
			continue
		}
		w.busy.Store(true)
		err := w.dest.Write(w.ctx, rec)
		w.busy.Store(false)
		w.failing.Store(err != nil)
		if err != nil {
			w.fail(err)
			continue
		}
		w.written.Add(1)
		w.bytes.Add(uint64(len(rec)))
	}
}

// failN records the failed write of n records at once.
func (w *Writer) failN(err error, n int) {
	w.fail(err)
	if !w.failFast {
		w.failures.Add(uint64(n - 1))
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
		Queued: int(w.queued.Load() + w.urgentN.Load() + w.pending.Load()), QueuedBytes: w.queuedBytes.Load()}
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
	w.closed = true
	w.mu.Unlock()
	w.signal()
	select {
	case <-w.done:
		return w.Err()
	default:
	}
	select {
	case <-w.done:
		return w.Err()
	case <-ctx.Done():
		left, busy := w.queued.Load()+w.urgentN.Load()+w.pending.Load(), w.busy.Load()
		w.cancel()
		if busy {
			return fmt.Errorf("%d queued records not written, one still being delivered: %w", left, ErrStalled)
		}
		return fmt.Errorf("%d queued records not written: %w", left, ErrStalled)
	}
}
