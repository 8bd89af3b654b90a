package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sensor/vigil/event"
)

// identityRefresh is how often the files the rules name by identity are
// stat'ed again: passwd, vipw and package upgrades replace /etc/shadow and
// its kin by rename, which gives the name a new inode.
const identityRefresh = 2 * time.Second

// identitySetter is what the identities need of the sensor: its kernel
// open filter admits the files' identities.
type identitySetter interface {
	SetFileIdentities(map[event.FileID]string) error
}

// fileIdentities keeps the identities (device and inode) of the files the
// loaded rules compare fd.identity with learned, off the hot path: at
// load, on reload and every identityRefresh. Every event carries table;
// the sensor's open filter gets the same map.
type fileIdentities struct {
	table  *event.FileIdentities
	sensor identitySetter
	logger *slog.Logger

	mu    sync.Mutex
	paths []string
	cur   map[event.FileID]string
	// missing are the paths that did not exist at the last look, so
	// that each is logged once until it comes back.
	missing map[string]bool
}

func newFileIdentities(s identitySetter, logger *slog.Logger) *fileIdentities {
	return &fileIdentities{table: &event.FileIdentities{}, sensor: s, logger: logger, missing: map[string]bool{}}
}

// setPaths makes paths the files to learn and learns them at once.
func (f *fileIdentities) setPaths(paths []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = slices.Clone(paths)
	return f.refreshLocked(true)
}

// refresh stats the files again and passes on what changed.
func (f *fileIdentities) refresh() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshLocked(false)
}

func (f *fileIdentities) refreshLocked(force bool) error {
	next := statIdentities(f.paths, f.missing, f.logger)
	if !force && maps.Equal(next, f.cur) {
		return nil
	}
	f.cur = next
	f.table.Set(next)
	if force && len(f.paths) > 0 {
		f.logger.Info("recognising the rules' files by identity", "files", len(f.paths), "present", len(next))
	}
	return f.sensor.SetFileIdentities(next)
}

// run refreshes the identities every identityRefresh until ctx is done.
func (f *fileIdentities) run(ctx context.Context) {
	t := time.NewTicker(identityRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.refresh(); err != nil && !errors.Is(err, fs.ErrClosed) {
				f.logger.Error("updating the kernel filter with the identities of the rules' files", "err", err)
			}
		}
	}
}

// statIdentities maps the identity of each of paths that exists to its
// path (the first, in order, of paths that are one file). A symlink is
// followed: its target is the file opens reach. A path that does not
// exist is left out (and logged once in missing, until it exists again):
// no file has it to hide under another name.
func statIdentities(paths []string, missing map[string]bool, logger *slog.Logger) map[event.FileID]string {
	out := make(map[event.FileID]string, len(paths))
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			if !missing[p] {
				missing[p] = true
				logger.Debug("a file the rules name by identity is not there", "path", p, "err", err)
			}
			continue
		}
		delete(missing, p)
		id := event.FileID{Dev: event.DevOf(unix.Major(st.Dev), unix.Minor(st.Dev)), Ino: st.Ino}
		if _, ok := out[id]; !ok {
			out[id] = p
		}
	}
	return out
}
