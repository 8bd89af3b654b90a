// Command loadgen runs one benchmark loop (open, exec, connect, fs, udp, tcp
// or dup2; see package bench/loadgen for what each issues) flat out
// or at a fixed rate and prints its result as one JSON object on stdout:
// operations issued, nanoseconds per operation, its pid.
//
//	go run ./bench/cmd/loadgen -loop open -duration 5s
//	go run ./bench/cmd/loadgen -loop connect -rate 50000
//	go run ./bench/cmd/loadgen -loop open -rate 200000 -workers 2
//	go run ./bench/cmd/loadgen -loop exec -exec /bin/busybox true
//	go run ./bench/cmd/loadgen -loop tcp -duration 2s
//
// With -wait-stdin it prepares the loop, logs "loadgen prepared" on stderr
// and waits for a line (or EOF) on stdin before measuring, so a harness can
// attach a tracer after the generator's own start-up and knows its pid.
package main
