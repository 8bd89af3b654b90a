// Command floor loads the benchmark's eBPF floor (package floor) in counter
// or ringbuf mode, logs "floor attached" on stderr once every program is
// attached, and on SIGINT/SIGTERM (or after -duration) prints its
// report as one JSON object on stdout: per hook, program runs, drops,
// records read and records caused by -pid. -syscall-hooks picks how the
// syscalls are hooked (auto: as vigil would on this machine).
//
//	sudo go run ./bench/cmd/floor -mode ringbuf -pid 1234
//	sudo go run ./bench/cmd/floor -mode counter -syscall-hooks tracepoint
package main
