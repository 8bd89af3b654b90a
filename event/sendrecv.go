package event

import "slices"

// SendRecv is the payload of sendto, sendmsg, recvfrom and recvmsg: the
// socket as the kernel held it during the call. The byte count is the
// result (Event.Res); the payload itself is never read.
type SendRecv struct {
	// FD is the socket's descriptor; Flags the MSG_* flags as passed.
	FD    int32
	Flags uint32
	// Sock is the socket. For an unconnected IP socket, Remote is the
	// address the call named (sendto's destination, the source a receive
	// returned) when PeerFromCall is set, and unspecified otherwise.
	Sock Sock
	// Connected: the socket had a peer of its own (Falco's fd.connected).
	Connected bool
	// PeerFromCall: Sock.Remote came from the call's address argument.
	PeerFromCall bool
	// NameChanged: that address differs from the last one this socket
	// sent to or received from, or is its first (Falco's fd.name_changed).
	NameChanged bool
	// Accepted: a connected socket that accept returned, so its local
	// end is the server's (fd.sip); on any other connected socket the
	// local end is the client's.
	Accepted bool
	// Needles holds, one after the other, the loaded rules' needles
	// (evt.buffer contains X, up to 4 of at most 8 bytes) that the kernel
	// found in the first 256 bytes of the data, and NeedlesLen their
	// total length: evt.buffer. The data itself never leaves the kernel.
	Needles    [32]byte
	NeedlesLen uint8
}

// MaxBufferNeedle is the longest needle of evt.buffer the kernel
// searches for.
const MaxBufferNeedle = 8

// sendRecvFields are the fields only sends and receives have.
func sendRecvFields() []Field {
	return []Field{
		only(str("evt.buffer", "The rules' needles (evt.buffer contains or bcontains, up to 8 bytes each) found in the first 256 "+
			"bytes of the data sent or received: the kernel searches the data, which never leaves it; any other check of it is false.",
			func(e *Event) (string, bool) {
				s := &e.SendRecv
				return bytesString(s.Needles[:min(int(s.NeedlesLen), len(s.Needles))]), e.Type.Kind() == KindSendRecv
			}), KindSendRecv),
	}
}

// Bits of the sendrecv kind's filter key (bpf/events.h, enum
// sendrecv_filter_key; the sensor checks them): the socket's class in the
// low three bits (unix, or an IP socket, v4 or v6 alike, by transport),
// then whether the socket is connected, whether the call changed its peer
// and whether the server's port is one of the filter's Ports.
const (
	SendRecvKeyUnix        = 1
	SendRecvKeyTCP         = 2
	SendRecvKeyUDP         = 3
	SendRecvKeyIPOther     = 4
	SendRecvKeyClass       = 7
	SendRecvKeyConnected   = 8
	SendRecvKeyNameChanged = 16
	SendRecvKeyPort        = 32
	// SendRecvKeyAny is no event's key (class 7 is no socket's): the
	// kernel asks with it before it reads the socket.
	SendRecvKeyAny = 63
)

// SendRecvKey is the filter key of a send or receive, as
// bpf/kinds/sendrecv.h computes it from the socket, with ports the
// filter's server ports.
func SendRecvKey(e *Event, ports []uint16) int {
	s := &e.SendRecv
	k := 0
	switch s.Sock.Family {
	case AFInet, AFInet6:
		switch s.Sock.Proto {
		case ProtoTCP:
			k = SendRecvKeyTCP
		case ProtoUDP:
			k = SendRecvKeyUDP
		default:
			k = SendRecvKeyIPOther
		}
		if p, ok := endPort(e, endServer.local(e)); ok && slices.Contains(ports, uint16(p)) {
			k |= SendRecvKeyPort
		}
	case AFUnix:
		k = SendRecvKeyUnix
	}
	if s.Connected {
		k |= SendRecvKeyConnected
	}
	if s.NameChanged {
		k |= SendRecvKeyNameChanged
	}
	return k
}

// isReceive reports whether t receives data (recvfrom, recvmsg).
func isReceive(t Type) bool { return t == TypeRecvfrom || t == TypeRecvmsg }
