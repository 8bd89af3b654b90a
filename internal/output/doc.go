// Package output encodes vigil's lines and writes them through bounded
// queues. Alerts come in four formats: Falco's json_output shape (the
// default, what falcosidekick parses), OCSF Detection Findings, Elastic
// Common Schema documents and CEF; event records and internal status
// records are in vigil's own JSON. A Writer delivers records to one
// Destination (stdout, or a sink of package sink) from its own goroutine,
// so a slow destination costs counted drops, never unbounded memory or a
// stalled sensor.
//
// Encoders append to caller buffers, never allocate per record and never
// fail: every JSON line is valid JSON and every CEF line one line whatever
// bytes the kernel gave. The OCSF, ECS and CEF mappings are tables of the
// event package's fields (schema.go), compiled once per Encoder.
package output
