// Package agenttest is the one driver of tests that run the agent: it starts
// `vigil run` with a lock file of its own and metrics on a loopback port,
// waits until the agent has attached, decodes its stdout into Lines, and
// stops it cleanly, returning the exit code and what it logged.
//
// Waits have deadlines, never sleeps. Expect waits for a line; ExpectNone
// proves a line absent by reading up to a marker the test triggers after the
// activity under test (the kernel keeps the order in which records were
// reserved, so the marker bounds the wait).
//
// The /metrics parser and the search for the metrics address in the log are
// plain functions, shared with the benchmark harness, which reads the same
// endpoint of a vigil it starts itself.
package agenttest
