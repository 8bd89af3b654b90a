// Command harness is vigil's macro benchmark. In one run it alternates, for
// each loop of the load generator (open, exec, connect, fs, udp, tcp,
// dup2), rounds of every configuration: no tracer, the eBPF floor (counter;
// ring buffer; on the hooks vigil uses on the machine), vigil with its
// default rules, with Falco's stable file and with Falco's three upstream
// files (each alerts-only and with --events), and, when installed, bpftrace
// and libbpf-tools' opensnoop/execsnoop. It prints, per loop and
// configuration, the median ns per operation and its ratio to no tracer
// (from wall time, and from the loadgen's CPU time), the tracer's CPU time
// and peak RSS, events delivered against operations issued, and drops; then
// each loop's budget (DESIGN.md section 7 and issue 15) against the cpu
// ratio; then vigil's kernel counters per kind (emitted, filtered, dropped,
// from its "final counts" line) and, for the kinds a loop made it receive,
// the rules that keep them flowing (vigil validate --json); then a
// saturation search; then vigil's memory with many live processes.
//
//	sudo go run ./bench/harness                  # full run, several minutes
//	sudo go run ./bench/harness -quick           # smoke run, about a minute
//	sudo go run ./bench/harness -configs none,floor-counter,floor-ringbuf -loops open -saturate=false
//	sudo go run ./bench/harness -loops fs,udp,tcp,dup2 -configs none,floor-ringbuf,vigil,vigil-falco-all -saturate=false -processes 0
//	go run ./bench/harness -list                 # the configurations
//
// It builds the loadgen and floor commands, and vigil from ./cmd/vigil
// unless -vigil names a binary; vigil configurations fail up front, with
// the reason, when vigil does not build.
//
// Each round starts the load generator, which prepares and waits; then the
// tracer, told the generator's pid, until it is attached (its "attached"
// line on stderr, or for tools without one, until it prints an operation
// the harness issues itself); then releases the generator for the round's
// duration. After the load the harness waits for the tracer to catch up
// (until it prints a marker operation issued after the load, or its CPU use
// falls quiet), reads its CPU time (/proc/<pid>/stat utime+stime over the
// run and the catch-up) and VmHWM, interrupts it and parses its output.
// Tracer output goes to a file and is parsed after the round, so the
// harness competes for no CPU while measuring. BPF programs run in the
// traced process's context, so their cost shows in ns/op, not in the
// tracer's CPU time.
//
// Delivered events are counted only where they can be without distorting
// the figure: the floor's ring-buffer reader counts records per pid in
// process, and vigil's are counted from its --events output, a separate
// configuration because encoding every event is work the alerts-only
// configuration does not do. Drops are the floor's failed reserves, vigil's
// internal drop records (kernel ring buffer, and output queue: with
// --events its stdout is a file, as a log shipper tails it) or its final
// counts where those say more, and the tools' "Lost N events" reports.
//
// Saturation (-saturate, on by default outside -quick) steps a fixed rate
// (open loop: the target is offered whatever the tracer costs), issued by
// one loadgen worker per CPU, upward for each of -saturate-configs, finds
// the highest rate without drops (reported, or, where events are counted,
// fewer delivered than issued) by bisection, and shows a few rates past
// it. A search that the generator cannot push to drops says so.
//
// The memory step (-processes N, 10000 by default, 200 with -quick, 0 to
// skip it) checks the budget of DESIGN.md section 7, RSS <= 64 MiB with 10k
// live processes. It runs the vigil configuration with a metrics listener
// twice: "seeded", with N idle processes (/bin/busybox sleep 3600) started
// before vigil, which reads them from /proc at start; and "forked", with
// the N started once vigil has attached, which learns them from fork and
// exec records. Each time it waits (at most a minute) until
// vigil_process_table_size holds the N and every other live process, then
// reads vigil's VmRSS and VmHWM from /proc/<pid>/status. The idle processes
// are forked into one process group of their own, killed with one
// kill(-pgid) and reaped however the step ends (error, Ctrl-C; should the
// harness itself be killed, their parent-death signal ends them), and a
// count over /proc checks that none is left. A table that never holds them,
// or a fork that keeps failing with EAGAIN (the error says how many were
// started), fails the step and the run.
package main
