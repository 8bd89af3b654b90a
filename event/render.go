package event

import (
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bytesString views b as a string without copying. The result aliases b and
// is valid only while b is not written: the event's lifetime (see doc.go).
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// openFlagNames lists open(2) flags in rendering order after the access
// mode. O_SYNC and O_TMPFILE include other bits and come before them.
var openFlagNames = [...]struct {
	bit  uint32
	name string
}{
	{unix.O_TMPFILE, "O_TMPFILE"},
	{unix.O_SYNC, "O_SYNC"},
	{unix.O_CREAT, "O_CREAT"},
	{unix.O_EXCL, "O_EXCL"},
	{unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"},
	{unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DSYNC, "O_DSYNC"},
	{unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"},
	{0o100000, "O_LARGEFILE"}, // x/sys defines O_LARGEFILE as 0 on 64-bit; the kernel ABI bit is this,
	{unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_NOATIME, "O_NOATIME"},
	{unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_PATH, "O_PATH"},
}

// AppendOpenFlags renders open(2) flags as Falco does ("O_RDONLY|O_CLOEXEC"):
// the access mode first, then each set flag; unknown bits in hex.
func AppendOpenFlags(b []byte, flags uint32) []byte {
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		if flags&unix.O_PATH == 0 {
			b = append(b, "O_RDONLY"...)
		}
	case unix.O_WRONLY:
		b = append(b, "O_WRONLY"...)
	case unix.O_RDWR:
		b = append(b, "O_RDWR"...)
	default:
		b = append(b, "O_ACCMODE"...)
	}
	rest := flags &^ unix.O_ACCMODE
	for _, f := range openFlagNames {
		if rest&f.bit == f.bit {
			if len(b) > 0 {
				b = append(b, '|')
			}
			b = append(b, f.name...)
			rest &^= f.bit
		}
	}
	if rest != 0 {
		if len(b) > 0 {
			b = append(b, '|')
		}
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, uint64(rest), 16)
	}
	return b
}

// appendExecFlags renders the executable's flags as Falco names them, in
// its order; EXE_DELETED is vigil's own.
func appendExecFlags(b []byte, p *Process) []byte {
	start := len(b)
	for _, f := range [...]struct {
		set  bool
		name string
	}{
		{p.ExeWritable, "EXE_WRITABLE"}, {p.ExeUpperLayer, "EXE_UPPER_LAYER"}, {p.ExeFromMemfd, "EXE_FROM_MEMFD"},
		{p.ExeLowerLayer, "EXE_LOWER_LAYER"}, {p.ExeDeleted, "EXE_DELETED"},
	} {
		if !f.set {
			continue
		}
		if len(b) > start {
			b = append(b, '|')
		}
		b = append(b, f.name...)
	}
	if len(b) == start {
		b = append(b, '0')
	}
	return b
}

// ErrnoName returns the symbolic name of a negative syscall result, as
// Falco renders evt.res ("ENOENT"), or "SUCCESS" for res >= 0.
func ErrnoName(res int64) string {
	if res >= 0 {
		return "SUCCESS"
	}
	if name := unix.ErrnoName(syscall.Errno(-res)); name != "" {
		return name
	}
	return "E" + strconv.FormatInt(-res, 10)
}

// AppendTuple renders a connection as Falco's fd.name does for sockets:
// "client:port->server:port" (IPv6 addresses bracketed by AddrPort).
func AppendTuple(b []byte, local, remote netip.AddrPort) []byte {
	b = local.AppendTo(b)
	b = append(b, "->"...)
	return remote.AppendTo(b)
}
