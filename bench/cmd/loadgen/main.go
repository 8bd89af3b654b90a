package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigil-sensor/vigil/bench/loadgen"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(os.Args[1:], os.Stdin, os.Stdout, log); err != nil {
		log.Error("loadgen", "err", err)
		os.Exit(1)
	}
}

// defaultExec is a static binary whose start-up is tiny, so the exec loop
// measures fork and exec rather than a dynamic loader.
const defaultExec = "/bin/busybox"

// preparedMsg is logged on stderr when -wait-stdin starts waiting.
const preparedMsg = "loadgen prepared"

func run(args []string, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	loop := fs.String("loop", "open", "operation: open, exec, connect, fs, udp, tcp or dup2")
	duration := fs.Duration("duration", 5*time.Second, "how long to run")
	rate := fs.Float64("rate", 0, "target operations per second, shared by the workers (0: flat out)")
	workers := fs.Int("workers", 1, "goroutines issuing operations in parallel")
	tick := fs.Duration("tick", loadgen.DefaultTick, "pacing period at a fixed rate")
	openPath := fs.String("open-path", "", "file the open loop opens (default: a new temporary file)")
	execPath := fs.String("exec", defaultExec, "program the exec loop runs; remaining arguments are its argv (default argv: true)")
	waitStdin := fs.Bool("wait-stdin", false, "prepare, then wait for a line or EOF on stdin before running")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadgen [flags] [argv for -exec...]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := loadgen.ParseLoop(*loop)
	if err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 && *execPath == defaultExec {
		argv = []string{"true"}
	}
	g, err := loadgen.New(loadgen.Config{
		Loop:     l,
		Duration: *duration,
		Rate:     *rate,
		Workers:  *workers,
		Tick:     *tick,
		OpenPath: *openPath,
		ExecPath: *execPath,
		ExecArgs: argv,
	})
	if err != nil {
		return fmt.Errorf("preparing %s loop: %w", l, err)
	}
	defer g.Close()
	if *waitStdin {
		log.Info(preparedMsg, "loop", l, "pid", os.Getpid())
		// A read error is a closed stdin: as good a start signal as a line.
		bufio.NewReader(stdin).ReadString('\n')
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := g.Run(ctx)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	return g.Close()
}
