// Package event is vigil's event model: the Event, Process and Container types
// that the sensor fills, enrichment completes and the rules engine and output
// read, and the one table of fields (name, type, description, extractor) that
// the rule compiler, `vigil fields`, the JSON encoder and the docs all use.
//
// It is a leaf package: it imports nothing of vigil's.
//
// Lifetime: an Event and the byte slices it points into belong to the
// pipeline stage that owns them and are reused for the next record. String
// values returned by field extractors may alias those buffers; copy them
// (strings.Clone) before keeping them past the event.
package event
