// Package rules is vigil's Falco-compatible rules engine: it loads Falco
// rule files unchanged, compiles each rule's condition into closures bound
// to the event field table, indexes rules by event type and matches events
// against them without allocating when nothing matches.
//
// Loading follows Falco's rule loader: files are read in order into lists,
// macros and rules (with append, override and exceptions applied), then
// each rule's condition is parsed (package rules/internal/ast), its
// exceptions are added, lists and macros are resolved, its event types are
// derived, and it is compiled. A rule that needs a field or an event type
// vigil does not provide is skipped with its reason, so real rule files
// load; Options.Strict makes that an error.
//
// Matching uses a per-matcher cache of field values, so a field read by
// many rules is extracted once per event.
//
// Two vigil-only rule keys (aggregate.go) make a rule alert on a pattern
// rather than on one event: threshold (count matches in a window per value
// of some fields) and sequence (conditions matched in order by one
// process, process tree or container). Their state lives in each Matcher
// (state.go), in groups bounded per rule and in total, the oldest evicted
// and counted (GroupLimits, GroupStats).
package rules
