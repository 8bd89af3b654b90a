package event

import (
	"bytes"
	"net/netip"
)

// fdNum is the descriptor an event is about: the result of a successful open
// (-1 for a failed one, as Falco reports it) or the socket of a connect.
func fdNum(e *Event) (int64, bool) {
	switch e.Type.Kind() {
	case KindOpen:
		if e.Res < 0 {
			return -1, true
		}
		return e.Res, true
	case KindConnect:
		return int64(e.Connect.FD), true
	case KindSocket, KindDup:
		return e.Res, true
	case KindFS:
		return int64(e.FS.FD1), e.Type == TypeFchmod
	case KindSendRecv:
		return int64(e.SendRecv.FD), true
	}
	return 0, false
}

// sockView is the socket an event is about: a connect's, a new socket's or
// the one a dup duplicated; ok is false when there is none.
func sockView(e *Event) (s Sock, ok bool) {
	switch e.Type.Kind() {
	case KindConnect:
		c := &e.Connect
		return Sock{Family: c.Family, SockType: c.SockType, Proto: c.Proto, Local: c.Local, Remote: c.Remote}, true
	case KindSocket:
		return e.Socket.Sock, e.Socket.Sock.Family != 0
	case KindDup:
		return e.Dup.Sock, e.Dup.Sock.Family != 0
	case KindSendRecv:
		return e.SendRecv.Sock, e.SendRecv.Sock.Family != 0
	}
	return Sock{}, false
}

// fileTypeName is Falco's fd.type and fd.typechar of a file's S_IFMT bits.
func fileTypeName(mode uint32) (name string, char string) {
	switch mode & sIFMT {
	case sIFDIR:
		return "directory", "d"
	case sIFIFO:
		return "pipe", "p"
	case sIFSCK:
		return "unix", "u"
	}
	return "file", "f"
}

// S_IFMT values of the opened inode's mode.
const (
	sIFMT  = 0o170000
	sIFDIR = 0o040000
	sIFIFO = 0o010000
	sIFSCK = 0o140000
)

// fdType returns Falco's fd.type and fd.typechar for the event's descriptor.
func fdType(e *Event) (name string, char string, ok bool) {
	switch e.Type.Kind() {
	case KindOpen:
		name, char = fileTypeName(e.Open.FileType)
		return name, char, true
	case KindDup:
		if e.Dup.Sock.Family == 0 && e.Dup.FileType != 0 {
			name, char = fileTypeName(e.Dup.FileType)
			return name, char, true
		}
	}
	if s, ok := sockView(e); ok {
		switch s.Family {
		case AFInet:
			return "ipv4", "4", true
		case AFInet6:
			return "ipv6", "6", true
		case AFUnix:
			return "unix", "u", true
		}
	}
	return "", "", false
}

// isInet reports whether the event is about an IPv4 or IPv6 socket.
func isInet(e *Event) bool {
	s, ok := sockView(e)
	return ok && (s.Family == AFInet || s.Family == AFInet6)
}

// sockKinds are the kinds whose events can be about a socket.
var sockKinds = []Kind{KindConnect, KindSocket, KindDup, KindSendRecv}

// end selects one end of a socket: by role (client, server) or by side
// (local, remote).
type end uint8

const (
	endClient end = iota
	endServer
	endLocal
	endRemote
)

// local reports whether x is e's local end. The client is the local end
// of a connect, and of a dup'ed or new socket (the kernel does not say
// which end connected); on the server side (accept, listen, bind) it is
// the remote one.
func (x end) local(e *Event) bool {
	switch x {
	case endLocal:
		return true
	case endRemote:
		return false
	}
	return (x == endClient) != serverSide(e)
}

// serverSide reports whether e is about the server's end of connections.
// A send or receive on an unconnected socket is placed by its direction,
// as Falco does: the receiver is the server, the sender the client. A
// connected socket is the server's end when accept made it.
func serverSide(e *Event) bool {
	switch e.Type {
	case TypeAccept, TypeAccept4, TypeListen, TypeBind:
		return true
	case TypeSendto, TypeSendmsg, TypeRecvfrom, TypeRecvmsg:
		s := &e.SendRecv
		if !s.Connected {
			return isReceive(e.Type)
		}
		return s.Accepted
	}
	return false
}

// endpoint is an IP field reading end x of a socket.
func endpoint(name string, typ FieldType, desc string, x end) Field {
	return only(Field{Name: name, Type: typ, Desc: desc, IP: func(e *Event, _ Arg) (netip.Addr, bool) {
		return endIP(e, x.local(e))
	}}, sockKinds...)
}

func endIP(e *Event, local bool) (netip.Addr, bool) {
	s, ok := sockView(e)
	if !ok || (s.Family != AFInet && s.Family != AFInet6) {
		return netip.Addr{}, false
	}
	ap := s.Remote
	if local {
		ap = s.Local
	}
	return ap.Addr().Unmap(), ap.Addr().IsValid()
}

func port(name, desc string, x end) Field {
	return only(num(name, FieldPort, desc, func(e *Event) (int64, bool) { return endPort(e, x.local(e)) }), sockKinds...)
}

func endPort(e *Event, local bool) (int64, bool) {
	s, ok := sockView(e)
	if !ok || (s.Family != AFInet && s.Family != AFInet6) {
		return 0, false
	}
	if local {
		return int64(s.Local.Port()), s.Local.IsValid()
	}
	return int64(s.Remote.Port()), true
}

// connectionEnds is the Multi of the "either end" fields: value 0 is the
// client (local) end, value 1 the server (remote) end.
func connectionEnds() *Multi {
	return &Multi{Of: "end of the connection", First: 0, Max: 2, NotEqualAll: true, Count: func(e *Event) int {
		if isInet(e) {
			return 2
		}
		return 0
	}}
}

// eitherEnd is the end an "either end" field reads for a: the client for
// the compiler's Arg{Set: true, Index: 0}, the server for index 1 and for
// output (Arg{}).
func eitherEnd(a Arg) end {
	if a.Set && a.Index == 0 {
		return endClient
	}
	return endServer
}

// eitherIP is fd.ip and fd.net, Falco's filter-only fields that match
// either end of a connection. They repeat fd.cip and fd.sip, so event
// records leave them out (Alias).
func eitherIP(name string, typ FieldType, desc string, ends *Multi) Field {
	return alias(only(Field{Name: name, Type: typ, Desc: desc, Multi: ends,
		IP: func(e *Event, a Arg) (netip.Addr, bool) { return endIP(e, eitherEnd(a).local(e)) }}, sockKinds...))
}

// eitherPort is fd.port and fd.proto: Falco compares fd.proto as a port.
func eitherPort(name, desc string, ends *Multi) Field {
	return alias(only(Field{Name: name, Type: FieldPort, Desc: desc, Multi: ends,
		Num: func(e *Event, a Arg) (int64, bool) { return endPort(e, eitherEnd(a).local(e)) }}, sockKinds...))
}

// openName returns an open's file as the caller named it (fd.name).
func openName(e *Event) ([]byte, bool) {
	return e.Open.Name, e.Type.Kind() == KindOpen && len(e.Open.Name) > 0
}

// openRealPath returns the file an open reached, as the kernel resolved it
// (fd.realpath).
func openRealPath(e *Event) ([]byte, bool) {
	return e.Open.RealPath, e.Type.Kind() == KindOpen && len(e.Open.RealPath) > 0
}

// pathDir is the directory part of an absolute path ("/" for a file in
// the root).
func pathDir(name []byte) string {
	i := bytes.LastIndexByte(name, '/')
	if i <= 0 {
		return "/"
	}
	return bytesString(name[:i])
}

// pathBase is the part of a path after its last slash.
func pathBase(name []byte) string { return bytesString(name[bytes.LastIndexByte(name, '/')+1:]) }

// dirField and baseField are the directory and file name parts of the path
// that of gives.
func dirField(name, desc string, of func(*Event) ([]byte, bool)) Field {
	return only(str(name, desc, func(e *Event) (string, bool) {
		p, ok := of(e)
		if !ok {
			return "", false
		}
		return pathDir(p), true
	}), KindOpen)
}

func baseField(name, desc string, of func(*Event) ([]byte, bool)) Field {
	return only(str(name, desc, func(e *Event) (string, bool) {
		p, ok := of(e)
		if !ok {
			return "", false
		}
		return pathBase(p), true
	}), KindOpen)
}

func fdFields() []Field {
	ends := connectionEnds()
	return []Field{
		only(num("fd.num", FieldInt, "File descriptor number (-1 for a failed open).", fdNum), KindOpen, KindConnect, KindSocket, KindDup, KindSendRecv),
		only(str("fd.name", "File as the caller named it (the path passed, made absolute against the cwd or dirfd, "+
			"'.' and '..' folded, symlinks not followed: see fd.realpath), the unix socket path, or "+
			"client:port->server:port for IP sockets.",
			func(e *Event) (string, bool) {
				switch {
				case e.Type.Kind() == KindOpen:
					p, ok := openName(e)
					return bytesString(p), ok
				case e.Type.Kind() == KindDup && len(e.Dup.Name) > 0:
					return bytesString(e.Dup.Name), true
				case isInet(e):
					if !e.derived.tupleOK {
						// client->server, as Falco shows a connection.
						s, _ := sockView(e)
						client, server := s.Local, s.Remote
						if serverSide(e) {
							client, server = server, client
						}
						e.derived.tuple = AppendTuple(e.derived.tuple[:0], client, server)
						e.derived.tupleOK = true
					}
					return bytesString(e.derived.tuple), true
				case e.Type == TypeConnect && e.Connect.Family == AFUnix:
					return bytesString(e.Connect.UnixPath), len(e.Connect.UnixPath) > 0
				}
				return "", false
			}), KindOpen, KindConnect, KindDup, KindSendRecv),
		only(boolean("fd.name_truncated", "True when fd.name, fd.realpath or fd.nameraw was longer than the sensor's bound "+
			"and was cut: a path the kernel walked keeps its end, a path as passed its start (vigil field).",
			func(e *Event) (bool, bool) {
				o := &e.Open
				return o.NameTruncated || o.RealPathTruncated || o.RawTruncated, e.Type.Kind() == KindOpen
			}), KindOpen),
		only(str("fd.nameraw", "File path exactly as the process passed it, before resolution.",
			func(e *Event) (string, bool) { return bytesString(e.Open.Raw), e.Type.Kind() == KindOpen }), KindOpen),
		dirField("fd.directory", "Directory part of fd.name for files.", openName),
		baseField("fd.filename", "File name part of fd.name for files.", openName),
		only(str("fd.realpath", "File the kernel opened: its absolute path walked from the opened file, symlinks "+
			"followed, which the caller cannot choose (fd.name is the caller's name for it); empty for a failed "+
			"open (vigil field).",
			func(e *Event) (string, bool) { p, ok := openRealPath(e); return bytesString(p), ok }), KindOpen),
		only(str("fd.identity", "File the kernel opened, named by identity: when it is (same device and inode) a file "+
			"the loaded rules compare fd.identity with, that file's path, whatever hard link or bind mount reached it; "+
			"else fd.realpath. The rules' files are stat'ed at load and every few seconds (vigil field).",
			openIdentity), KindOpen),
		only(num("fd.dev", FieldInt, "Device number of the file system holding the opened file, encoded as stat's "+
			"st_dev ((minor & 0xff) | major << 8 | (minor & ~0xff) << 12); 0 for a failed open.",
			func(e *Event) (int64, bool) { return int64(DevEncoded(e.Open.Dev)), e.Type.Kind() == KindOpen }), KindOpen),
		only(num("fd.dev.major", FieldInt, "Major device number of the file system holding the opened file.",
			func(e *Event) (int64, bool) { return int64(DevMajor(e.Open.Dev)), e.Type.Kind() == KindOpen }), KindOpen),
		only(num("fd.dev.minor", FieldInt, "Minor device number of the file system holding the opened file.",
			func(e *Event) (int64, bool) { return int64(DevMinor(e.Open.Dev)), e.Type.Kind() == KindOpen }), KindOpen),
		only(num("fd.ino", FieldInt, "Inode number of the opened file; 0 for a failed open.",
			func(e *Event) (int64, bool) { return int64(e.Open.Ino), e.Type.Kind() == KindOpen }), KindOpen),
		only(num("fd.nlink", FieldUint, "Link count of the opened file: more than 1 for a regular file that has other "+
			"names (hard links); 0 for a failed open (vigil field).",
			func(e *Event) (int64, bool) { return int64(e.Open.Nlink), e.Type.Kind() == KindOpen }), KindOpen),
		dirField("fd.realdirectory", "Directory part of fd.realpath (vigil field).", openRealPath),
		baseField("fd.realfilename", "File name part of fd.realpath (vigil field).", openRealPath),
		only(str("fd.type", "Descriptor type: file, directory, pipe, ipv4, ipv6, unix.",
			func(e *Event) (string, bool) { name, _, ok := fdType(e); return name, ok }), KindOpen, KindConnect, KindSocket, KindDup, KindSendRecv),
		only(str("fd.typechar", "Descriptor type as one character: f, d, p, 4, 6, u.",
			func(e *Event) (string, bool) { _, c, ok := fdType(e); return c, ok }), KindOpen, KindConnect, KindSocket, KindDup, KindSendRecv),
		only(str("fd.sockfamily", "Socket family: ip or unix.",
			func(e *Event) (string, bool) {
				s, ok := sockView(e)
				switch {
				case !ok:
				case s.Family == AFInet || s.Family == AFInet6:
					return "ip", true
				case s.Family == AFUnix:
					return "unix", true
				}
				return "", false
			}), sockKinds...),
		only(str("fd.l4proto", "Transport protocol of an IP socket: tcp, udp, raw.",
			func(e *Event) (string, bool) {
				s, ok := sockView(e)
				if !ok || (s.Family != AFInet && s.Family != AFInet6) {
					return "", false
				}
				switch s.Proto {
				case ProtoTCP:
					return "tcp", true
				case ProtoUDP:
					return "udp", true
				}
				return "raw", true
			}), sockKinds...),
		boolean("fd.connected", "True when a connect succeeded; for a send or receive, when the socket had a peer of its own (connected UDP, established TCP).",
			func(e *Event) (bool, bool) {
				if e.Type.Kind() == KindSendRecv {
					return e.SendRecv.Connected, true
				}
				return e.Res == 0, e.Type == TypeConnect
			}),
		only(boolean("fd.name_changed", "True when a send or receive on an unconnected socket named another peer than the socket's previous one (or its first).",
			func(e *Event) (bool, bool) { return e.SendRecv.NameChanged, e.Type.Kind() == KindSendRecv }), KindSendRecv),
		endpoint("fd.cip", FieldIP, "Client IP address (the local end of a connect, the remote end of an accept).", endClient),
		endpoint("fd.sip", FieldIP, "Server IP address (the remote end of a connect, the local end of an accept, listen or bind).", endServer),
		alias(endpoint("fd.lip", FieldIP, "Local IP address.", endLocal)),
		alias(endpoint("fd.rip", FieldIP, "Remote IP address.", endRemote)),
		alias(endpoint("fd.cnet", FieldIPNet, "Client IP address, compared with networks (fd.cnet in (\"10.0.0.0/8\")).", endClient)),
		alias(endpoint("fd.snet", FieldIPNet, "Server IP address, compared with networks.", endServer)),
		alias(endpoint("fd.lnet", FieldIPNet, "Local IP address, compared with networks.", endLocal)),
		alias(endpoint("fd.rnet", FieldIPNet, "Remote IP address, compared with networks.", endRemote)),
		eitherIP("fd.ip", FieldIP, "IP address of either end: a condition holds if it holds for the client or the server "+
			"address (!= only if it holds for both); output shows the server address.", ends),
		eitherIP("fd.net", FieldIPNet, "IP address of either end, compared with networks (fd.net != \"127.0.0.0/8\": "+
			"neither end is loopback); output shows the server address.", ends),
		eitherPort("fd.port", "Port of either end: a condition holds if it holds for the client or the server port "+
			"(!= only if it holds for both); output shows the server port.", ends),
		eitherPort("fd.proto", "Port of either end, as fd.port (Falco compares fd.proto as a port).", ends),
		port("fd.cport", "Client port.", endClient),
		port("fd.sport", "Server port.", endServer),
		alias(port("fd.lport", "Local port.", endLocal)),
		alias(port("fd.rport", "Remote port.", endRemote)),
	}
}
