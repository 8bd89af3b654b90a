package sink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// syslogDest sends records, each already an RFC 5424 message (the Set puts
// the header on), to a collector: one datagram per message over UDP or a
// unix datagram socket, octet-counting framing (RFC 6587) over TCP or a
// unix stream socket. A lost connection is dialled again, backoff apart;
// records wait in the queue meanwhile.
type syslogDest struct {
	network, address string
	timeout          time.Duration
	backoff          backoff
	conn             net.Conn
	stream           bool
	nextDial         time.Time
	frame            []byte
	reconnects       atomic.Uint64
	dialled          bool
}

func newSyslogDest(c *SyslogConfig) *syslogDest {
	network := c.Network
	if network == "" {
		network = "udp"
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultSyslogTimeout
	}
	return &syslogDest{network: network, address: c.Address, timeout: timeout, backoff: newBackoff(c.Backoff, c.MaxBackoff)}
}

// dial connects; a unix socket is tried as a datagram socket first
// (/dev/log is one), then as a stream.
func (d *syslogDest) dial(ctx context.Context) error {
	dialer := net.Dialer{Timeout: d.timeout}
	var err error
	switch d.network {
	case "unix":
		d.conn, err = dialer.DialContext(ctx, "unixgram", d.address)
		d.stream = false
		if errors.Is(err, syscall.EPROTOTYPE) {
			d.conn, err = dialer.DialContext(ctx, "unix", d.address)
			d.stream = true
		}
	default:
		d.conn, err = dialer.DialContext(ctx, d.network, d.address)
		d.stream = d.network == "tcp"
	}
	if err != nil {
		d.conn = nil
		return fmt.Errorf("connecting to syslog at %s %s: %w", d.network, d.address, err)
	}
	if d.dialled {
		d.reconnects.Add(1)
	}
	d.dialled = true
	return nil
}

func (d *syslogDest) Write(ctx context.Context, rec []byte) error {
	if d.conn == nil {
		if err := sleep(ctx, time.Until(d.nextDial)); err != nil {
			return err
		}
		if err := d.dial(ctx); err != nil {
			d.nextDial = time.Now().Add(d.backoff.next())
			return err
		}
	}
	msg := rec
	if d.stream {
		d.frame = strconv.AppendInt(d.frame[:0], int64(len(rec)), 10)
		d.frame = append(d.frame, ' ')
		d.frame = append(d.frame, rec...)
		msg = d.frame
	}
	d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
	if _, err := d.conn.Write(msg); err != nil {
		// A datagram refused (no listener yet) does not break the socket;
		// a stream that failed may have sent part of a frame: start over.
		if d.stream {
			d.conn.Close()
			d.conn = nil
			d.nextDial = time.Now().Add(d.backoff.next())
		}
		return fmt.Errorf("writing to syslog at %s %s: %w", d.network, d.address, err)
	}
	d.backoff.reset()
	return nil
}

func (d *syslogDest) Flush(context.Context) error { return nil }

func (d *syslogDest) Restarts() uint64 { return d.reconnects.Load() }

func (d *syslogDest) Close() error {
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}
