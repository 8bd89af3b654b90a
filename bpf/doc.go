// Package bpf holds vigil's kernel programs and their Go bindings.
//
// vigil.bpf.c is the entry of the one object (settings, maps); the programs
// are in headers it includes: shared helpers under lib/, one header per
// event kind under kinds/ (each beside its decoder in sensor/decode.go),
// and the syscall programs generated from the rows of syscall_table.h. It
// is compiled by bpf2go into the committed vigil_bpfel.o and vigil_bpfel.go,
// so building vigil needs no clang. The record layouts and the kernel's
// bounds live once, in events.h, and reach Go as the generated Vigil*
// types. The headers under include/ are vendored (see update-headers.sh) so
// that regenerating gives the same bytes on any machine with the same clang.
package bpf
