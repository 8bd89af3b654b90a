package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// defaultLockFile is where `vigil run` records that it is running.
const defaultLockFile = "/run/vigil.lock"

// instanceLock is an exclusive flock on the lock file, held for the life of
// `vigil run` so a second agent does not attach the same programs twice.
// The kernel releases it when the process exits, however it exits; the pid
// written into it is removed only by release, on a clean stop.
type instanceLock struct {
	f *os.File
	// unclean is the pid the previous agent left in the file: it ended
	// without a clean stop (SIGKILL, a crash, the OOM killer). Empty when
	// it stopped cleanly or there was none.
	unclean string
}

// acquireLock locks path and writes the process id into it. When another
// process holds the lock, the error names its pid.
func acquireLock(path string) (*instanceLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another vigil is already running (pid %s holds %s): stop it first, or give this one its own --lock-file", holder, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	var unclean string
	if b, err := io.ReadAll(io.LimitReader(f, 32)); err == nil && len(bytes.TrimSpace(b)) > 0 {
		unclean = holderPID(b)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing lock file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing lock file: %w", err)
	}
	return &instanceLock{f: f, unclean: unclean}, nil
}

// readHolder returns the pid the lock holder wrote, or "unknown".
func readHolder(f *os.File) string {
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return "unknown"
	}
	return holderPID(b)
}

// holderPID is the pid written in lock file contents b, or "unknown".
func holderPID(b []byte) string {
	pid := string(bytes.TrimSpace(b))
	if _, err := strconv.ParseUint(pid, 10, 31); err != nil {
		return "unknown"
	}
	return pid
}

// release empties the lock file and unlocks it. The file stays: removing it
// would let a third process lock a new file while a second waits on the
// old one.
func (l *instanceLock) release() {
	l.f.Truncate(0)
	l.f.Close()
}
