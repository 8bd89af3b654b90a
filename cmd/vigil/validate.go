package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vigil-sensor/vigil/rules"
)

// validateCmd loads rule files without touching the kernel and reports, per
// file, errors, warnings, loaded and skipped rules. It fails (exit 2) unless
// every file loads.
func validateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	asJSON := fs.Bool("json", false, "print Falco's -V JSON shape with vigil's rules_loaded/rules_skipped")
	strict := fs.Bool("strict", false, "treat rules that need a field or event vigil lacks as errors")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("validate needs at least one rules file")}
	}
	srcs, err := readRuleFiles(fs.Args())
	if err != nil {
		return err
	}
	_, res, loadErr := rules.Load(srcs, rules.Options{Strict: *strict})
	if loadErr != nil && !errors.Is(loadErr, rules.ErrInvalid) {
		return fmt.Errorf("validating rules: %w", loadErr)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	} else {
		printResult(stdout, res)
	}
	if loadErr != nil {
		return usageError{errors.New("")}
	}
	return nil
}

func printResult(w io.Writer, res *rules.LoadResult) {
	for _, f := range res.Files {
		status := "ok"
		if !f.Successful {
			status = "invalid"
		}
		fmt.Fprintf(w, "%s: %s: %d rules loaded, %d skipped, %d errors, %d warnings\n",
			f.Name, status, len(f.RulesLoaded), len(f.RulesSkipped), len(f.Errors), len(f.Warnings))
		for _, m := range f.Errors {
			fmt.Fprintf(w, "  error: %s\n", m)
		}
		for _, m := range f.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", m)
		}
		for _, s := range f.RulesSkipped {
			fmt.Fprintf(w, "  skipped: %q: %s\n", s.Name, s.Reason)
		}
	}
}
