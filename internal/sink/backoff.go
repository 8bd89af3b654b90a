package sink

import (
	"context"
	"time"
)

// backoff is an exponential delay between attempts: initial, doubled on
// each failure up to max, back to initial after a success.
type backoff struct {
	initial, max, cur time.Duration
}

// next returns the delay before the next attempt and doubles the one after.
func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.initial
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
