// Command loadgen runs one benchmark loop (open, exec or connect) flat out
// or at a fixed rate and prints its result as one JSON object on stdout:
// operations issued, nanoseconds per operation, its pid.
//
//	go run ./bench/cmd/loadgen -loop open -duration 5s
//	go run ./bench/cmd/loadgen -loop connect -rate 50000
//	go run ./bench/cmd/loadgen -loop open -rate 200000 -workers 2
//	go run ./bench/cmd/loadgen -loop exec -exec /bin/busybox true
//
// With -wait-stdin it prepares the loop, logs "loadgen prepared" on stderr
// and waits for a line (or EOF) on stdin before measuring, so a harness can
// attach a tracer after the generator's own start-up and knows its pid.
package main
