package sink

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// fileDest appends records to a file, one write per record or batch, so a
// record is in the file as soon as it is delivered and a crash loses none
// that was.
type fileDest struct {
	path    string
	mu      sync.Mutex // guards f against Reopen
	f       *os.File
	reopens atomic.Uint64
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening output file: %w", err)
	}
	return f, nil
}

func newFileDest(path string) (*fileDest, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return &fileDest{path: path, f: f}, nil
}

func (d *fileDest) Write(_ context.Context, rec []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.f.Write(rec)
	return err
}

// WriteBatch appends many records in one write: each is in the file once
// the write returns, as with Write.
func (d *fileDest) WriteBatch(ctx context.Context, recs []byte) error { return d.Write(ctx, recs) }

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
