package rules

import (
	"encoding/hex"

	"github.com/vigil-sensor/vigil/event"
)

// sendRecvKeys returns the classes of the sendrecv kind (event.SendRecvKey)
// whose key satisfies keep.
func sendRecvKeys(keep func(key int) bool) uint64 {
	var classes uint64
	for key := range event.SendRecvKeyAny {
		if keep(key) {
			classes |= 1 << key
		}
	}
	return classes
}

// sendRecvFamilies are the family classes (the key's low bits) of the
// values of the descriptor-type fields; a send or receive is always on a
// socket, so the file types name none.
var sendRecvFamilies = map[string]map[string][]int{
	"fd.type":       {"ipv4": {event.SendRecvKeyInet}, "ipv6": {event.SendRecvKeyInet6}, "unix": {event.SendRecvKeyUnix}},
	"fd.typechar":   {"4": {event.SendRecvKeyInet}, "6": {event.SendRecvKeyInet6}, "u": {event.SendRecvKeyUnix}},
	"fd.sockfamily": {"ip": {event.SendRecvKeyInet, event.SendRecvKeyInet6}, "unix": {event.SendRecvKeyUnix}},
}

// sendRecvL4 is the transport class of each value of fd.l4proto.
var sendRecvL4 = map[string]int{"tcp": event.SendRecvKeyTCP, "udp": event.SendRecvKeyUDP, "raw": event.SendRecvKeyL4Other}

// isIPKey reports whether a sendrecv key is an IP socket's.
func isIPKey(key int) bool {
	f := key & event.SendRecvKeyFamily
	return f == event.SendRecvKeyInet || f == event.SendRecvKeyInet6
}

// sendRecvArgClasses bounds the sendrecv kind's classes by a positive
// check of the socket's type (fd.typechar = 4) or of its transport
// (fd.l4proto = udp, or != tcp: every key but the IP ones with that
// transport, which also admits the sockets fd.l4proto is empty for).
func sendRecvArgClasses(field, op string, vals []string) (uint64, bool) {
	if fams, ok := sendRecvFamilies[field]; ok {
		if op != "=" && op != "==" && op != "in" {
			return 0, false
		}
		want := map[int]bool{}
		for _, v := range vals {
			for _, f := range fams[v] {
				want[f] = true
			}
		}
		return sendRecvKeys(func(key int) bool { return want[key&event.SendRecvKeyFamily] }), true
	}
	if field != "fd.l4proto" {
		return 0, false
	}
	switch op {
	case "=", "==", "in":
		want := map[int]bool{}
		for _, v := range vals {
			if l4, ok := sendRecvL4[v]; ok {
				want[l4] = true
			}
		}
		return sendRecvKeys(func(key int) bool { return isIPKey(key) && want[key&event.SendRecvKeyL4] }), true
	case "!=":
		l4, ok := sendRecvL4[vals[0]]
		if len(vals) != 1 || !ok {
			return 0, false
		}
		return sendRecvKeys(func(key int) bool { return !isIPKey(key) || key&event.SendRecvKeyL4 != l4 }), true
	}
	return 0, false
}

// sendRecvKind is the filter kind of sends and receives: classes are
// event.SendRecvKey values.
func sendRecvKind() *filterKind {
	return &filterKind{
		types:   event.KindSendRecv.Types(),
		classes: ^uint64(0),
		classFields: map[string]uint64{
			"fd.connected":    sendRecvKeys(func(key int) bool { return key&event.SendRecvKeyConnected != 0 }),
			"fd.name_changed": sendRecvKeys(func(key int) bool { return key&event.SendRecvKeyNameChanged != 0 }),
		},
		argClasses: sendRecvArgClasses,
	}
}

// bufferNeedle is the bytes a positive "contains" or "bcontains" check of
// evt.buffer needs in the data, which the kernel searches for; false for
// any other check, or a needle longer than the kernel compares (which
// bounds nothing).
func bufferNeedle(op string, vals []string, neg bool) (string, bool) {
	if neg || len(vals) != 1 || vals[0] == "" {
		return "", false
	}
	needle := vals[0]
	switch op {
	case "contains":
	case "bcontains":
		b, err := hex.DecodeString(needle)
		if err != nil {
			return "", false
		}
		needle = string(b)
	default:
		return "", false
	}
	return needle, len(needle) <= event.MaxBufferNeedle
}
