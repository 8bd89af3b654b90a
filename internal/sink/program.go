package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// stableRun is how long a program must run for its restart delay to start
// over from the initial backoff.
const stableRun = 10 * time.Second

// programDest writes records, one per line, to a program's stdin. When the
// program exits it is started again, backoff apart; records wait in the
// queue meanwhile. The program's stdout and stderr go to vigil's stderr,
// never to its stdout (which carries alerts), and it is sent SIGTERM if
// vigil dies.
type programDest struct {
	argv    []string
	stderr  io.Writer
	logger  *slog.Logger
	backoff backoff

	cmd       *exec.Cmd
	stdin     *os.File
	exited    chan struct{}
	started   time.Time
	nextStart time.Time
	watched   context.Context
	restarts  atomic.Uint64
	runs      int
}

func newProgramDest(c *ProgramConfig, stderr io.Writer, logger *slog.Logger) (*programDest, error) {
	if _, err := exec.LookPath(c.Command[0]); err != nil {
		return nil, fmt.Errorf("program output: %w", err)
	}
	d := &programDest{argv: c.Command, stderr: stderr, logger: logger, backoff: newBackoff(c.Backoff, c.MaxBackoff)}
	if err := d.start(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *programDest) start() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("starting program output: %w", err)
	}
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, d.stderr, d.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("starting program output %s: %w", d.argv[0], err)
	}
	r.Close()
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	d.cmd, d.stdin, d.exited, d.started, d.watched = cmd, w, exited, time.Now(), nil
	if d.runs > 0 {
		d.restarts.Add(1)
	}
	d.runs++
	return nil
}

// alive reports whether the program still runs; when it has exited it says
// so in the log and schedules the restart.
func (d *programDest) alive() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
	default:
		return true
	}
	d.stopped()
	return false
}

// stopped forgets an exited program and schedules its restart.
func (d *programDest) stopped() {
	if time.Since(d.started) >= stableRun {
		d.backoff.reset()
	}
	delay := d.backoff.next()
	d.nextStart = time.Now().Add(delay)
	d.logger.Warn("output program exited; starting it again", "program", d.argv[0],
		"status", d.cmd.ProcessState.String(), "in", delay)
	d.stdin.Close()
	d.cmd = nil
}

func (d *programDest) Write(ctx context.Context, rec []byte) error {
	if !d.alive() {
		if err := sleep(ctx, time.Until(d.nextStart)); err != nil {
			return err
		}
		if err := d.start(); err != nil {
			d.nextStart = time.Now().Add(d.backoff.next())
			return err
		}
	}
	if d.watched != ctx {
		// A program that stops reading blocks its pipe; the write gives up
		// when the writer does.
		f := d.stdin
		context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
		d.watched = ctx
	}
	if _, err := d.stdin.Write(rec); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			// The program closed its input: it can take no more.
			d.cmd.Process.Kill()
			<-d.exited
			d.stopped()
		}
		return fmt.Errorf("writing to program output %s: %w", d.argv[0], err)
	}
	return nil
}

func (d *programDest) Flush(context.Context) error { return nil }

func (d *programDest) Restarts() uint64 { return d.restarts.Load() }

// Close ends the program's input and gives it a moment to finish what it
// read before it is killed.
func (d *programDest) Close() error {
	if d.cmd == nil {
		return nil
	}
	d.stdin.Close()
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
	return nil
}
