package procfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// ErrTooLarge is returned for a file longer than its parser accepts.
var ErrTooLarge = errors.New("file too large")

// readCapped reads the whole of a /proc file of at most max bytes. Files in
// /proc report no size, so it reads until EOF, one byte past max at most.
func readCapped(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("reading %s: %w (over %d bytes)", path, ErrTooLarge, max)
	}
	return b, nil
}

// pidPath is procRoot/<pid>/name.
func pidPath(procRoot string, pid uint32, name string) string {
	return filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), name)
}
