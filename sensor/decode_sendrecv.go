package sensor

import (
	"unsafe"

	"github.com/vigil-sensor/vigil/bpf"
	"github.com/vigil-sensor/vigil/event"
)

// The send/recv record (bpf/events.h, struct sendrecv_rec) and its flags.
const (
	recSendRecv = uint16(bpf.VigilRecTypeVIGIL_REC_SENDRECV)

	srConnected   = uint16(bpf.VigilSendrecvRecFlagsVIGIL_SR_CONNECTED)
	srPeerArg     = uint16(bpf.VigilSendrecvRecFlagsVIGIL_SR_PEER_ARG)
	srNameChanged = uint16(bpf.VigilSendrecvRecFlagsVIGIL_SR_NAME_CHANGED)
	srAccepted    = uint16(bpf.VigilSendrecvRecFlagsVIGIL_SR_ACCEPTED)

	sendRecvSize = int(unsafe.Sizeof(bpf.VigilSendrecvRec{}))
)

// decodeSendRecv decodes a sendto, sendmsg, recvfrom or recvmsg: the
// socket's ends as the kernel held them, with the peer the call named for
// an unconnected socket.
func decodeSendRecv(raw []byte, r *Record) DecodeReason {
	if len(raw) < sendRecvSize {
		return DecodeShort
	}
	x := view[bpf.VigilSendrecvRec](raw)
	e := &r.Event
	e.Type = syscallType(x.Syscall, event.KindSendRecv, event.TypeSendto)
	e.Res = x.Ret
	e.SendRecv = event.SendRecv{
		FD:           x.Fd,
		Flags:        x.Flags,
		Sock:         sockOf(&x.Sock),
		Connected:    x.Rflags&srConnected != 0,
		PeerFromCall: x.Rflags&srPeerArg != 0,
		NameChanged:  x.Rflags&srNameChanged != 0,
		Accepted:     x.Rflags&srAccepted != 0,
	}
	s := &e.SendRecv
	for i := range x.Needle {
		if x.Needles&(1<<i) == 0 {
			continue
		}
		n := min(int(x.NeedleLen[i]), 8, len(s.Needles)-int(s.NeedlesLen))
		for j := range n {
			s.Needles[int(s.NeedlesLen)+j] = byte(x.Needle[i] >> (8 * j))
		}
		s.NeedlesLen += uint8(n)
	}
	return 0
}
