package main

import (
	"sync"
	"sync/atomic"

	"github.com/vigil-sensor/vigil/event"
	"github.com/vigil-sensor/vigil/internal/dedup"
	"github.com/vigil-sensor/vigil/internal/output"
	"github.com/vigil-sensor/vigil/internal/resolve"
	"github.com/vigil-sensor/vigil/internal/response"
	"github.com/vigil-sensor/vigil/internal/sink"
	"github.com/vigil-sensor/vigil/rules"
)

// containerLookup is what the pipeline needs of enrichment.
type containerLookup interface {
	Lookup(cgroupID uint64) *event.Container
}

// pipeline is the per-event work after the sensor: container, rules,
// output. handle runs on the sensor's reader goroutine only; an event that
// matches nothing allocates nothing and takes no lock.
type pipeline struct {
	containers containerLookup
	ruleset    atomic.Pointer[rules.Ruleset]
	events     bool
	out        *sink.Set
	// names (set by run) keeps the host names the rules compare
	// fd.*ip.name with resolved into hostNames, which every event carries.
	names     *resolve.Resolver
	hostNames *event.HostNames
	// ids (set by run) keeps the identities of the files the rules
	// compare fd.identity with learned into identities, which every
	// event carries.
	ids        *fileIdentities
	identities *event.FileIdentities
	// dedup, when set, holds back identical alerts; respond, when set,
	// runs the actions of the alerts written (response.go).
	dedup   *dedup.Deduper
	respond *response.Responder
	// compat, when set (the sensor does not see 32-bit syscalls), raises
	// an alert on every exec of a 32-bit program (compat.go).
	compat *compatAlert

	// Reused across events: the event being matched and the rules it is
	// matched against, the rendered output and its fields, the alert,
	// and method values bound once.
	ev       *event.Event
	rs       *rules.Ruleset
	text     []byte
	fields   []rules.FieldValue
	alert    output.Alert
	onMatch  func(*rules.Rule)
	appendFV func([]byte) []byte

	matches ruleCounters
	// eventDrops counts event records, per kind, and alertDrops alerts,
	// that an output's queue refused (once per output).
	eventDrops [event.NumKinds]atomic.Uint64
	alertDrops atomic.Uint64
}

// newPipeline is a pipeline whose only output is w, in Falco's format: for
// callers that own the writer (w nil: no output).
func newPipeline(containers containerLookup, rs *rules.Ruleset, events bool, enc *output.Encoder, w *output.Writer) *pipeline {
	var out *sink.Set
	if w != nil {
		out = sink.Single(enc, w)
	}
	return newPipelineTo(containers, rs, events, out)
}

// newPipelineTo is a pipeline delivering to the outputs of out.
func newPipelineTo(containers containerLookup, rs *rules.Ruleset, events bool, out *sink.Set) *pipeline {
	p := &pipeline{containers: containers, events: events, out: out}
	p.ruleset.Store(rs)
	p.onMatch = p.match
	p.appendFV = p.appendFields
	p.alert.Source = output.SourceSyscall
	return p
}

// handle is the sensor's event handler.
func (p *pipeline) handle(e *event.Event) {
	if p.containers != nil {
		e.Container = p.containers.Lookup(e.CgroupID)
	}
	p.ev = e
	e.HostNames = p.hostNames
	e.Identities = p.identities
	p.rs = p.ruleset.Load()
	p.rs.Match(e, p.onMatch)
	if p.compat != nil {
		if n := p.compat.check(e, p.out); n > 0 {
			p.alertDrops.Add(uint64(n))
		}
	}
	if p.events {
		if n := p.out.Event(e); n > 0 {
			p.eventDrops[e.Type.Kind()].Add(uint64(n))
		}
	}
	p.ev, p.rs = nil, nil
}

// match turns a rule match into an alert for every output.
func (p *pipeline) match(r *rules.Rule) {
	e := p.ev
	p.fields = r.AppendOutputFields(p.fields[:0], e)
	p.fields = p.rs.AppendAggregateFields(p.fields, r)
	if p.dedup != nil && !p.dedup.Admit(r, p.fields, e) {
		p.matches.inc(r.Name)
		return
	}
	p.text = r.AppendOutput(p.text[:0], e)
	p.alert.Time = e.Time
	p.alert.Rule = r.Name
	p.alert.Priority = r.Priority.String()
	p.alert.Tags = r.Tags
	p.alert.Output = p.text
	p.alert.AppendFields = p.appendFV
	p.alert.Event = e
	if n := p.out.Alert(&p.alert, r.Priority); n > 0 {
		p.alertDrops.Add(uint64(n))
	}
	if p.respond != nil {
		p.respond.Fire(r, &p.alert, e)
	}
	p.alert.Event = nil
	p.matches.inc(r.Name)
}

func (p *pipeline) appendFields(b []byte) []byte {
	for i, f := range p.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = output.AppendString(b, f.Name)
		b = append(b, ':')
		b = output.AppendTyped(b, f.Type, f.OK, f.Str, f.Num, f.IP)
	}
	return b
}

// ruleCounters counts matches per rule name, across reloads, for metrics.
// It is touched only when a rule matches.
type ruleCounters struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (c *ruleCounters) inc(name string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = make(map[string]uint64)
	}
	c.n[name]++
	c.mu.Unlock()
}

func (c *ruleCounters) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}
