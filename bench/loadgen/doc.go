// Package loadgen generates the benchmark's load: tight loops of the
// operations vigil traces, timed in nanoseconds per operation and counted,
// so a tracer's overhead and its delivered events can both be checked
// against what was issued.
//
// Seven loops exist: [LoopOpen] (openat+close of one file), [LoopExec]
// (fork+execve+wait of a small program), [LoopConnect] (TCP connect to a
// loopback listener that accepts in a goroutine; both ends closed),
// [LoopFS] (create, chmod, rename and unlink of a file in a temporary
// directory), [LoopUDP] (a loopback datagram, sendto on one socket and
// recvfrom on another), [LoopTCP] (send and recv of a small message over
// a loopback connection opened beforehand) and [LoopDup2] (dup2 of an open
// file onto a high descriptor). Each runs flat out or at a fixed rate, with
// one or more workers, each with its own files, sockets or descriptors. The fixed rate is paced against a
// ticker: every tick issues, back to back, the operations that are due by
// then, so no operation waits on a timer of its own and the pacing cost
// stays out of the per-operation figure.
//
// Operations use raw system calls with buffers, paths and addresses
// prepared once by [New], so a loop allocates nothing (exec aside: fork
// needs its argv) and the Go runtime adds no work a tracer would see.
package loadgen
