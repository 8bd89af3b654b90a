// Package metrics writes Prometheus's text exposition format and serves it
// with a health check. vigil's counters live in the packages that own them
// (sensor, enrich, rules, output); a scrape asks each for a snapshot through
// a collect function, so nothing is registered globally and the event path
// pays nothing for metrics.
package metrics
