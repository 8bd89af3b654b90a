package floor

// Built against the sensor's vendored vmlinux.h and libbpf headers
// (bpf/include), with every flag pinned so the output is reproducible.
//go:generate go tool bpf2go -cc clang -strip llvm-strip -cflags "-O2 -g -mcpu=v3 -Wall -Werror -I../../bpf/include" -go-package floor -output-stem floor -target bpfel -type record -type counter -type hook floor floor.bpf.c
