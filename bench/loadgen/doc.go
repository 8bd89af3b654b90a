// Package loadgen generates the benchmark's load: tight loops of the
// operations vigil traces, timed in nanoseconds per operation and counted,
// so a tracer's overhead and its delivered events can both be checked
// against what was issued.
//
// Three loops exist: [LoopOpen] (openat+close of one file), [LoopExec]
// (fork+execve+wait of a small program) and [LoopConnect] (TCP connect to a
// loopback listener that accepts in a goroutine; both ends closed). Each
// runs flat out or at a fixed rate. The fixed rate is paced against a
// ticker: every tick issues, back to back, the operations that are due by
// then, so no operation waits on a timer of its own and the pacing cost
// stays out of the per-operation figure.
//
// Operations use raw system calls with buffers prepared once, so a loop
// allocates nothing (exec aside: fork needs its argv) and the Go runtime
// adds no work a tracer would see.
package loadgen
