package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vigil-sensor/vigil/internal/dedup"
	"github.com/vigil-sensor/vigil/internal/metrics"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/response"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
)

// startResponse gives p the deduplication and the response actions cfg
// configures, if any, and starts their goroutines: dedup's window closer
// until ctx ends, the responder's workers until stopResponse.
func (cfg *runConfig) startResponse(ctx context.Context, p *pipeline, enc *output.Encoder, outputs *sink.Set, logger *slog.Logger) error {
	for _, w := range cfg.unknownRuleNames(p.ruleset.Load()) {
		logger.Warn("the configuration names a rule that is not loaded", "where", w)
	}
	d, err := dedup.New(cfg.dedup, dedup.Deps{Encoder: enc, Out: outputs})
	if err != nil {
		return usageError{fmt.Errorf("dedup: %w", err)}
	}
	if d != nil {
		p.dedup = d
		go d.Run(ctx)
		logger.Info("deduplicating alerts", "window", cfg.dedup.Window, "rules_with_own_settings", len(cfg.dedup.Rules))
	}
	p.respond = response.New(response.Config{Actions: cfg.actions, Mode: cfg.response,
		Concurrency: cfg.responseConcurrency, Queue: cfg.responseQueue},
		response.Deps{Encoder: enc, Out: outputs, Logger: logger.With("component", "response")})
	if p.respond != nil {
		logger.Info("response actions", "actions", len(cfg.actions), "mode", cfg.response)
	}
	return nil
}

// stopResponse reports what dedup holds and stops the responder, waiting
// up to drain for the programs running (then killing them). It runs at
// shutdown, after the last event, before the outputs close; a second call
// does nothing.
func (p *pipeline) stopResponse(drain time.Duration) {
	if p.dedup != nil {
		p.dedup.Flush()
	}
	if p.respond != nil {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		p.respond.Close(ctx)
		cancel()
	}
}

// responseFamilies are the metrics of dedup and of the responder.
func (p *pipeline) responseFamilies() []metrics.Family {
	var out []metrics.Family
	if p.dedup != nil {
		out = append(out, p.dedup.Families()...)
	}
	if p.respond != nil {
		out = append(out, p.respond.Families()...)
	}
	return out
}

// unknownRuleNames warns of the rules that the dedup and actions keys name
// and that are not in rs: a typo there would quietly do nothing.
func (cfg *runConfig) unknownRuleNames(rs *rules.Ruleset) []string {
	var out []string
	known := func(name string) bool { return rs.Rule(name) != nil }
	names := make([]string, 0, len(cfg.dedup.Rules))
	for name := range cfg.dedup.Rules {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !known(name) {
			out = append(out, fmt.Sprintf("dedup.rules: no loaded rule is named %q", name))
		}
	}
	for i, a := range cfg.actions {
		for j, name := range a.Rules {
			if !known(name) {
				out = append(out, fmt.Sprintf("actions[%d].rules[%d]: no loaded rule is named %q", i, j, name))
			}
		}
	}
	return out
}
