// Package bpf holds vigil's kernel programs and their Go bindings.
//
// vigil.bpf.c is compiled by bpf2go into the committed vigil_bpfel.o and
// vigil_bpfel.go, so building vigil needs no clang. The record layouts live
// once, in events.h, and reach Go as the generated Vigil* types. The headers
// under include/ are vendored (see update-headers.sh) so that regenerating
// gives the same bytes on any machine with the same clang.
package bpf
