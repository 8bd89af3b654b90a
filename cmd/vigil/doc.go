// Command vigil is the eBPF runtime security sensor: `vigil run` loads the
// kernel programs and streams alerts (and optionally events) as JSON lines on
// stdout; `vigil validate` checks Falco rule files without touching the
// kernel; `vigil fields` lists the fields rules can use.
//
// Exit codes: 0 ok, 1 runtime failure, 2 usage or rule errors.
package main
