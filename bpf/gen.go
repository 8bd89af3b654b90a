package bpf

// Flags are pinned (-cc, -strip, -cflags override the BPF2GO_* environment)
// so that `go generate` is reproducible; -mcpu=v3 needs kernel 5.1, below
// vigil's 5.8 floor.
//go:generate go tool bpf2go -cc clang -strip llvm-strip -cflags "-O2 -g -mcpu=v3 -Wall -Werror -I./include" -go-package bpf -output-stem vigil -target bpfel -type rec_hdr -type exec_rec -type fork_rec -type exit_rec -type open_rec -type connect_rec -type priv_rec -type priv_filter_key -type bpf_obj_type -type fs_rec -type socket_rec -type dup_rec -type sock_info -type socket_filter_key -type dup_filter_key -type sendrecv_rec -type sendrecv_rec_flags -type sendrecv_filter_key -type fs_filter_key -type iouring_rec -type iouring_rec_flags -type iouring_filter_key -type kind_counters -type event_kind -type rec_type -type syscall_id -type syscall_hook -type syscall_trace -type str_bounds -type exec_rec_flags -type open_rec_flags -type fs_rec_flags -type dup_rec_flags -type filter_bounds -type open_filter_key -type kind_filter -type filter_prefix_key -type filter_name_key -type filter_ident_key -type filter_result Vigil vigil.bpf.c
