package event

import "net/netip"

// FS is the payload of the file-system changes: symlink, symlinkat, link
// and linkat. Paths are named as the caller reached them, the way Falco's
// rules match them: the string passed, made absolute against the cwd or the
// dirfd (resolved in the kernel), ".." folded, symlinks not followed.
type FS struct {
	// Path1 is the first path: a symlink's target (kept as passed, since
	// it is the link's content, not a lookup), or link's oldpath. Path2 is
	// the second: symlink's linkpath, link's newpath.
	Path1, Path2 []byte
	// Raw1 and Raw2 are the two paths exactly as the caller passed them.
	Raw1, Raw2 []byte
	// FD1 and FD2 are the dirfds of the two paths (AT_FDCWD = -100).
	FD1, FD2 int32
	// Flags are linkat's AT_* flags.
	Flags uint32
	// Mode is the mode argument of the syscalls that take one.
	Mode uint32
	// Truncated1 and Truncated2 are set when a bound cut a path.
	Truncated1, Truncated2 bool
}

// keep makes f an empty payload that reuses the buffers of old.
func (f *FS) keep(old FS) {
	f.Path1, f.Path2, f.Raw1, f.Raw2 = old.Path1[:0], old.Path2[:0], old.Raw1[:0], old.Raw2[:0]
}

// Sock is what a socket descriptor is as the kernel holds it. Family is 0
// when the descriptor is not a socket.
type Sock struct {
	// Family is the address family: AF_INET, AF_INET6, AF_UNIX, AF_PACKET, ...
	Family uint16
	// SockType is SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, ...
	SockType uint16
	// Proto is the protocol number (IPPROTO_TCP, IPPROTO_UDP).
	Proto uint8
	// Local and Remote are an IP socket's two ends; an end that is not
	// bound or connected is the zero address with port 0.
	Local, Remote netip.AddrPort
}

// SocketCall is the payload of socket, accept, accept4, listen and bind:
// socket's arguments as passed, and the socket as the kernel holds it after
// the call (the new one of socket and accept, on success).
type SocketCall struct {
	Domain, Type, Proto uint32
	// FD is the socket listen, bind and accept act on (-1 for socket);
	// Flags are accept4's.
	FD    int32
	Flags uint32
	Sock  Sock
}

// Dup is the payload of dup, dup2 and dup3: what the duplicated descriptor
// is at that moment, read in the kernel.
type Dup struct {
	// OldFD is the descriptor duplicated; NewFD the one dup2 and dup3 were
	// asked for (-1 for dup). The new descriptor is the result.
	OldFD, NewFD int32
	// Flags are dup3's (O_CLOEXEC).
	Flags uint32
	// FileType is the S_IFMT bits of the file, 0 when it was not open.
	FileType uint32
	// Name is the file's path (empty for sockets).
	Name          []byte
	NameTruncated bool
	Sock          Sock
}

// Address families beyond the ones connect reports.
const AFPacket = 17

// SocketKeyOther is the socket kind's filter key (bpf/events.h, enum
// socket_filter_key; the sensor checks it) for a domain at or above it.
const SocketKeyOther = 63

// Bits of the fs kind's filter key (bpf/events.h, enum fs_filter_key; the
// sensor checks them): the bits of the mode argument Falco's rules search.
const (
	FSKeySUID = 1
	FSKeySGID = 2
	FSKeyExec = 4
)

// FSKey is the filter key of a file-system change, as bpf/kinds/fs.h
// computes it from the mode argument (0 for the syscalls without one).
func FSKey(e *Event) int {
	k, m := 0, e.FS.Mode
	if m&0o4000 != 0 {
		k |= FSKeySUID
	}
	if m&0o2000 != 0 {
		k |= FSKeySGID
	}
	if m&0o111 != 0 {
		k |= FSKeyExec
	}
	return k
}

// Keys of the dup kind's filter (bpf/events.h, enum dup_filter_key; the
// sensor checks them): a duplicated socket's family is its own key, any
// other open file is DupKeyFile.
const (
	DupKeyFile  = 62
	DupKeyOther = 63
)

// DupKey is the filter key of a dup, as bpf/kinds/dup.h computes it: the
// family of the socket duplicated, DupKeyFile for another open file, 0
// when the fd was not open.
func DupKey(e *Event) int {
	switch f := int(e.Dup.Sock.Family); {
	case f >= DupKeyFile:
		return DupKeyOther
	case f != 0:
		return f
	case e.Dup.FileType != 0:
		return DupKeyFile
	}
	return 0
}

// SocketKey is the filter key of a socket-kind event, as
// bpf/kinds/socket.h computes it: socket's domain argument, or the family
// of the socket the call acted on (0 when it had none).
func SocketKey(e *Event) int {
	f := uint32(e.Socket.Sock.Family)
	if e.Type == TypeSocket {
		f = e.Socket.Domain
	}
	return int(min(f, SocketKeyOther))
}
