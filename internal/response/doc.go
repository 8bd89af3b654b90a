// Package response runs the actions the configuration ties to rules when
// one of them fires: a program that gets the alert's JSON on its stdin and
// the container id, pid and rule name in its environment.
//
// The sensor never waits for an action: Fire, on the reader goroutine,
// only checks the action's per-rule rate limit and queues the run in a
// bounded queue; a full queue is a counted skip. A fixed number of workers
// (the global concurrency cap) run the queue, each program in a process
// group of its own, killed with the group at the action's timeout. Every
// run's outcome is an internal record on the output stream and a counter
// in /metrics; skips (rate-limited, queue full, shutdown) are reported as
// one record per action, rule and reason each second with their count. In
// dry-run mode (log) the record says what would have run, and nothing runs.
package response
