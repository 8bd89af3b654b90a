package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vigil-sensor/vigil/rules"
)

// readRuleFiles reads paths, or returns the embedded default rules when
// there are none.
func readRuleFiles(paths []string) ([]rules.Source, error) {
	if len(paths) == 0 {
		return []rules.Source{rules.Default()}, nil
	}
	srcs := make([]rules.Source, 0, len(paths))
	for _, p := range paths {
		data, err := readAtMost(p, rules.MaxFileBytes+1) // one byte over, for Load to refuse
		if err != nil {
			return nil, usageError{fmt.Errorf("reading rules: %w", err)}
		}
		srcs = append(srcs, rules.Source{Name: p, Data: data})
	}
	return srcs, nil
}

// loadRules reads and compiles rule files. A rule error becomes a
// usageError listing every error with its file:line:col.
func loadRules(paths []string, opts rules.Options) (*rules.Ruleset, *rules.LoadResult, error) {
	srcs, err := readRuleFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	return compileRules(srcs, opts)
}

// loadSelected is loadRules with a rule selection applied. rules.Options
// switches rules on and off by name, and which names a tag or a part of a
// name selects is known only once the files are loaded: with a selection
// the files are compiled twice.
func loadSelected(paths []string, opts rules.Options, sel ruleSelection) (*rules.Ruleset, *rules.LoadResult, error) {
	srcs, err := readRuleFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	rs, res, err := compileRules(srcs, opts)
	if err != nil || sel.empty() {
		return rs, res, err
	}
	enable, disable := sel.resolve(rs.Rules())
	opts.Enable = append(slices.Clip(opts.Enable), enable...)
	opts.Disable = append(slices.Clip(opts.Disable), disable...)
	return compileRules(srcs, opts)
}

func compileRules(srcs []rules.Source, opts rules.Options) (*rules.Ruleset, *rules.LoadResult, error) {
	rs, res, err := rules.Load(srcs, opts)
	if err != nil {
		if errors.Is(err, rules.ErrInvalid) {
			return nil, res, usageError{fmt.Errorf("loading rules:\n%s", formatMessages(res.Errors()))}
		}
		return nil, res, fmt.Errorf("loading rules: %w", err)
	}
	return rs, res, nil
}

func formatMessages(msgs []rules.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("  ")
		b.WriteString(m.String())
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// readAtMost reads up to n bytes of the file at path, so that an oversized
// rules file is not read whole before it is refused.
func readAtMost(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
