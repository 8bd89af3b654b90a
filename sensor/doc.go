// Package sensor is vigil's kernel event pipeline: it probes the machine,
// loads and attaches the BPF programs of package bpf, reads their ring
// buffer, decodes each record into an event.Event and gives it the Process
// it came from, kept in a bounded process table seeded from /proc.
//
// The hot path (ring buffer read, Decoder.Decode, ProcessTable.Apply for an
// open or connect) allocates nothing and makes no syscalls. Kernel side, the
// records are submitted without a wakeup until a quarter of the ring is
// full, and the reader polls every few milliseconds: a wakeup per record
// would double the cost of a traced syscall.
//
// Optional hooks (an fentry or LSM program on file_open, which sees opens
// that bypass the open syscalls, such as io_uring's) are used only where a
// start-up probe shows they load; Sensor.Hooks lists what is attached.
package sensor
