package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// stderrCap bounds how much of a child's stderr is kept; beyond it the
// middle is dropped, keeping the start (errors at start-up) and the tail.
const stderrCap = 4 << 20

// watcher is a child's stderr: it keeps the text and closes found once
// marker has appeared.
type watcher struct {
	mu     sync.Mutex
	buf    []byte
	cut    bool
	marker []byte
	found  chan struct{}
}

func newWatcher(marker string) *watcher {
	return &watcher{marker: []byte(marker), found: make(chan struct{})}
}

// Write implements io.Writer for exec.Cmd.Stderr.
func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf)+len(p) > stderrCap {
		half := stderrCap / 2
		w.buf = append(w.buf[:half:half], w.buf[len(w.buf)-half/2:]...)
		w.cut = true
	}
	w.buf = append(w.buf, p...)
	if len(w.marker) > 0 && w.found != nil && bytes.Contains(w.buf, w.marker) {
		close(w.found)
		w.found = nil
	}
	return len(p), nil
}

// text returns what the child wrote so far.
func (w *watcher) text() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf)
}

// tail returns the last lines of the text, for error messages.
func (w *watcher) tail() string {
	t := bytes.TrimSpace(w.text())
	for i, n := len(t)-1, 0; i >= 0; i-- {
		if t[i] == '\n' {
			if n++; n == 8 {
				t = t[i+1:]
				break
			}
		}
	}
	return string(t)
}

// child is a started process with its stderr watched and its exit awaited
// in the background.
type child struct {
	name   string
	cmd    *exec.Cmd
	stderr *watcher
	ready  <-chan struct{}
	done   chan struct{}
	err    error // set before done closes
}

// startChild starts argv with stdout going to stdout (nil: discarded) and
// stderr watched for marker. deathSig is sent to the child if the harness
// dies first, so no tracer outlives an interrupted run.
func startChild(name string, argv []string, stdout *os.File, marker string, deathSig syscall.Signal) (*child, error) {
	return startChildStdin(name, argv, nil, stdout, marker, deathSig, nil)
}

// startChildStdin is startChild with stdin (nil: /dev/null) and extra
// environment variables.
func startChildStdin(name string, argv []string, stdin, stdout *os.File, marker string, deathSig syscall.Signal, env []string) (*child, error) {
	w := newWatcher(marker)
	cmd := exec.Command(argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: deathSig}
	c := &child{name: name, cmd: cmd, stderr: w, ready: w.found, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited describes an unexpected exit, with the end of stderr.
func (c *child) exited() error {
	return fmt.Errorf("%s exited (%v): %s", c.name, c.err, c.stderr.tail())
}

// waitMarker waits until the child logs its marker, exits, or timeout
// passes.
func (c *child) waitMarker(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.ready:
		return nil
	case <-c.done:
		return fmt.Errorf("waiting for %s to start: %w", c.name, c.exited())
	case <-t.C:
		return fmt.Errorf("waiting for %s to start: no %q on stderr after %v: %s", c.name, c.stderr.marker, timeout, c.stderr.tail())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait waits for the child to exit by itself within timeout; past it the
// child is killed.
func (c *child) wait(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.kill()
		return fmt.Errorf("%s still running after %v; killed: %s", c.name, timeout, c.stderr.tail())
	case <-ctx.Done():
		c.kill()
		return ctx.Err()
	}
	if c.err != nil {
		return c.exited()
	}
	return nil
}

// stop interrupts the child, as a user's Ctrl-C would, and waits for a
// clean exit; one that takes longer than grace is killed.
func (c *child) stop(ctx context.Context, grace time.Duration) error {
	select {
	case <-c.done:
		return fmt.Errorf("%s stopped before it was asked to: %w", c.name, c.exited())
	default:
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("interrupting %s: %w", c.name, err)
	}
	return c.wait(ctx, grace)
}

// kill ends the child now and reaps it.
func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.done
}
