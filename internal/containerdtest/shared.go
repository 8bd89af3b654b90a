package containerdtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sensor/vigil/internal/testutil"
)

// Shared is one daemon for all the tests of a package, started by the first
// test that asks for it and stopped by Stop in TestMain. Its zero value is
// ready; Options may be set before first use.
type Shared struct {
	Options Options

	mu  sync.Mutex
	d   *Daemon
	err error
}

// Daemon returns the package's daemon, starting it on first use. Without
// root or the commands it needs it skips t (fails it in CI); if the daemon
// cannot start it fails t, and every later caller, with the same error.
func (s *Shared) Daemon(t testing.TB) *Daemon {
	t.Helper()
	testutil.RequireRoot(t)
	for _, c := range requiredCommands() {
		testutil.RequireCommand(t, c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d == nil && s.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.d, s.err = Start(ctx, s.Options)
	}
	if s.err != nil {
		t.Fatalf("starting containerd: %v", s.err)
	}
	return s.d
}

// Stop stops the daemon if one was started. Safe to call twice.
func (s *Shared) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d == nil {
		return nil
	}
	return s.d.Stop()
}
