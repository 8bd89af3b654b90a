// Package procfs is vigil's one reader of the files it takes process and
// user facts from: /proc/<pid>/stat, /proc/<pid>/status, passwd(5) and
// group(5), and the one conversion of the kernel's boot clock to wall-clock
// time. The sensor seeds its process table with it, enrichment reads a
// container's task and /etc/passwd with it, and the benchmark harness
// measures processes with it.
//
// Everything here may be read from a file an attacker wrote (a container's
// /etc/passwd) or shaped (a process's command name), so every parser bounds
// what it reads, checks every field it returns, and treats a malformed file
// as an error or a skipped line, never as a zero value passed on.
//
// # Times
//
// The kernel stamps events (bpf_ktime_get_boot_ns) and process starts
// (/proc/<pid>/stat field 22, in clock ticks) on CLOCK_BOOTTIME. BootOffset
// is the one conversion to the Unix epoch: a sensor event and the start of
// the container it came from are on the same clock only if both add the
// same offset to boot-clock times, rather than one of them using /proc/stat's
// btime (whole seconds) or a runtime's own wall-clock stamp.
//
// # User and group names
//
// ParsePasswd and ParseGroup keep a name only if it is 1 to MaxNameBytes of
// valid UTF-8 whose every character is graphic and no space: letters
// (including non-ASCII ones, so "josé" stays josé), marks, digits,
// punctuation and symbols. Control characters (terminal escapes), format
// characters (bidirectional overrides, zero-width joiners) and spaces, which
// could make one user look like another in an alert, are refused. The same
// rule holds for the host's files and containers'; only the size limits
// differ, as the caller's Limits say.
package procfs
