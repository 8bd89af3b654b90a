package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-sensor/vigil/bench/floor"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(os.Args[1:], os.Stdout, log); err != nil {
		log.Error("floor", "err", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	mode := fs.String("mode", string(floor.ModeCounter), "counter or ringbuf")
	pid := fs.Uint("pid", 0, "process whose events the report counts as matched (0: none)")
	duration := fs.Duration("duration", 0, "stop after this long (0: at SIGINT/SIGTERM)")
	hooks := fs.String("syscall-hooks", "auto", "how to hook the syscalls, as vigil run's --syscall-hooks: auto (as vigil would here), raw or tracepoint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := floor.ParseMode(*mode)
	if err != nil {
		return err
	}
	h, err := floor.ParseHooks(*hooks)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	f, err := floor.Open(m, h)
	if err != nil {
		return err
	}
	defer f.Close()
	log.Info("floor attached", "mode", m, "syscall_hooks", f.SyscallHooks(), "poll", floor.PollInterval)
	rep, err := f.Run(ctx, uint32(*pid))
	if err != nil {
		return err
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return f.Close()
}
