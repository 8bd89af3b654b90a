// Package sink delivers alerts to where operators collect them: stdout, a
// file, an HTTP endpoint (falcosidekick, a SIEM's intake), a syslog
// collector or a program's stdin, several at once. Each sink has its own
// bounded queue (an output.Writer) and its own goroutine, so a sink that
// blocks or fails drops and counts its own records and never slows the
// sensor or another sink.
//
// A Set is the sinks of one configuration: it encodes each alert once per
// format, frames it for each sink (a syslog header, an HTTP body without
// its newline) and queues it where the sink's minimum priority lets it.
// Update swaps in the sinks of a new configuration, keeping those that did
// not change; Reopen reopens files after logrotate moved them.
package sink
