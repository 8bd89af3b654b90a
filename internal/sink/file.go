package sink

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/vigil-sensor/vigil/internal/output"
)

// fileDest appends records to a file, one write per record or batch, so a
// record is in the file as soon as it is delivered and a crash loses none
// that was.
type fileDest struct {
	path    string
	mu      sync.Mutex // guards f and db against Reopen
	f       *os.File
	db      *output.DropBehind // batches leave the page cache behind them
	off     func(error)
	reopens atomic.Uint64
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening output file: %w", err)
	}
	return f, nil
}

// newFileDest opens path; off is told once if the kernel refuses
// RWF_DONTCACHE for its batches (output.DropBehind).
func newFileDest(path string, off func(error)) (*fileDest, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return &fileDest{path: path, f: f, db: output.NewDropBehind(f, off), off: off}, nil
}

func (d *fileDest) Write(_ context.Context, rec []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.f.Write(rec)
	return err
}

// WriteBatch appends many records in one write, leaving the page cache
// behind it where the kernel can (output.DropBehind): each is in the file
// once the write returns, as with Write.
func (d *fileDest) WriteBatch(_ context.Context, recs []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if done, err := d.db.Write(recs); done {
		return err
	}
	_, err := d.f.Write(recs)
	return err
}

func (d *fileDest) Flush(context.Context) error { return nil }

// Reopen opens the path again and writes there from now on: after
// logrotate renamed the file, a new one is created. When the path cannot be
// opened the old file stays in use.
func (d *fileDest) Reopen() error {
	f, err := openFile(d.path)
	if err != nil {
		return err
	}
	d.mu.Lock()
	old := d.f
	d.f = f
	if d.db.Active() {
		// A refusal holds for the kernel and file system: a new file
		// there is written normally too, without asking again.
		d.db = output.NewDropBehind(f, d.off)
	}
	d.mu.Unlock()
	d.reopens.Add(1)
	return old.Close()
}

func (d *fileDest) Restarts() uint64 { return d.reopens.Load() }

func (d *fileDest) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.f.Close()
}
