// Package output encodes vigil's JSON lines (alerts in Falco's json_output
// shape, raw events, internal status records) and writes them to stdout
// through a bounded queue, so a slow reader of stdout costs counted drops,
// never unbounded memory or a stalled sensor.
//
// Encoders append to caller buffers and never fail: every string becomes
// valid JSON whatever bytes the kernel gave.
package output
