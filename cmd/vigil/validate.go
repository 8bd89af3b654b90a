package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vigil-sensor/vigil/internal/response"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
)

// validateCmd loads rule files without touching the kernel and reports, per
// file, errors, warnings, loaded and skipped rules, then, when they load,
// the kernel filter they make (filterreport.go). With --config it first
// checks a configuration file as vigil run would read it (every key, value
// and output), then loads the rule files it names, with its rule options,
// unless paths are given. It fails (exit 2) unless everything loads.
func validateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	asJSON := fs.Bool("json", false, "print Falco's -V JSON shape with vigil's rules_loaded/rules_skipped/rules_partial")
	strict := fs.Bool("strict", false, "treat rules that need a field or event vigil lacks as errors")
	configFile := fs.String("config", "", "check this vigil run configuration file, and load the rules it names")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	paths := fs.Args()
	opts := rules.Options{Strict: *strict}
	cfg := defaultRunConfig()
	if *configFile != "" {
		if err := cfg.load(*configFile); err != nil {
			return err
		}
		if err := checkRunConfig(cfg); err != nil {
			return err
		}
		if len(paths) == 0 {
			paths = cfg.rules
		}
		ropts, err := cfg.ruleOptions(nil)
		if err != nil {
			return err
		}
		ropts.Strict = ropts.Strict || *strict
		opts = ropts
		fmt.Fprintf(stderr, "%s: configuration ok\n", *configFile)
	} else if len(paths) == 0 {
		return usageError{errors.New("validate needs at least one rules file, or --config")}
	}
	srcs, err := readRuleFiles(paths)
	if err != nil {
		return err
	}
	rs, res, loadErr := rules.Load(srcs, opts)
	if *configFile != "" && rs != nil {
		for _, w := range cfg.unknownRuleNames(rs) {
			fmt.Fprintf(stderr, "%s: warning: %s\n", *configFile, w)
		}
	}
	if loadErr != nil && !errors.Is(loadErr, rules.ErrInvalid) {
		return fmt.Errorf("validating rules: %w", loadErr)
	}
	// The kernel filter is reported for rules that load.
	var filter []kindFilterReport
	if loadErr == nil && rs != nil {
		filter = kernelFilterReport(rs)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(validateJSON{LoadResult: res, KernelFilter: filter}); err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	} else {
		printResult(stdout, res)
		if filter != nil {
			printFilterReport(stdout, filter)
		}
	}
	if loadErr != nil {
		return usageError{errors.New("")}
	}
	return nil
}

// validateJSON is validate --json's output: Falco's -V shape, and
// vigil's kernel filter report when the rules load.
type validateJSON struct {
	*rules.LoadResult
	KernelFilter []kindFilterReport `json:"kernel_filter,omitempty"`
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
		for _, s := range f.RulesPartial {
			fmt.Fprintf(w, "  warning: partial: %q: %s\n", s.Name, s.Reason)
		}
	}
}

// checkRunConfig checks what a configuration file's keys do not say alone:
// the rule selection's flags together, and that every output could start
// (its certificates load, its program is found, its file's directory is
// there), without starting any.
func checkRunConfig(cfg *runConfig) error {
	if err := cfg.selection().check(); err != nil {
		return usageError{fmt.Errorf("%s: %w", cfg.configFile, err)}
	}
	if err := sink.Check(cfg.outputs); err != nil {
		return usageError{fmt.Errorf("%s: %w", cfg.configFile, err)}
	}
	if err := response.Check(cfg.actions); err != nil {
		return usageError{fmt.Errorf("%s: %w", cfg.configFile, err)}
	}
	return nil
}
