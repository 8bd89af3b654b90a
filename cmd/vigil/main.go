package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// version is set at build time (-ldflags -X main.version=...).
var version = "dev"

// Exit codes of the CLI contract.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError marks errors that are the caller's (bad flags, bad rules):
// they exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

const usage = `vigil: eBPF runtime security sensor

Usage:
  vigil run [--config FILE] [--rules PATH]... [--events] [--duration D] [--metrics-addr ADDR] [...]
  vigil validate [--json] [--strict] [--config FILE] [PATH...]
  vigil fields
  vigil version

Run 'vigil COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch args[0] {
	case "run":
		err = runCmd(args[1:], stdout, stderr, logger)
	case "validate":
		err = validateCmd(args[1:], stdout, stderr)
	case "fields":
		err = fieldsCmd(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "vigil %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "vigil: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "vigil: %s\n", msg)
		}
		return exitUsage
	default:
		fmt.Fprintf(stderr, "vigil: %s\n", err)
		return exitRuntime
	}
}

// newFlagSet returns a flag set whose parse errors are usage errors.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, mapping errors to usageError (flag has printed them).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{errors.New("")}
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
