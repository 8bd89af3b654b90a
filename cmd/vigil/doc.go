// Command vigil is the eBPF runtime security sensor: `vigil run` loads the
// kernel programs and streams alerts (and optionally events) as JSON lines on
// stdout; `vigil validate` checks Falco rule files without touching the
// kernel; `vigil fields` lists the fields rules can use.
//
// `vigil run` holds a lock file (/run/vigil.lock) so one agent runs at a
// time. SIGINT and SIGTERM detach the programs, drain the ring buffer and
// flush stdout; SIGHUP reloads the rules, keeping the running ones when the
// files do not load. Every loss (kernel drops, undecodable records, output
// drops, enrichment failures) is counted, served as a metric and reported
// on stdout as an internal record.
//
// Exit codes: 0 ok, 1 runtime failure, 2 usage or rule errors.
package main
